"""Model specs: bundled aliases, folders, GGUF files with their cache, hub ids offline, unknown names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from attnwidget import AttentionExtractor, ModelLoadError, load_model, models
from tests.tiny_models import tiny_model


def test_bundled_encoder_alias_loads_and_extracts() -> None:
    extractor = AttentionExtractor("minilm-l6")
    info = extractor.get_model_info()
    assert (info["model_type"], info["num_layers"], info["num_heads"]) == ("bert", 6, 12)
    result = extractor.extract_activations("attention is all you need")
    assert result.display_tokens[0] == "[CLS]" and not result.is_causal
    assert load_model("minilm-l6") is load_model("minilm-l6"), "loaded models are reused"


def test_local_folder_spec(tmp_path: Path, bert_tokenizer: Any) -> None:
    model = tiny_model("gpt2")
    model.save_pretrained(tmp_path)
    bert_tokenizer.save_pretrained(tmp_path)
    loaded, tokenizer = load_model(tmp_path)
    assert type(loaded).__name__ == "GPT2LMHeadModel"
    result = AttentionExtractor(model=loaded, tokenizer=tokenizer).extract_activations("a folder model")
    assert result.num_layers == 2


@pytest.mark.parametrize("name", ["gpt2", "roneneldan/TinyStories-33M", "distilgpt2", "HuggingFaceTB/SmolLM2-135M"])
def test_hub_id_not_cached_fails_with_the_bundled_alternatives(name: str) -> None:
    with pytest.raises(ModelLoadError) as caught:
        load_model(name)
    message = str(caught.value)
    assert "\n" not in message
    assert name in message and "not available offline" in message
    assert '"smollm2-135m"' in message and '"minilm-l6"' in message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no/such/model/here", "unknown model 'no/such/model/here'"),
        ("./missing.gguf", "GGUF file not found"),
        ("", "model spec must be a non-empty name or path"),
    ],
)
def test_unknown_specs_fail_with_one_line(spec: str, message: str) -> None:
    with pytest.raises(ModelLoadError, match=message) as caught:
        AttentionExtractor(spec)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ModelLoadError, match=r"neither a model folder nor a \.gguf file"):
        load_model(path)
    with pytest.raises(ModelLoadError, match=r"has no config\.json"):
        load_model(tmp_path)


@pytest.mark.slow
def test_gguf_cache_hit_and_stale_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smollm2: Any, conversions: list[Path]
) -> None:
    source = models.bundled_model_path("smollm2-135m")
    user_cache = models.gguf_cache_dir(source)
    assert models.read_cache_key(user_cache) is not None, "the smollm2 fixture built the cache"

    monkeypatch.setenv("ATTNWIDGET_CACHE", str(tmp_path))
    cache = models.gguf_cache_dir(source)
    assert cache.parent == tmp_path
    shutil.copytree(user_cache, cache)

    # A matching key: loaded straight from the cache.
    model, _ = models.load_gguf(source)
    assert conversions == [] and model.config.num_hidden_layers == 30

    # A stale key (older cache format): rebuilt in place, and the result works.
    key_file = cache / models.CACHE_KEY_FILE
    key = json.loads(key_file.read_text())
    key["format"] = models.CACHE_FORMAT_VERSION - 1
    key_file.write_text(json.dumps(key))
    (cache / "leftover-from-old-format.bin").write_text("stale")
    model, tokenizer = models.load_gguf(source)
    assert conversions == [source]
    assert models.read_cache_key(cache)["format"] == models.CACHE_FORMAT_VERSION  # type: ignore[index]
    assert not (cache / "leftover-from-old-format.bin").exists()
    assert [p.name for p in tmp_path.iterdir()] == [cache.name], "no staging folders left behind"
    result = AttentionExtractor(model=model, tokenizer=tokenizer).extract_activations("The cache works")
    assert result.top_predictions(-1)[0][1] > 0
