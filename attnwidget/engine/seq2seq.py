"""Encoder-decoder models (T5, BART, Marian, ...): the encoder reads a source text, the decoder writes a
target text and, in every block, also reads the encoder's output through its cross-attention.

One run gives three kinds of attention, each an `Extraction` with the whole API of a prompt's (attention,
head scores, statistics, residual stream, MLP neurons), `stack` naming its kind:

``"encoder"``
    the encoder's self-attention over the source tokens, ``[heads, S, S]``, not causal;
``"decoder"``
    the decoder's self-attention over its own tokens, ``[heads, T, T]``, causal;
``"cross"``
    the decoder's attention over the source, ``[heads, T, S]``: row ``i`` a decoder token, column ``j`` a
    source token (a `CrossExtraction`: the decoder's residual stream and neurons, the source's tokens as keys).

The decoder's tokens are its start token, then the target's tokens (teacher forcing): row ``i`` is the
position whose output predicts target token ``i``. Without a target, the model's own greedy output is used.

Recorded as for other models (`capture`): two passes, the encoder's and the decoder's (which runs the
encoder again, unrecorded, for what it reads), each keeping its residual stream and block calls; the maps are
recomputed by running one block again. A decoder block makes two attention calls, self then cross;
`capture.LayerReplayer(call_in_block=1)` keeps the second.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..analysis.pooling import max_pool_2d
from ..analysis.scores import SCORE_NAMES, LayerScorer, ScoreAccumulator, ScoreTable
from . import capture
from .errors import AttentionUnavailableError
from .extraction import NEURON_KINDS, Extraction, check_index
from .recording import RecordedPass, Recording
from .tokens import display_tokens

KINDS = ("encoder", "decoder", "cross")
#: How many tokens the model writes when no target is given (its greedy output, up to its end token).
DEFAULT_OUTPUT_TOKENS = 32
#: The scores that mean something when the keys are another text's tokens.
CROSS_SCORE_NAMES = ("first_token", "peak", "entropy", "normalized_entropy")


def is_encoder_decoder(model: Any) -> bool:
    return bool(getattr(model.config, "is_encoder_decoder", False))


def check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    return str(kind)


class Runner(Protocol):
    """What `run` needs of an `AttentionExtractor` (named here, not imported: the extractor imports this module)."""

    model: Any
    tokenizer: Any
    model_name: str

    def _tokenize(self, prompt: Any) -> Any: ...
    def _describe(self) -> str: ...
    def get_model_info(self) -> dict[str, Any]: ...


#: The kind an encoder-decoder run shows when none is asked for (widget, figures, pages).
DEFAULT_KIND = "cross"


def part_of(result: Any, kind: str | None) -> Extraction:
    """What a view, figure or page of `result` shows: part `kind` of an `EncoderDecoderExtraction` (default
    `DEFAULT_KIND`), or `result` itself (an Extraction; `kind`, if given, must be the part it is)."""
    if isinstance(result, EncoderDecoderExtraction):
        return result.part(DEFAULT_KIND if kind is None else kind)
    if not isinstance(result, Extraction):
        raise TypeError(f"expected an Extraction or an EncoderDecoderExtraction, got {type(result).__name__}")
    if kind is not None:
        check_kind(kind)
        if result.stack is None:
            raise ValueError(
                f"kind={kind!r} is for encoder-decoder runs (T5, BART, Marian, ...); {result.model_name} has one "
                "kind of attention"
            )
        if kind != result.stack:
            raise ValueError(
                f"kind={kind!r}, but this extraction is the {result.stack} part: pass the whole "
                "EncoderDecoderExtraction, or its part .{kind}"
            )
    return result


@dataclass(frozen=True)
class Stack:
    """One of the model's two stacks of blocks."""

    name: str  # "encoder" or "decoder"
    module: nn.Module
    blocks: nn.ModuleList
    num_heads: int


def stacks(model: Any) -> tuple[Stack, Stack]:
    """The encoder and decoder stacks: each the first list of blocks directly inside it."""
    found = []
    for name, module in (("encoder", model.get_encoder()), ("decoder", model.get_decoder())):
        blocks = next((child for child in module.children() if isinstance(child, nn.ModuleList)), None)
        if blocks is None:
            raise AttentionUnavailableError(f"could not find the blocks of {type(model).__name__}'s {name}")
        config = model.config
        heads = getattr(config, f"{name}_attention_heads", None) or config.num_attention_heads
        found.append(Stack(name, module, blocks, int(heads)))
    return found[0], found[1]


