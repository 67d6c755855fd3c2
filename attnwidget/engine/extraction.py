"""`Extraction`: everything recorded for one prompt, with attention recomputed lazily per layer/head.

An Extraction holds O(layers · seq · d) numbers (queries, keys, residual stream, MLP activations), never all
attention maps at once. `extraction.attention(layer)` computes one layer's maps exactly when asked.
It also reads like the dict that the scripts attnwidget replaces returned: `result["attention_weights"][layer]`,
`result["tokens"]`, `result["input_ids"]`, ...
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import torch

from ..analysis.pooling import BlockMaxPool, row_blocks
from ..analysis.scores import ScoreAccumulator, ScoreTable, row_softmax
from . import attribution, interventions
from .capture import LayerSource
from .generation import GenerationRecord, Step
from .lens import LensProjector, lens_arrays
from .predictions import NextTokenPredictor

NEURON_KINDS = ("residual", "mlp")
# Bytes of attention maps computed at once on an accelerator (`Extraction._compute`).
_DEVICE_MAP_BYTES = 2 << 30
# Cells (heads × rows × keys) of one block of maps in `Extraction.iter_pooled_attention`: 4 MiB of float32
# on the CPU, small enough that the block stays in the cache from its matrix product through its softmax,
# statistics and pooling (a third of the time of whole layers at 1024 tokens); on an accelerator, as `_compute`.
_SWEEP_CELLS = 1 << 20
_DEVICE_SWEEP_CELLS = _DEVICE_MAP_BYTES // 8


def _host_float32(values: torch.Tensor) -> np.ndarray:
    """A float32 numpy copy of `values` [n, ...], converted on its device one row of the first axis at a
    time (numpy has no bf16; a whole float32 copy on the device would double its memory there)."""
    out = np.empty(tuple(values.shape), dtype=np.float32)
    host = torch.from_numpy(out)
    for index in range(values.shape[0]):
        host[index].copy_(values[index].float())
    return out


def check_index(value: int, size: int, what: str, owner: str) -> int:
    """Normalise a possibly negative index, or raise IndexError naming the valid range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if not -size <= value < size:
        raise IndexError(f"{what} {value} is out of range: {owner} has {size} (valid: 0..{size - 1} or -{size}..-1)")
    return int(value) % size


