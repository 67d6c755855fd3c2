"""attnwidget: see inside small transformer language models from a notebook.

>>> import attnwidget                                         # doctest: +SKIP
>>> result = attnwidget.AttentionExtractor().extract_activations("Once upon a time")  # doctest: +SKIP
"""

from .compare import CompareWidget, compare
from .errors import AttentionUnavailableError, ModelLoadError
from .export import export_html
from .extraction import Extraction
from .extractor import AttentionExtractor
from .figures import AttentionVisualizer
from .models import BUNDLED_MODELS, DEFAULT_MODEL, load_model
from .widget import AttentionWidget, show

__all__ = [
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "AttentionExtractor",
    "AttentionUnavailableError",
    "AttentionVisualizer",
    "AttentionWidget",
    "CompareWidget",
    "Extraction",
    "ModelLoadError",
    "compare",
    "export_html",
    "load_model",
    "show",
]
__version__ = "0.1.0"