def stack_info(model_info: dict[str, Any], stack: Stack, hidden: int, kind: str) -> dict[str, Any]:
    """`model_info` with one stack's shape: its layers, heads and MLP width."""
    width = capture.neuron_width(capture.find_mlp_output_projection(stack.blocks[0], hidden))
    return {
        **model_info,
        "num_layers": len(stack.blocks),
        "num_heads": stack.num_heads,
        "num_key_value_heads": stack.num_heads,
        "intermediate_size": width or model_info["intermediate_size"],
        "is_causal": kind == "decoder",
        "kind": kind,
    }


@dataclass(eq=False)
class CrossExtraction(Extraction):
    """The decoder's cross-attention: maps ``[heads, T, S]`` whose rows are the decoder's tokens and whose
    columns the source's (`key_tokens`, `key_display_tokens`). Residual stream and neurons are the decoder's.
    Head scores: those that do not need the keys to be the queries' own tokens (`CROSS_SCORE_NAMES`:
    first_token, peak, entropy, normalized_entropy over the source's length); the others are NaN."""

    key_input_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    key_tokens: list[str] = field(default_factory=list, repr=False)
    key_display_tokens: list[str] = field(default_factory=list, repr=False)
    key_token_notes: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def key_len(self) -> int:
        return len(self.key_input_ids)

    def attention_rows(self, positions: int | Sequence[int]) -> np.ndarray:  # type: ignore[override]
        """Every head's cross-attention row at decoder `positions`: float32 [layers, heads, S] for one,
        [layers, heads, len(positions), S] for several."""
        single = isinstance(positions, (int, np.integer))
        wanted: list[Any] = [positions] if single else list(positions)  # type: ignore[arg-type]
        rows_at = [check_index(p, self.seq_len, "position", "the decoder's token count") for p in wanted]
        out = np.stack([self.attention(layer)[:, rows_at] for layer in range(self.num_layers)])
        return out[:, :, 0] if single else out

    def score_layer(self, maps: np.ndarray) -> ScoreTable:
        """One layer's head scores from its maps ``[heads, T, S]``: `CROSS_SCORE_NAMES` over the source's
        tokens, NaN for the scores that compare a query with its own position (every name of `SCORE_NAMES`)."""
        scorer = LayerScorer(self.num_heads, self.input_ids, causal=False, names=CROSS_SCORE_NAMES, keys=self.key_len)
        scorer.add_rows(0, maps)
        found = scorer.result()
        undefined = np.full(self.num_heads, np.nan)
        return ScoreTable((name, found.get(name, undefined)) for name in SCORE_NAMES)

    def iter_attention(self, *, score: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        for layer, maps in ((layer, self._compute(layer, None)) for layer in range(self.num_layers)):
            if score and self._head_scores is None:
                self._score_layer(layer, maps)
            yield layer, maps
        self._finish_scores()

    def iter_pooled_attention(  # type: ignore[override]
        self, side: int | None = None, *, rows: tuple[int, int] | None = None, attribution_at: int | None = None
    ) -> Iterator[tuple[int, np.ndarray | None, np.ndarray | None]]:
        """As `Extraction.iter_pooled_attention`, for maps ``[heads, T, S]``: `pooled` is max-pooled to
        ``min(side, T) × min(side, S)``; `kept` holds rows ``rows`` ``[heads, stop - first, S]``. A cross map is
        one decoder text by one source text (hundreds of tokens), computed whole per layer."""
        if side is not None and side < 1:
            raise ValueError(f"side must be at least 1, got {side}")
        if rows is not None and not 0 <= rows[0] <= rows[1] <= self.seq_len:
            raise ValueError(f"rows must be (first, stop) with 0 <= first <= stop <= {self.seq_len}, got {rows}")
        for layer in range(self.num_layers):
            maps = self._compute(layer, None)
            if self._head_scores is None:
                self._score_layer(layer, maps)
            pooled = None
            if side is not None:
                pooled = max_pool_2d(maps, min(side, self.seq_len), min(side, self.key_len))
            kept = maps[:, rows[0] : rows[1]].copy() if rows is not None else None
            yield layer, pooled, kept
        self._finish_scores()

    def _score_layer(self, layer: int, maps: np.ndarray) -> None:
        pending: ScoreAccumulator = self._cache("cross_scores", self._new_accumulator)
        if not pending._seen[layer]:
            pending.put(layer, self.score_layer(maps))

    def _new_accumulator(self) -> ScoreAccumulator:
        return ScoreAccumulator(self.num_layers, self.num_heads, self.input_ids, False)

    def _finish_scores(self) -> None:
        pending: ScoreAccumulator | None = self.layers.recording.caches.get(self._cache_key("cross_scores"))
        if self._head_scores is None and pending is not None and pending.complete:
            self._head_scores = pending.result()


@dataclass(eq=False)
class EncoderDecoderExtraction:
    """One run of an encoder-decoder model: `source` through the encoder, the decoder's tokens (`target`, or
    the model's greedy output) through the decoder. Each kind of attention is an `Extraction`: `encoder`,
    `decoder`, `cross` (or `part(kind)`); `attention(layer, head, kind=...)` reads any of them.

    Read like the dict of the scripts attnwidget replaces: ``result["attention_weights"]`` is the encoder's
    self-attention (what the source's tokens read; for a decoder-only or encoder-only model it is the model's
    only attention), ``result["decoder_attention_weights"]`` and ``result["cross_attention_weights"]`` the
    others (transformers' ``encoder_attentions``, ``decoder_attentions`` and ``cross_attentions``)."""

    source: str
    target: str
    #: True when the decoder's text was given (teacher forcing), False when the model wrote it (greedy).
    target_given: bool
    model_name: str
    model_info: dict[str, Any]
    encoder: Extraction
    decoder: Extraction
    cross: CrossExtraction

    @property
    def prompt(self) -> str:
        return self.source

    def part(self, kind: str) -> Extraction:
        """The `Extraction` of one kind of attention: "encoder", "decoder" or "cross"."""
        return {"encoder": self.encoder, "decoder": self.decoder, "cross": self.cross}[check_kind(kind)]

    def attention(self, layer: int, head: int | None = None, kind: str = "encoder") -> np.ndarray:
        """float32 ``[heads, q, k]`` (or ``[q, k]`` for one head): encoder ``[heads, S, S]``, decoder
        ``[heads, T, T]``, cross ``[heads, T, S]``; each row sums to 1."""
        return self.part(kind).attention(layer, head)

    def head_scores(self, kind: str = "encoder") -> ScoreTable:
        return self.part(kind).head_scores()

    def attention_stats(self, kind: str = "encoder") -> dict[str, dict[str, Any]]:
        return self.part(kind).attention_stats()

    def neuron_activations(self, layer: int, kind: str = "residual", stack: str = "encoder") -> np.ndarray:
        """[seq, width] activations of one layer of the encoder's or decoder's stack (`stack`)."""
        if stack not in ("encoder", "decoder"):
            raise ValueError(f"stack must be 'encoder' or 'decoder', got {stack!r}")
        if kind not in NEURON_KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, NEURON_KINDS))}, got {kind!r}")
        return self.part(stack).neuron_activations(layer, kind)

    def __getitem__(self, key: str) -> Any:
        entries = {
            "prompt": lambda: self.source,
            "source": lambda: self.source,
            "target": lambda: self.target,
            "tokens": lambda: self.encoder.tokens,
            "decoder_tokens": lambda: self.decoder.tokens,
            "input_ids": lambda: self.encoder.input_ids,
            "decoder_input_ids": lambda: self.decoder.input_ids,
            "attention_weights": lambda: self.encoder.attention_weights,
            "decoder_attention_weights": lambda: self.decoder.attention_weights,
            "cross_attention_weights": lambda: self.cross.attention_weights,
            "residual_stream": lambda: self.encoder.residual_stream,
            "decoder_residual_stream": lambda: self.decoder.residual_stream,
            "model_info": lambda: self.model_info,
        }
        if key not in entries:
            raise KeyError(f"{key!r}; available: {', '.join(entries)}")
        return entries[key]()

    def keys(self) -> list[str]:
        return [
            "prompt", "source", "target", "tokens", "decoder_tokens", "input_ids", "decoder_input_ids",
            "attention_weights", "decoder_attention_weights", "cross_attention_weights", "residual_stream",
            "decoder_residual_stream", "model_info",
        ]  # fmt: skip

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __repr__(self) -> str:
        return (
            f"EncoderDecoderExtraction({self.model_name}: {self.encoder.seq_len} source tokens, "
            f"{self.decoder.seq_len} decoder tokens, source={self.source[:40]!r}, target={self.target[:40]!r})"
        )


