"""The converted-model cache survives damage: recorded sizes and hashes, rebuilds, one-line errors, two writers.

The slow tests copy the real converted SmolLM2 cache into a temporary ATTNWIDGET_CACHE, damage the copy and load
it through `load_gguf` (not `load_model`, which reuses models it loaded before). Each rebuild is a real GGUF
conversion (about 20 s); a wrapper only counts calls to the converter or damages what it wrote.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import SafetensorError, safe_open

from attnwidget import ModelLoadError, load_model, models
from tests.tiny_models import tiny_model

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = "model.safetensors"
# The first and the last tensor of the file (the tied embedding is stored once, as lm_head): the second lies in
# the half that truncation removes.
TENSORS = ["lm_head.weight", "model.norm.weight"]


def garble_header(file: Path) -> None:
    """Overwrite bytes inside the safetensors JSON header with garbage, keeping the file's size."""
    with file.open("r+b") as stream:
        stream.seek(16)
        stream.write(b"\xff" * 64)


def truncate_to_half(file: Path) -> None:
    with file.open("r+b") as stream:
        stream.truncate(file.stat().st_size // 2)


def rerecord(cache: Path) -> None:
    """Record a cache's current files as if they had been written so: damage the record cannot see."""
    key_file = cache / models.CACHE_KEY_FILE
    key = json.loads(key_file.read_text())
    key["files"] = models.record_files(cache)
    key_file.write_text(json.dumps(key))


@pytest.fixture(scope="module")
def source() -> Path:
    return models.bundled_model_path("smollm2-135m")


@pytest.fixture(scope="module")
def healthy_cache(source: Path) -> Path:
    """The user's converted SmolLM2 cache (built by the first load if needed), never modified here."""
    load_model("smollm2-135m")
    cache = models.gguf_cache_dir(source)
    assert models.cache_problem(source, cache) is None
    return cache


@pytest.fixture()
def cache_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: Path, healthy_cache: Path) -> Path:
    """A copy of the healthy cache, where `load_gguf` looks for it once ATTNWIDGET_CACHE points at tmp_path."""
    monkeypatch.setenv("ATTNWIDGET_CACHE", str(tmp_path))
    cache = models.gguf_cache_dir(source)
    assert cache.parent == tmp_path
    shutil.copytree(healthy_cache, cache)
    assert models.cache_problem(source, cache) is None
    return cache


def assert_rebuilt_like(cache: Path, healthy_cache: Path, source: Path, model: Any) -> None:
    """The rebuilt cache passes its own checks, records what is on disk, and holds the healthy cache's weights."""
    assert models.cache_problem(source, cache) is None
    key = models.read_cache_key(cache)
    assert key is not None and key["files"] == models.record_files(cache)
    assert key["files"][WEIGHTS]["size"] == (healthy_cache / WEIGHTS).stat().st_size
    assert [p.name for p in cache.parent.iterdir()] == [cache.name], "no staging or stale folders left behind"
    parameters = model.state_dict()  # named_parameters() would list the tied lm_head.weight only once
    with safe_open(str(healthy_cache / WEIGHTS), "pt") as good, safe_open(str(cache / WEIGHTS), "pt") as rebuilt:
        for name in TENSORS:
            expected = good.get_tensor(name)
            assert torch.equal(rebuilt.get_tensor(name), expected), name
            assert torch.equal(parameters[name].cpu(), expected), name


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "problem"),
    [(truncate_to_half, "model.safetensors has 269"), (garble_header, "model.safetensors has changed")],
    ids=["truncated", "same-size-garbage"],
)
def test_damaged_cache_is_noticed_and_rebuilt(
    damage: Callable[[Path], None],
    problem: str,
    cache_copy: Path,
    healthy_cache: Path,
    source: Path,
    conversions: list[Path],
) -> None:
    damage(cache_copy / WEIGHTS)
    assert problem in (models.cache_problem(source, cache_copy) or "")
    model, _ = models.load_gguf(source)
    assert conversions == [source]
    assert_rebuilt_like(cache_copy, healthy_cache, source, model)


