"""attnwidget: see inside small transformer language models from a notebook.

The package is in layers, each importing only the ones listed before it:

* `attnwidget.analysis`: numbers computed from attention maps (per-head scores, differences between
  prompts, rankings); plain numpy, no model;
* `attnwidget.engine`: models, the recorded forward pass and exact attention (`AttentionExtractor`,
  `Extraction`);
* `attnwidget.widgets`: the notebook widgets (`AttentionWidget`, `CompareWidget`) and their wire format;
* `attnwidget.output`: figures, the standalone HTML page and the files the command line writes;
* `attnwidget.cli`: the ``attnwidget`` command.

>>> import attnwidget                                         # doctest: +SKIP
>>> result = attnwidget.AttentionExtractor().extract_activations("Once upon a time")  # doctest: +SKIP
"""

import sys
from importlib.metadata import PackageNotFoundError, version

from .analysis import differences, scores
from .analysis.scores import top_heads
from .engine import models
from .engine.attribution import LogitAttribution
from .engine.errors import AttentionUnavailableError, ModelLoadError
from .engine.extraction import Extraction
from .engine.extractor import AttentionExtractor
from .engine.interventions import Intervention
from .engine.models import BUNDLED_MODELS, DEFAULT_MODEL, load_model
from .engine.recording import memory_budget, set_memory_budget
from .output import phrasings
from .output.export import export_html
from .output.figures import AttentionVisualizer
from .widgets import encode
from .widgets.attention import AttentionWidget, show
from .widgets.compare import CompareWidget, compare
from .widgets.interop import from_cache

# Modules that were top-level before the package was split into layers: `import attnwidget.scores` and
# `from attnwidget.scores import top_heads` keep working.
for _name, _module in {
    "scores": scores,
    "differences": differences,
    "encode": encode,
    "models": models,
    "phrasings": phrasings,
}.items():
    sys.modules.setdefault(f"{__name__}.{_name}", _module)

try:
    __version__ = version("attnwidget")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "AttentionExtractor",
    "AttentionUnavailableError",
    "AttentionVisualizer",
    "AttentionWidget",
    "CompareWidget",
    "Extraction",
    "Intervention",
    "LogitAttribution",
    "ModelLoadError",
    "compare",
    "export_html",
    "from_cache",
    "load_model",
    "memory_budget",
    "set_memory_budget",
    "show",
    "top_heads",
]