# ---- running the model ------------------------------------------------------------------------------
def run(extractor: Runner, source: str, target: str | None, max_output_tokens: int) -> EncoderDecoderExtraction:
    """Record `source` (and the decoder's text) through `extractor`'s encoder-decoder model."""
    model, tokenizer = extractor.model, extractor.tokenizer
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    if not source.strip():
        raise ValueError("source is empty: give some text for the encoder to read")
    if target is not None and not isinstance(target, str):
        raise TypeError(f"target must be a str or None, got {type(target).__name__}")
    if target is not None and not target.strip():
        raise ValueError("target is empty: give the decoder's text, or None for the model's own output")
    item = extractor._tokenize(source)
    source_ids = item.ids
    encoder_stack, decoder_stack = stacks(model)
    start = decoder_start_id(model)
    if target is None and model.get_output_embeddings() is None:
        raise ValueError(
            f"{extractor._describe()} has no language-model head, so it cannot write its own output: give target="
        )
    if target is None:
        decoder_ids = greedy_output(model, source_ids, start, max_output_tokens, _eos_ids(model, tokenizer))
        target_text = str(tokenizer.decode(decoder_ids[1:], skip_special_tokens=True))
    else:
        decoder_ids = [start, *tokenizer(text_target=target)["input_ids"]]
        target_text = target
        limit = extractor.get_model_info()["max_positions"]
        if limit and len(decoder_ids) > limit:
            raise ValueError(
                f"target is {len(decoder_ids)} decoder tokens (with the start token); {extractor.model_name} accepts "
                f"at most {limit} positions"
            )
    route = "sdpa" if getattr(model, "_supports_sdpa", False) else "eager"
    describe = extractor._describe()
    encoder_recording = Recording(lambda: _record_encoder(model, route, encoder_stack, source_ids, describe))
    encoder_recording.get()
    decoder_recording = Recording(
        lambda: _record_decoder(model, route, encoder_stack, decoder_stack, source_ids, decoder_ids, describe)
    )
    decoder_recording.get()
    info = extractor.get_model_info()
    hidden = int(model.config.hidden_size)
    decoder_tokens = tokenizer.convert_ids_to_tokens(decoder_ids)
    decoder_texts = display_tokens(tokenizer, tokenizer.decode(decoder_ids), decoder_ids, None)

    def source_of(recording: Recording, stack: Stack, call: int) -> capture.LayerSource:
        replayer = capture.LayerReplayer(model, route, recording, blocks=stack.blocks, call_in_block=call)
        return capture.LayerSource(replayer)

    common: dict[str, Any] = {"model_name": extractor.model_name, "predictor": None, "lens": None}
    encoder = Extraction(
        prompt=source,
        model_info=stack_info(info, encoder_stack, hidden, "encoder"),
        input_ids=np.asarray(source_ids, np.int64),
        tokens=item.tokens,
        display_tokens=item.texts.display,
        token_notes=item.texts.notes,
        is_causal=False,
        layers=source_of(encoder_recording, encoder_stack, 0),
        stack="encoder",
        **common,
    )
    decoder_fields: dict[str, Any] = {
        "prompt": target_text,
        "input_ids": np.asarray(decoder_ids, np.int64),
        "tokens": decoder_tokens,
        "display_tokens": decoder_texts.display,
        "token_notes": decoder_texts.notes,
        **common,
    }
    decoder = Extraction(
        model_info=stack_info(info, decoder_stack, hidden, "decoder"),
        is_causal=True,
        layers=source_of(decoder_recording, decoder_stack, 0),
        stack="decoder",
        **decoder_fields,
    )
    cross = CrossExtraction(
        model_info=stack_info(info, decoder_stack, hidden, "cross"),
        is_causal=False,
        layers=source_of(decoder_recording, decoder_stack, 1),
        stack="cross",
        key_input_ids=encoder.input_ids,
        key_tokens=encoder.tokens,
        key_display_tokens=encoder.display_tokens,
        key_token_notes=encoder.token_notes,
        **decoder_fields,
    )
    return EncoderDecoderExtraction(
        source=source,
        target=target_text,
        target_given=target is not None,
        model_name=extractor.model_name,
        model_info=info,
        encoder=encoder,
        decoder=decoder,
        cross=cross,
    )


