"""Shared fixtures: tiny random-weight models (tests/tiny_models.py) and the bundled models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import transformers

from attnwidget import AttentionExtractor
from attnwidget.engine import models
from tests.tiny_models import TINY_KINDS, minilm_folder, tiny_model


@pytest.fixture(scope="session")
def bert_tokenizer() -> Any:
    """The bundled MiniLM tokenizer (vocab 30522) also serves the tiny random models."""
    return transformers.AutoTokenizer.from_pretrained(minilm_folder())


@pytest.fixture(params=TINY_KINDS)
def tiny_extractor(request: pytest.FixtureRequest, bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(
        model_name=f"tiny-{request.param}", model=tiny_model(request.param), tokenizer=bert_tokenizer
    )


@pytest.fixture(scope="session")
def long_gpt2(bert_tokenizer: Any) -> AttentionExtractor:
    """A tiny random GPT-2 with 2048 positions: long prompts (more tokens than the widget's MAP_MAX_SIZE)."""
    return AttentionExtractor(model=tiny_model("gpt2", positions=2048), tokenizer=bert_tokenizer)


@pytest.fixture(scope="session")
def smollm2() -> AttentionExtractor:
    """The bundled SmolLM2-135M (converted from GGUF into the user cache on first use)."""
    return AttentionExtractor("smollm2-135m")


@pytest.fixture()
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The GGUF files converted during a test (the real converter runs)."""
    calls: list[Path] = []
    real_convert = models.convert_gguf_to_cache

    def counting_convert(path: Path, cache_dir: Path, **options: Any) -> None:
        calls.append(path)
        real_convert(path, cache_dir, **options)

    monkeypatch.setattr(models, "convert_gguf_to_cache", counting_convert)
    return calls