@dataclass(eq=False)
class Extraction:
    """The result of running one prompt through a model.

    Attributes
    ----------
    prompt : the text that was run.
    input_ids : int64 array [seq].
    tokens : the tokenizer's own token strings (e.g. ``"Ġcat"``), as the scripts attnwidget replaces returned them.
    display_tokens : readable text of each token (``" cat"``), newlines shown as ``↵``; a token that holds
        part of a character split over several tokens shows its bytes (``⟨f0 9f⟩``), the token that completes
        it the whole character.
    token_notes : {token index: what it holds} for those tokens ("part of “🌍” (U+1F30D), completed by #3").
    residual_stream : float32 [layers + 1, seq, hidden]: index l is the input of layer l (index 0: the
        embeddings), the last index the output of the last layer (before any final norm).
    mlp_activations : float32 [layers, seq, mlp_width], the input of each MLP's output projection
        (after the nonlinearity and gate), computed when first read; None if the MLP could not be located.
    top_token_ids, top_probs : [seq, k] next-token predictions at each position, most likely first,
        computed on first read from `final_hidden` (the model's last hidden state); None for encoders.
    generation : for a result of `AttentionExtractor.generate`, the steps as they were taken (see the
        "generation" properties: `prompt_length`, `generated_tokens`, `step_probs`, ...); None otherwise.
    no_model : for an extraction read from stored activations (`attnwidget.from_cache`), why there is no
        model behind it; what needs the model (predictions, logit lens, attribution, value-weighted maps,
        interventions) then raises ValueError saying so (`needs_model`). None otherwise.

    Attention and MLP neurons of a layer are recomputed from the model when asked (one block is run again
    on its recorded input), so the model must stay unchanged while its extractions are in use. The
    recorded pass itself shares a memory budget with every other live extraction
    (`attnwidget.engine.recording`): when it was dropped, reading the extraction runs the pass again.
    """

    prompt: str
    model_name: str
    model_info: dict[str, Any]
    input_ids: np.ndarray
    tokens: list[str]
    display_tokens: list[str]
    predictor: NextTokenPredictor | None
    is_causal: bool
    layers: LayerSource = field(repr=False)
    batch_index: int = 0
    token_notes: dict[int, str] = field(default_factory=dict, repr=False)
    _predictions: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _head_scores: ScoreTable | None = field(default=None, repr=False)
    lens: LensProjector | None = field(default=None, repr=False)
    generation: GenerationRecord | None = field(default=None, repr=False)
    no_model: str | None = field(default=None, repr=False)
    # For one kind of attention of an encoder-decoder run ("encoder", "decoder", "cross"; see
    # `attnwidget.engine.seq2seq`), that kind; None for a decoder-only or encoder-only model.
    stack: str | None = field(default=None, repr=False)

    def needs_model(self, what: str) -> str:
        """Why `what` cannot be had from this extraction ("" when it can): it has no model behind it, or it is
        one part of an encoder-decoder run, whose heads write into two stacks (not supported yet)."""
        if self.stack is not None:
            return (
                f"{what} is not available for encoder-decoder models (its heads write through two stacks); "
                "attention, head scores, statistics and neurons are"
            )
        return "" if self.no_model is None else f"{what} needs the model: {self.no_model}"

    def _require_model(self, what: str) -> None:
        why = self.needs_model(what)
        if why:
            raise ValueError(why)

    # ---- the recorded pass (rebuilt when the memory budget dropped it) ---------------------------------
    @property
    def residual_stream(self) -> np.ndarray:
        """float32 [layers + 1, seq, hidden]: a view of the recorded pass on the CPU; from a model on an
        accelerator a host copy, made on first read and kept with the pass."""
        rows = self.layers.recording.get().residual[self.batch_index, :, : self.seq_len]
        if rows.device.type == "cpu" and rows.dtype == torch.float32:
            return rows.numpy()
        copy: np.ndarray = self._cache("residual", lambda: _host_float32(rows))
        return copy

    @property
    def final_hidden(self) -> np.ndarray | None:
        """float32 [seq, hidden]: the model's last hidden state (after its final norm); None for encoders."""
        final = self.layers.recording.get().final_hidden
        return None if final is None else final[self.batch_index, : self.seq_len]

    def _cache(self, name: str, make: Any) -> Any:
        """This extraction's cache `name`, kept with the recorded pass (dropped with it)."""
        recording = self.layers.recording
        key = self._cache_key(name)
        if key not in recording.caches:
            recording.get()
            recording.keep(key, make())
        return recording.caches[key]

    def _keep(self, name: str, value: Any) -> Any:
        return self.layers.recording.keep(self._cache_key(name), value)

    def _cache_key(self, name: str) -> tuple[Any, ...]:
        # The decoder's self- and cross-attention parts share one recorded pass: their caches must not mix.
        return (name, self.batch_index) if self.stack is None else (name, self.batch_index, self.stack)

    # ---- shape -------------------------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return int(self.model_info["num_layers"])

    @property
    def num_heads(self) -> int:
        return int(self.model_info["num_heads"])

    @property
    def num_kv_heads(self) -> int:
        return int(self.model_info["num_key_value_heads"])

    @property
    def seq_len(self) -> int:
        return len(self.input_ids)

    @property
    def key_len(self) -> int:
        """How many keys each map has: `seq_len` (self-attention), the source's length for cross-attention."""
        return self.seq_len

    @property
    def kv_group_of_head(self) -> np.ndarray:
        """For each query head, the index of the key/value head it reads (grouped-query attention)."""
        group = self.num_heads // self.num_kv_heads
        return np.arange(self.num_heads) // group

    # ---- attention ----------------------------------------------------------------------------------
    @overload
    def attention(self, layer: int, head: None = None) -> np.ndarray: ...
    @overload
    def attention(self, layer: int, head: int) -> np.ndarray: ...

    def attention(self, layer: int, head: int | None = None) -> np.ndarray:
        """Attention weights of one layer, float32 [heads, seq, seq] (or [seq, seq] for one head).

        Row i is query position i, column j key position j; each row sums to 1. The two layers read last
        are kept, and the one head read last on its own (a widget reads the selected head again and again).
        """
        layer = check_index(layer, self.num_layers, "layer", "this model's layer count")
        maps: OrderedDict[int, np.ndarray] = self._cache("maps", OrderedDict)
        if head is not None:
            head = check_index(head, self.num_heads, "head", "each layer's head count")
            if layer in maps:
                return maps[layer][head]
            shown = self._cache("head", dict)
            if shown.get("key") != (layer, head):
                shown = self._keep("head", {"key": (layer, head), "map": self._compute(layer, [head])[0]})
            return shown["map"]  # type: ignore[no-any-return]
        if layer not in maps:
            maps[layer] = self._compute(layer, None)
            # Two layers at a time is enough for browsing; 4096² x 9 heads is ~600 MB a layer.
            while len(maps) > 2:
                maps.popitem(last=False)
            self._keep("maps", maps)
        maps.move_to_end(layer)
        return maps[layer]

    def _compute(self, layer: int, heads: list[int] | None) -> np.ndarray:
        inputs = self.layers.attention_inputs(layer)
        with torch.no_grad():
            if inputs.device.type == "cpu":
                return inputs.weights(self.batch_index, self.seq_len, heads, self.key_len).numpy()
            # On an accelerator: computed there a few heads at a time (a layer's maps at 16384 tokens are
            # 1 GiB a head, with the softmax's temporaries on top), each group copied into the host array.
            head_ids = list(range(inputs.num_heads)) if heads is None else heads
            out = np.empty((len(head_ids), self.seq_len, self.key_len), dtype=np.float32)
            host = torch.from_numpy(out)
            step = max(1, _DEVICE_MAP_BYTES // (4 * self.seq_len * self.key_len))
            for start in range(0, len(head_ids), step):
                group = head_ids[start : start + step]
                maps = inputs.weights(self.batch_index, self.seq_len, group, self.key_len)
                host[start : start + len(group)].copy_(maps)
            return out

    @property
    def attention_weights(self) -> AttentionLayers:
        return AttentionLayers(self)

    @overload
    def attention_rows(self, positions: int) -> np.ndarray: ...
    @overload
    def attention_rows(self, positions: Sequence[int]) -> np.ndarray: ...

    def attention_rows(self, positions: int | Sequence[int]) -> np.ndarray:
        """Every head's attention row at query `positions`: float32 [layers, heads, seq] for one position,
        [layers, heads, len(positions), seq] for several. Row p of each `attention(layer)`, computed without the
        [seq, seq] maps: where every head looked from one token (for a generated token, from the position that
        chose it: `step_position(step)`), at any prompt length."""
        single = isinstance(positions, (int, np.integer))
        wanted: list[Any] = [positions] if single else list(positions)  # type: ignore[arg-type]
        rows_at = [check_index(p, self.seq_len, "position", "this prompt's token count") for p in wanted]
        out = np.zeros((self.num_layers, self.num_heads, len(rows_at), self.seq_len), dtype=np.float32)
        maps: OrderedDict[int, np.ndarray] = self._cache("maps", OrderedDict)
        for layer in range(self.num_layers):
            if layer in maps:  # a layer already computed whole: read its rows
                out[layer] = maps[layer][:, rows_at]
                continue
            inputs = self.layers.attention_inputs(layer)
            with torch.no_grad():
                for index, position in enumerate(rows_at):
                    if inputs.stored_weights is not None:  # the generic eager route keeps its maps
                        row = inputs.stored_weights[self.batch_index, :, position, : self.seq_len].float()
                    else:
                        row = attribution.attention_row(inputs, self.batch_index, position, self.seq_len)
                    out[layer, :, index] = row.cpu().numpy()
        return out[:, :, 0] if single else out

    def iter_attention(self, *, score: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """(layer, [heads, seq, seq]) for every layer, computed one at a time and not cached.

        With ``score=True`` the head scores (`head_scores`) are computed on the way when they are not known
        yet, so that one pass over the maps serves the caller and the scores."""
        layers = ((layer, self._compute(layer, None)) for layer in range(self.num_layers))
        if not score or self._head_scores is not None:
            yield from layers
            return
        accumulator = ScoreAccumulator(self.num_layers, self.num_heads, self.input_ids, self.is_causal)
        yield from accumulator.tap(layers)
        self._head_scores = accumulator.result()

    def iter_pooled_attention(
        self, side: int | None = None, *, rows: tuple[int, int] | None = None, attribution_at: int | None = None
    ) -> Iterator[tuple[int, np.ndarray | None, np.ndarray | None]]:
        """One pass over every layer's maps, computed a block of query rows at a time and never held whole
        (at 4096 tokens a layer's maps are 600 MB): ``(layer, pooled, kept)`` for each layer, with `pooled`
        its maps max-pooled to ``side × side`` (float32 [heads, side, side], as
        ``analysis.pooling.max_pool(attention(layer), side)``; None without `side`) and `kept` its query rows
        ``rows = (first, stop)`` (float32 [heads, stop - first, seq], None without `rows`). The head scores
        (`head_scores`) are taken on the way unless known already, each row's entropy and peak from the
        softmax's own numbers (`analysis.scores.row_softmax`).

        The numbers are those of `attention`: the same logits, the same softmax, bitwise, a block of rows
        at a time; for a causal layer a block stops at its last row's key (the maps are 0 after it).

        `attribution_at`: a position whose logit attribution (`logit_attribution`) the pass prepares: each
        block replayed for the maps also computes its attention row and output there (one replay instead of
        two), so that the attribution runs no block again."""
        if side is not None and not 1 <= side <= self.seq_len:
            raise ValueError(f"side must be in 1..{self.seq_len}, got {side}")
        if rows is not None and not 0 <= rows[0] <= rows[1] <= self.seq_len:
            raise ValueError(f"rows must be (first, stop) with 0 <= first <= stop <= {self.seq_len}, got {rows}")
        seq, heads = self.seq_len, self.num_heads
        accumulator = None
        if self._head_scores is None:
            accumulator = ScoreAccumulator(self.num_layers, heads, self.input_ids, self.is_causal)
        position = None
        if attribution_at is not None and self.predictor is not None:
            position = check_index(attribution_at, seq, "attribution_at", "this prompt's token count")
        for layer in range(self.num_layers):
            inputs = None
            if position is not None and self.layers.recording.get().stored_attention is None:
                try:
                    inputs = attribution.replay_for_rows(self.layers, self.batch_index, layer, position)
                except ValueError:  # a model whose blocks attribution cannot replay: the plain replay
                    position = None
            if inputs is None:
                inputs = self.layers.attention_inputs(layer)
            stored = inputs.stored_weights
            cells = _SWEEP_CELLS if inputs.device.type == "cpu" else _DEVICE_SWEEP_CELLS
            scorer = accumulator.scorer() if accumulator is not None else None
            pool = BlockMaxPool(heads, seq, side) if side is not None else None
            kept = np.zeros((heads, rows[1] - rows[0], seq), np.float32) if rows is not None else None
            causal = inputs.causal and stored is None
            # A layer masked by the causal flag alone has −∞ only in each block's last rows x rows keys.
            only_causal = causal and inputs.additive_mask is None and inputs.bool_mask is None
            with torch.no_grad():
                for start, stop in row_blocks(seq, max(1, cells // heads), causal, side):
                    if stored is not None:
                        weights = stored[self.batch_index, :, start:stop, :seq].float()
                        entropy = peak = None
                    else:
                        logits = inputs.logits(self.batch_index, seq, rows=(start, stop))
                        weights, entropy, peak = row_softmax(logits, finite_keys=start if only_causal else 0)
                    if scorer is not None:
                        scorer.add_rows(start, weights, entropy, peak)
                    if pool is not None:
                        pool.add(start, weights)
                    if kept is not None and rows is not None:
                        first, last = max(start, rows[0]), min(stop, rows[1])
                        if first < last:
                            part = weights[:, first - start : last - start].float().cpu().numpy()
                            kept[:, first - rows[0] : last - rows[0], : part.shape[-1]] = part
            if accumulator is not None and scorer is not None:
                accumulator.put(layer, scorer.result())
            yield layer, None if pool is None else pool.pooled, kept
        if accumulator is not None:
            self._head_scores = accumulator.result()

    def remember_head_scores(self, scores: ScoreTable) -> None:
        """Keep scores computed elsewhere from this extraction's own maps (a pass made for something else,
        such as a comparison), so that `head_scores` need not compute them again."""
        self._head_scores = ScoreTable((name, np.array(values)) for name, values in scores.items())

    def head_scores(self) -> ScoreTable:
        """Per-head scores ``{name: float64 [layers, heads]}``, every score of `attnwidget.analysis.scores`
        (which defines each one): induction, previous_token, first_token, self, local, peak, entropy,
        normalized_entropy. Computed in one pass over the layers on first call (`iter_pooled_attention`, or a
        pass made for something else, such as a widget's thumbnails), then cached; each call returns fresh
        copies."""
        if self._head_scores is None:
            for _ in self.iter_pooled_attention():
                pass
        assert self._head_scores is not None
        return ScoreTable((name, values.copy()) for name, values in self._head_scores.items())

    # ---- neurons and predictions ----------------------------------------------------------------
    def neuron_activations(self, layer: int, kind: str = "residual") -> np.ndarray:
        """[seq, width] activations of one layer: its residual stream output, or its MLP neurons."""
        if kind not in NEURON_KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, NEURON_KINDS))}, got {kind!r}")
        layer = check_index(layer, self.num_layers, "layer", "this model's layer count")
        if kind == "residual":
            return self.residual_stream[layer + 1]
        every = self._cache("mlp_all", dict).get("all")
        if every is not None:
            return every[layer]  # type: ignore[no-any-return]
        mlp = self.layers.mlp(layer) if self.layers.has_mlp else None
        if mlp is None:
            raise ValueError(f"the MLP of {self.model_name} could not be located, so it has no neuron activations")
        return mlp[self.batch_index, : self.seq_len].float().cpu().numpy()

    @property
    def mlp_activations(self) -> np.ndarray | None:
        """float32 [layers, seq, mlp_width], all layers (computed on first read, then kept)."""
        if not self.layers.has_mlp:
            return None
        kept = self._cache("mlp_all", dict)
        if "all" not in kept:
            every = np.stack([self.neuron_activations(i, "mlp") for i in range(self.num_layers)])
            kept = self._keep("mlp_all", {"all": every})
        return kept["all"]  # type: ignore[no-any-return]

    def _all_predictions(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self._predictions is None and self.predictor is not None:
            final = self.final_hidden
            if final is not None:
                self._predictions = self.predictor.top_k(final)
        return self._predictions

    @property
    def top_token_ids(self) -> np.ndarray | None:
        """int64 [seq, k]: the k most likely next tokens after each position (None for encoders)."""
        predictions = self._all_predictions()
        return None if predictions is None else predictions[0]

    @property
    def top_probs(self) -> np.ndarray | None:
        """float32 [seq, k]: their probabilities (None for encoders)."""
        predictions = self._all_predictions()
        return None if predictions is None else predictions[1]

    @property
    def top_tokens(self) -> list[list[str]] | None:
        """Decoded text of `top_token_ids`."""
        ids = self.top_token_ids
        return None if ids is None or self.predictor is None else self.predictor.texts(ids)

    def top_predictions(self, position: int) -> list[tuple[str, float]]:
        """The model's top-k next-token predictions after `position`, as (token text, probability)."""
        self._require_model("predicting the next token")
        final = self.final_hidden if self.predictor is not None else None
        if self.predictor is None or final is None:
            raise ValueError(f"{self.model_name} is not a causal language model; it predicts no next token")
        position = check_index(position, self.seq_len, "position", "this prompt's token count")
        if self._predictions is not None:
            ids, probs = self._predictions[0][position], self._predictions[1][position]
        else:  # one row only: cheap, for a hover or the last token
            ids, probs = (a[0] for a in self.predictor.top_k(final[position : position + 1]))
        return [(text, float(p)) for text, p in zip(self.predictor.texts(ids)[0], probs)]

    # ---- generation (AttentionExtractor.generate) -------------------------------------------------------------
    @property
    def prompt_length(self) -> int:
        """Tokens of the prompt: those before the first generated one (all of them when nothing was generated)."""
        return self.seq_len if self.generation is None else self.generation.prompt_length

    @property
    def generated_ids(self) -> np.ndarray:
        """int64 [n]: the generated tokens' ids (empty when nothing was generated)."""
        return self.input_ids[self.prompt_length :]

    @property
    def generated_tokens(self) -> list[str]:
        """Display texts of the generated tokens, as `display_tokens` shows them ([] when nothing was generated).
        When the model wrote its end-of-sequence token, it is the last one."""
        return self.display_tokens[self.prompt_length :]

    @property
    def generated_text(self) -> str:
        """The generated tokens decoded together by the tokenizer ("" when nothing was generated)."""
        if self.generation is None or self.predictor is None:
            return ""
        return str(self.predictor.tokenizer.decode(self.generated_ids.tolist()))

    @property
    def step_probs(self) -> np.ndarray:
        """float32 [n]: the probability the model gave each generated token when it chose it, from the
        distribution it sampled (after temperature, top-k and top-p; for greedy decoding its own softmax)."""
        return np.zeros(0, np.float32) if self.generation is None else self.generation.probs

    @property
    def step_entropy(self) -> np.ndarray:
        """float32 [n]: the entropy (nats) of that distribution at each step."""
        return np.zeros(0, np.float32) if self.generation is None else self.generation.entropy

    @property
    def stop_reason(self) -> str | None:
        """Why generation ended: "eos", "length", "stopped", "interrupted" (see `generation.STOP_REASONS`);
        None when nothing was generated."""
        return None if self.generation is None else self.generation.stop_reason

    def step_alternatives(self, step: int, k: int = 5) -> list[tuple[str, float]]:
        """The `k` most likely tokens of generation step `step`'s distribution (the one `step_probs` reads), as
        (decoded text, probability), most likely first; fewer when top-k or top-p left fewer."""
        return self._step(step).alternatives(k)

    def step_position(self, step: int) -> int:
        """The position whose prediction chose generated token `step` (prompt_length + step - 1): its attention
        row is where the model looked when it chose that token, its logit lens how the choice formed."""
        return self._step(step).position - 1

    def _step(self, step: int) -> Step:
        if self.generation is None:
            raise ValueError("this result generated no tokens: make one with extractor.generate(prompt)")
        index = check_index(step, len(self.generation.steps), "step", "this generation's step count")
        return self.generation.steps[index]

    # ---- logit lens ---------------------------------------------------------------------------------
    def logit_lens_arrays(self, position: int, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The logit lens at one position as arrays: (ids int64 [layers + 1, k], probs float32 [layers + 1, k]).

        Row 0 unembeds the embeddings, row l + 1 the output of layer l (through the model's final norm);
        the last row is the model's own prediction (`top_predictions(position)`). Costs (layers + 1) rows
        of unembedding, whatever the prompt's length."""
        self._require_model("the logit lens")
        final = self.final_hidden if self.lens is not None else None
        if self.lens is None or final is None:
            raise ValueError(f"{self.model_name} is not a causal language model; it has no logit lens")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        position = check_index(position, self.seq_len, "position", "this prompt's token count")
        residual = self.residual_stream[:, position]
        if self.lens.norm is None and not np.allclose(residual[-1], final[position], atol=1e-5):
            raise ValueError(
                f"the final norm of {self.model_name} could not be located, so its logit lens cannot be computed"
            )
        return lens_arrays(self.lens, residual, final[position], int(k))

    def logit_lens(self, position: int, k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k next tokens predicted from each layer's residual stream at `position`, as (text, probability).

        num_layers + 1 entries: entry 0 from the embeddings, entry l + 1 from the output of layer l; the last
        equals ``top_predictions(position)[:k]``. Raises ValueError for encoders (no next-token head)."""
        ids, probs = self.logit_lens_arrays(position, k)
        assert self.lens is not None
        texts = self.lens.texts(ids)
        return [[(text, float(p)) for text, p in zip(row_texts, row)] for row_texts, row in zip(texts, probs)]

    # ---- what heads write (attnwidget.engine.attribution) ------------------------------------------------
    def logit_attribution(
        self, position: int = -1, target: int | str | None = None, contrast: int | str | None = None
    ) -> attribution.LogitAttribution:
        """How much the embeddings, every head, every MLP and the biases write toward `target` (minus
        `contrast`) at `position`, each through the final norm frozen at its real scale there; the parts add
        up to the model's own logit. `target`: None (the top prediction), a token id or a one-token text.
        Raises ValueError for encoders, a text of more than one token or an unknown id."""
        self._require_model("logit attribution")
        position = check_index(position, self.seq_len, "position", "this prompt's token count")
        return attribution.logit_attribution(self, position, target, contrast)

    @overload
    def value_weighted(self, layer: int, head: None = None) -> np.ndarray: ...
    @overload
    def value_weighted(self, layer: int, head: int) -> np.ndarray: ...

    def value_weighted(self, layer: int, head: int | None = None) -> np.ndarray:
        """Value-weighted attention, float32 [heads, seq, seq] (or [seq, seq]): αᵢⱼ · ‖W_Oʰ vⱼʰ‖, the weight
        times the norm of what key j's value (bias included) becomes through the head's slice of the output
        projection (bias excluded)."""
        layer = check_index(layer, self.num_layers, "layer", "this model's layer count")
        if head is not None:
            head = check_index(head, self.num_heads, "head", "each layer's head count")
        self._require_model("value-weighted attention")
        return attribution.value_weighted(self, layer, head)

    # ---- interventions (attnwidget.engine.interventions) -------------------------------------------------
    def ablate(
        self,
        heads: list[tuple[int, int]] | None = None,
        neurons: list[tuple[int, int]] | None = None,
        mode: str = "zero",
    ) -> interventions.Intervention:
        """This prompt's predictions with the outputs of `heads` ((layer, head) pairs: each head's slice of
        the attention output projection's input) and MLP `neurons` ((layer, index) pairs) set to 0
        (``mode="zero"``) or to their mean over this prompt's positions (``"mean"``). Only the blocks from
        the first intervened layer on run again. Raises IndexError / ValueError for bad input or encoders."""
        self._require_model("ablation")
        return interventions.ablate(self, heads, neurons, mode)

    def patch(
        self,
        source: Extraction,
        heads: list[tuple[int, int]] | None = None,
        neurons: list[tuple[int, int]] | None = None,
        positions: list[tuple[int, int]] | None = None,
    ) -> interventions.Intervention:
        """This prompt's predictions with the outputs of `heads` and `neurons` taken from `source`'s run (same
        model): at every position, or at ``positions=[(this position, source position), ...]`` (required
        when the prompts' lengths differ)."""
        self._require_model("patching")
        return interventions.patch(self, source, heads, neurons, positions)

    def head_effects(
        self, position: int = -1, target: int | str | None = None, mode: str = "zero", progress: bool = True
    ) -> np.ndarray:
        """float64 [layers, heads]: the change in `target`'s log-probability after `position` (default: the
        top prediction there) when each head alone is ablated (``mode`` as in `ablate`); each entry equals
        ``ablate(heads=[(layer, head)], mode=mode).effect(position, target)["delta"]``. The heads of one
        layer share a re-run; a progress bar shows (``progress=False`` hides it)."""
        self._require_model("head effects")
        return interventions.head_effects(self, position, target, mode, progress)

    # ---- statistics ------------------------------------------------------------------------------
    def attention_stats(self) -> dict[str, dict[str, Any]]:
        """Per layer ("layer_0", ...): mean, std and max of its attention weights (all heads, all cells), the
        mean row entropy in nats and the mean attention to the first token (the `entropy` and
        `first_token` head scores), each also per head. (The mean of a softmax map is always 1/seq: rows
        sum to 1. It is kept because earlier versions returned it; entropy and first-token attention are the
        informative ones.)"""
        moments: list[dict[str, Any]] = []
        for _layer, maps in self.iter_attention(score=True):
            per_head = {"mean": maps.mean(axis=(1, 2)), "std": maps.std(axis=(1, 2)), "max": maps.max(axis=(1, 2))}
            moments.append({"mean": maps.mean(), "std": maps.std(), "max": maps.max(), "per_head": per_head})
        scores = self.head_scores()
        stats: dict[str, dict[str, Any]] = {}
        for layer, layer_moments in enumerate(moments):
            per_head = {
                **layer_moments["per_head"],
                "entropy": scores["entropy"][layer],
                "first_token": scores["first_token"][layer],
            }
            stats[f"layer_{layer}"] = {
                "mean": float(layer_moments["mean"]),
                "std": float(layer_moments["std"]),
                "max": float(layer_moments["max"]),
                "entropy": float(per_head["entropy"].mean()),
                "first_token": float(per_head["first_token"].mean()),
                "per_head": {name: np.asarray(values, dtype=np.float64).tolist() for name, values in per_head.items()},
            }
        return stats

    # ---- dict-like access, as the replaced scripts' result dict --------------------------------------------------
    def _as_dict_entry(self, key: str) -> Any:
        entries = {
            "prompt": lambda: self.prompt,
            "tokens": lambda: self.tokens,
            "display_tokens": lambda: self.display_tokens,
            "input_ids": lambda: self.input_ids,
            "attention_weights": lambda: self.attention_weights,
            "hidden_states": lambda: list(self.residual_stream),
            "residual_stream": lambda: self.residual_stream,
            "mlp_activations": lambda: self.mlp_activations,
            "top_predictions": lambda: (
                [self.top_predictions(i) for i in range(self.seq_len)] if self.predictor is not None else None
            ),
            "model_info": lambda: self.model_info,
        }
        if key not in entries:
            raise KeyError(f"{key!r}; available: {', '.join(entries)}")
        return entries[key]()

    def __getitem__(self, key: str) -> Any:
        return self._as_dict_entry(key)

    def keys(self) -> list[str]:
        return [
            "prompt", "tokens", "display_tokens", "input_ids", "attention_weights", "hidden_states",
            "residual_stream", "mlp_activations", "top_predictions", "model_info",
        ]  # fmt: skip

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __repr__(self) -> str:
        return (
            f"Extraction({self.model_name}: {self.seq_len} tokens, {self.num_layers} layers x "
            f"{self.num_heads} heads, prompt={self.prompt[:40]!r}"
            + (f", {len(self.generation.steps)} generated" if self.generation is not None else "")
            + ")"
        )


class AttentionLayers(Sequence[np.ndarray]):
    """`result["attention_weights"]`: a list-like of per-layer [heads, seq, seq] arrays, computed on access."""

    def __init__(self, extraction: Extraction) -> None:
        self._extraction = extraction

    def __len__(self) -> int:
        return self._extraction.num_layers

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [self._extraction.attention(i) for i in range(len(self))[index]]
        return self._extraction.attention(index)