def decoder_start_id(model: Any) -> int:
    for config in (getattr(model, "generation_config", None), model.config):
        start = getattr(config, "decoder_start_token_id", None)
        if isinstance(start, int):
            return start
    raise AttentionUnavailableError(f"{type(model).__name__} names no decoder start token (decoder_start_token_id)")


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    found: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), model.config.eos_token_id):
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, (list, tuple)):
            found.update(int(v) for v in value)
    if not found and getattr(tokenizer, "eos_token_id", None) is not None:
        found.add(int(tokenizer.eos_token_id))
    return found


def greedy_output(model: Any, source_ids: list[int], start: int, max_tokens: int, eos: set[int]) -> list[int]:
    """The decoder's tokens when the model writes on its own: its start token, then at each step the token
    of its largest logit, until an end token (kept) or `max_tokens` tokens. The encoder runs once; each step
    runs the decoder over everything written so far (no cache: a few dozen short steps). The generation
    config's extra rules (forced tokens, penalties) are not applied."""
    from transformers.modeling_outputs import BaseModelOutput

    device = next(model.parameters()).device
    ids = [start]
    with capture.model_lock(model), torch.inference_mode():
        encoded = model.get_encoder()(input_ids=torch.tensor([source_ids], device=device))
        memory = BaseModelOutput(last_hidden_state=encoded.last_hidden_state)
        for _ in range(max_tokens):
            decoder_ids = torch.tensor([ids], device=device)
            logits = model(encoder_outputs=memory, decoder_input_ids=decoder_ids, use_cache=False).logits
            ids.append(int(logits[0, -1].argmax()))
            if ids[-1] in eos:
                break
    return ids