@pytest.mark.slow
def test_cache_that_fails_to_load_despite_its_record_is_rebuilt_once(
    cache_copy: Path,
    healthy_cache: Path,
    source: Path,
    conversions: list[Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    garble_header(cache_copy / WEIGHTS)
    rerecord(cache_copy)
    assert models.cache_problem(source, cache_copy) is None, "the record cannot see this damage"
    with caplog.at_level(logging.WARNING, logger=models.__name__):
        model, _ = models.load_gguf(source)
    assert conversions == [source]
    assert "failed to load: Error while deserializing header" in caplog.text
    assert_rebuilt_like(cache_copy, healthy_cache, source, model)


@pytest.mark.slow
def test_cache_still_damaged_after_its_rebuild_names_the_folder_to_delete(
    cache_copy: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache that fails to load, and again once rebuilt (a disk that garbles what it is given), is reported."""
    real_convert = models.convert_gguf_to_cache
    conversions: list[Path] = []

    def damaging_convert(path: Path, cache_dir: Path, **options: Any) -> None:
        conversions.append(path)
        real_convert(path, cache_dir, **options)
        garble_header(cache_dir / WEIGHTS)
        rerecord(cache_dir)

    monkeypatch.setattr(models, "convert_gguf_to_cache", damaging_convert)
    garble_header(cache_copy / WEIGHTS)
    rerecord(cache_copy)
    with pytest.raises(ModelLoadError) as caught:
        models.load_gguf(source)
    assert conversions == [source], "rebuilt once, not more"
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"the converted model cache {cache_copy} is damaged (Error while deserializing header")
    assert message.endswith("): delete that folder and try again")
    assert isinstance(caught.value.__cause__, SafetensorError)


@pytest.mark.parametrize("damage", [truncate_to_half, garble_header], ids=["truncated", "same-size-garbage"])
def test_damaged_user_folder_fails_with_one_line(
    damage: Callable[[Path], None], tmp_path: Path, bert_tokenizer: Any
) -> None:
    folder = tmp_path / "my-model"
    tiny_model("gpt2").save_pretrained(folder)
    bert_tokenizer.save_pretrained(folder)
    damage(folder / WEIGHTS)
    with pytest.raises(ModelLoadError) as caught:
        load_model(folder)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"could not read the weights file {folder / WEIGHTS} of the model folder {folder}: ")
    assert "looks damaged (Error while deserializing header" in message
    assert "delete" not in message, "the folder is the user's own"
    assert isinstance(caught.value.__cause__, SafetensorError)


def test_record_catches_missing_resized_and_changed_files(tmp_path: Path) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB: only its first and last SAMPLE_BYTES are hashed
    (tmp_path / "big.bin").write_bytes(big)
    (tmp_path / "small.json").write_text('{"a": 1}')
    (tmp_path / models.CACHE_KEY_FILE).write_text("{}")
    recorded = models.record_files(tmp_path)
    assert sorted(recorded) == ["big.bin", "small.json"], "the key file does not record itself"
    assert models.files_problem(tmp_path, recorded) is None

    (tmp_path / "small.json").write_text('{"a": 2}')
    assert models.files_problem(tmp_path, recorded) == "small.json has changed since it was written"
    (tmp_path / "small.json").write_text('{"a": 1}')

    for offset in (0, len(big) - 1):  # either end of a big file
        changed = bytearray(big)
        changed[offset] ^= 0xFF
        (tmp_path / "big.bin").write_bytes(changed)
        assert models.files_problem(tmp_path, recorded) == "big.bin has changed since it was written"
    middle = bytearray(big)
    middle[len(big) // 2] ^= 0xFF
    (tmp_path / "big.bin").write_bytes(middle)
    assert models.files_problem(tmp_path, recorded) is None, "by design: loading must not read every byte"

    (tmp_path / "big.bin").write_bytes(big[:-1])
    assert models.files_problem(tmp_path, recorded) == f"big.bin has {len(big) - 1} bytes, {len(big)} were written"
    (tmp_path / "big.bin").unlink()
    assert models.files_problem(tmp_path, recorded) == "big.bin is missing"


def test_old_format_cache_without_a_record_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: Path
) -> None:
    """A format-1 key (no file record) is stale; a current key without a record is not trusted either."""
    monkeypatch.setenv("ATTNWIDGET_CACHE", str(tmp_path))
    cache = models.gguf_cache_dir(source)
    assert models.cache_problem(source, cache) == "it does not exist"
    cache.mkdir()
    assert models.cache_problem(source, cache) == f"its {models.CACHE_KEY_FILE} is missing or unreadable"
    key = models._gguf_cache_key(source)
    (cache / models.CACHE_KEY_FILE).write_text(json.dumps({**key, "format": 1}))
    assert models.cache_problem(source, cache) == "it was built from another file or by other versions"
    (cache / models.CACHE_KEY_FILE).write_text(json.dumps(key))
    assert models.cache_problem(source, cache) == "it records no files"


def fake_cache(folder: Path, source: Path, marker: str) -> Path:
    """A folder with one file and a current key recording it: healthy as far as `cache_problem` can tell."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"marker": marker}))
    key = {**models._gguf_cache_key(source), "files": models.record_files(folder)}
    (folder / models.CACHE_KEY_FILE).write_text(json.dumps(key))
    return folder


def test_install_keeps_a_healthy_cache_from_another_process_and_replaces_a_damaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: Path
) -> None:
    """The last step of a conversion, without converting: what a second writer does with what it finds."""
    monkeypatch.setenv("ATTNWIDGET_CACHE", str(tmp_path))
    cache = models.gguf_cache_dir(source)

    def marker() -> str:
        return str(json.loads((cache / "config.json").read_text())["marker"])

    fake_cache(cache, source, "first")
    models._install_cache(fake_cache(tmp_path / ".staging-1", source, "second"), cache, source, replace=False)
    assert marker() == "first", "a healthy cache, maybe being read by its writer, is kept"

    models._install_cache(fake_cache(tmp_path / ".staging-2", source, "third"), cache, source, replace=True)
    assert marker() == "third", "the cache that failed to load is replaced although its record looks healthy"

    (cache / "config.json").write_text(json.dumps({"marker": "garbled"}))
    models._install_cache(fake_cache(tmp_path / ".staging-3", source, "fourth"), cache, source, replace=False)
    assert marker() == "fourth", "a cache that differs from its record is replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging-1", cache.name], "old caches are deleted"


TWO_PROCESS_SCRIPT = """
import json, torch
from attnwidget.engine import models
source = models.bundled_model_path("smollm2-135m")
before = models.cache_problem(source, models.gguf_cache_dir(source))
model, tokenizer = models.load_model("smollm2-135m", device="cpu")
with torch.no_grad():
    logits = model(**tokenizer("The capital of France is", return_tensors="pt")).logits[0, -1]
print(json.dumps({"before": before, "top": int(logits.argmax()), "logits": logits[:16].tolist()}))
"""


@pytest.mark.slow
def test_two_processes_building_the_cache_at_once_both_succeed(
    tmp_path: Path, source: Path, healthy_cache: Path
) -> None:
    env = {**os.environ, "ATTNWIDGET_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-c", TWO_PROCESS_SCRIPT]
    processes = [
        subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    finished = [process.communicate(timeout=600) for process in processes]
    for process, (_, stderr) in zip(processes, finished):
        assert process.returncode == 0, stderr[-2000:]
    first, second = (json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in finished)
    assert first["before"] == second["before"] == "it does not exist", "both started before either had finished"
    assert first == second, "both processes compute the same logits"

    model, tokenizer = load_model("smollm2-135m", device="cpu")  # from the user's own cache, in this process
    with torch.no_grad():
        logits = model(**tokenizer("The capital of France is", return_tensors="pt")).logits[0, -1]
    assert int(logits.argmax()) == first["top"]
    cache = models.gguf_cache_dir(source).name  # the name does not depend on the cache root
    assert [p.name for p in tmp_path.iterdir()] == [cache], "one cache, no staging or stale folders left behind"
    assert models.cache_problem(source, tmp_path / cache) is None