def _listening(model: Any, route: str, counter: capture.AttentionRecorder) -> Any:
    return capture.sdpa_capture(model, counter) if route == "sdpa" else capture.implementation(model, "eager")


def _stored(maps: Any, describe: str, what: str) -> list[capture.LayerAttentionInputs]:
    stored = capture.stored_maps(maps)
    if stored is None:
        raise AttentionUnavailableError(f"{describe} returns no {what} weights")
    return stored


def _record_encoder(model: Any, route: str, stack: Stack, source_ids: list[int], describe: str) -> RecordedPass:
    device = next(model.parameters()).device
    streams = capture.StreamRecorder(model, 1, len(source_ids), blocks=stack.blocks)
    counter = capture.AttentionRecorder(keep=False)
    eager = route == "eager"
    with capture.model_lock(model), torch.inference_mode(), streams.active(), _listening(model, route, counter):
        outputs = stack.module(input_ids=torch.tensor([source_ids], device=device), output_attentions=eager)
    if route == "sdpa":
        counter.require_calls(len(stack.blocks), describe, "encoder")
    return _recorded(streams, outputs if eager else None, describe, "encoder")


def _record_decoder(
    model: Any,
    route: str,
    encoder: Stack,
    decoder: Stack,
    source_ids: list[int],
    decoder_ids: list[int],
    describe: str,
) -> RecordedPass:
    """The decoder's pass over `decoder_ids`, reading the encoder's output for `source_ids` (the encoder runs
    first, unrecorded, as the model's own forward runs it)."""
    device = next(model.parameters()).device
    streams = capture.StreamRecorder(model, 1, len(decoder_ids), blocks=decoder.blocks)
    counter = capture.AttentionRecorder(keep=False)
    eager = route == "eager"
    with capture.model_lock(model), torch.inference_mode():
        with _listening(model, route, capture.AttentionRecorder(keep=False)):
            memory = encoder.module(input_ids=torch.tensor([source_ids], device=device)).last_hidden_state
        with streams.active(), _listening(model, route, counter):
            outputs = decoder.module(
                input_ids=torch.tensor([decoder_ids], device=device),
                encoder_hidden_states=memory,
                use_cache=False,
                output_attentions=eager,
            )
    if route == "sdpa":
        counter.require_calls(2 * len(decoder.blocks), describe, "decoder (self and cross)")
    return _recorded(streams, outputs if eager else None, describe, "decoder")


def _recorded(streams: capture.StreamRecorder, eager_outputs: Any, describe: str, stack: str) -> RecordedPass:
    """One stack's pass: its residual stream and block calls, and on the eager route the maps the model
    returned (the decoder's cross-attention maps too)."""
    assert streams.residual is not None  # every block ran, so the first one's hook allocated it
    stored = cross = None
    if eager_outputs is not None:
        stored = _stored(eager_outputs.attentions, describe, f"{stack} attention")
        if stack == "decoder":
            cross = _stored(eager_outputs.cross_attentions, describe, "cross-attention")
    return RecordedPass(
        residual=streams.residual,
        block_calls=streams.block_calls,  # type: ignore[arg-type]
        final_hidden=None,
        stored_attention=stored,
        stored_cross_attention=cross,
        input_dtypes=streams.input_dtypes,  # type: ignore[arg-type]
    )
