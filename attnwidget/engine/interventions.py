"""Interventions: ablate or patch heads and MLP neurons, and see the next-token prediction move, exactly.

A **head's output** is its slice of the attention output projection's input (`DESIGN.md`); a **neuron** is
one column of the MLP output projection's input (its activation after the nonlinearity and gate). An
intervention replaces some of those slices, by 0 (`mode="zero"`), by their mean over this prompt's positions
in the unmodified run (`mode="mean"`), or by another prompt's values (`patch`), with forward pre-hooks on the
projections. Only blocks from the first intervened layer on are run again: the recorded pass keeps every
block's input and call arguments (`capture.StreamRecorder`), so block l starts from its recorded input and
the later blocks from the intervened outputs. The last block's output goes through the model's own final
norm and unembedding. Zero-ablating a head is then exactly a forward pass of a model whose output-projection
columns of that head are zero.

The output projection of each layer is found once per model by the replay machinery of `attribution` (a
replay of the block up to its attention call, which names the projection from the heads' width to hidden).

`head_effects` ablates every head alone: the heads of one layer share one re-run, as a batch of `heads`
copies of the prompt, each with its own head ablated; `iter_head_effects` hands the layers over one at a time
(a live view). Those re-runs read one position only, so they skip exactly the work nothing reads
(`_HeadEffectsRun`). Hooks are removed whatever happens (an interrupt too); neither the model nor the
extraction is changed.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .attribution import _cut_rows, _device_of, _replay, _row_dispatch, _RowState, _structure, resolve_token
from .capture import LayerSource, _in_out_features, model_lock, neuron_width
from .lens import find_final_norm

MODES = ("zero", "mean")

# model → {layer: (attention output projection, number of heads)}
_PROJECTIONS: weakref.WeakKeyDictionary[nn.Module, dict[int, tuple[nn.Module, int]]] = weakref.WeakKeyDictionary()


class _Stop(Exception):
    """Ends a replay once the projection input it waited for is captured."""


@dataclass
class _Edit:
    """Set columns `columns` of a projection's input to `values` (0 when None), at `positions` (every one
    when None), in batch row `row` (every row when None). `values` broadcasts to [positions, columns]."""

    columns: slice
    values: torch.Tensor | None = None
    positions: torch.Tensor | None = None
    row: int | None = None


def _edit_hook(edits: list[_Edit]) -> Any:
    def hook(_module: nn.Module, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        x = inputs[0].clone()
        for edit in edits:
            rows = slice(None) if edit.row is None else slice(edit.row, edit.row + 1)
            positions: Any = slice(None) if edit.positions is None else edit.positions
            view = x[rows]
            if edit.values is None:
                view[:, positions, edit.columns] = 0
            else:
                view[:, positions, edit.columns] = edit.values.to(x.device, x.dtype)
        return (x, *inputs[1:])

    return hook


def _index(value: Any, size: int, what: str, owner: str) -> int:
    """A possibly negative index → 0..size-1, or IndexError naming the valid range (as extraction's)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if not -size <= value < size:
        raise IndexError(f"{what} {value} is out of range: {owner} has {size} (valid: 0..{size - 1} or -{size}..-1)")
    return int(value) % size


def _pairs(items: Any, what: str) -> list[tuple[Any, Any]]:
    if items is None:
        return []
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"{what} must be a list of (layer, index) pairs, got {type(items).__name__}")
    pairs = []
    for item in items:
        if isinstance(item, (str, bytes)) or not isinstance(item, Iterable) or len(tuple(item)) != 2:
            raise TypeError(f"each of {what} must be a (layer, index) pair, got {item!r}")
        pairs.append(tuple(item))
    return pairs  # type: ignore[return-value]


# ---- what an intervention needs from the model -------------------------------------------------------------
def _require_predictor(extraction: Any) -> Any:
    predictor = extraction.predictor
    if predictor is None or extraction.final_hidden is None:
        raise ValueError(
            f"{extraction.model_name} is not a causal language model with an unembedding: it predicts no next "
            "token, so there is no prediction for an intervention to change"
        )
    return predictor


def _output_projection(source: LayerSource, layer: int) -> tuple[nn.Module, int]:
    """Layer `layer`'s attention output projection and head count (found by a replay, once per model)."""
    model = source.replayer.model
    found = _PROJECTIONS.setdefault(model, {})
    if layer not in found:
        if source.replayer.route != "sdpa":
            raise ValueError(
                f"{type(model).__name__} does not run its attention through transformers' attention interface, "
                "so attnwidget cannot locate its heads' outputs to intervene on"
            )
        hidden = int(model.config.hidden_size)
        state = _RowState(position=0, batch_index=0, hidden_size=hidden, mode="values")
        with _row_dispatch(model):
            _replay(source, source.recording.get(), layer, state, None, None)
        if state.output_projection is None or state.attention is None:
            raise ValueError(f"layer {layer} of {type(model).__name__} ran no attention on its input")
        found[layer] = (state.output_projection, state.attention.num_heads)
    return found[layer]


def _mlp_projection(source: LayerSource, layer: int, model_name: str) -> tuple[nn.Module, int]:
    projection = source.replayer.projections[layer]
    width = neuron_width(projection)
    if projection is None or width is None:
        raise ValueError(f"the MLP of {model_name} could not be located, so it has no neurons to intervene on")
    return projection, width


def _clean_input(source: LayerSource, batch_index: int, projection: nn.Module, layer: int) -> torch.Tensor:
    """The input of `projection` (inside block `layer`) in the recorded run, [padded seq, width]."""
    recorded = source.recording.get()
    args, kwargs = recorded.block_calls[layer]
    block = source.replayer.blocks[layer]
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, inputs: tuple[Any, ...]) -> None:
        captured.append(inputs[0][batch_index].detach())
        raise _Stop

    with model_lock(source.replayer.model):  # the hook is the module's: no other thread's run meanwhile
        handle = projection.register_forward_pre_hook(hook)
        try:
            with torch.inference_mode():
                block(recorded.block_input(layer, _device_of(block)), *args, **kwargs)
        except _Stop:
            pass
        finally:
            handle.remove()
    if not captured:
        raise ValueError(f"layer {layer}: the projection was not called when the block ran")
    return captured[0]


# ---- the re-run ---------------------------------------------------------------------------------------------
def _batch_row(value: Any, batch: int, row: int) -> Any:
    """Cut the recorded batch's call arguments to one row (tensors of one row broadcast over a new batch)."""
    if isinstance(value, torch.Tensor):
        return value[row : row + 1] if batch > 1 and value.dim() > 0 and value.shape[0] == batch else value
    if isinstance(value, tuple):
        return tuple(_batch_row(v, batch, row) for v in value)
    if isinstance(value, list):
        return [_batch_row(v, batch, row) for v in value]
    if isinstance(value, dict):
        return {k: _batch_row(v, batch, row) for k, v in value.items()}
    return value


def _rerun(
    source: LayerSource,
    batch_index: int,
    copies: int,
    edits: dict[nn.Module, list[_Edit]],
    first: int,
) -> torch.Tensor:
    """Run blocks `first`… on the recorded input of block `first` (one prompt, `copies` times as a batch),
    with `edits` applied to the inputs of those projections. Returns the last block's output
    [copies, padded seq, hidden]."""
    recorded = source.recording.get()
    blocks = source.replayer.blocks
    batch = int(recorded.residual.shape[0])
    hidden = recorded.block_input(first, _device_of(blocks[first]))[batch_index : batch_index + 1]
    hidden = hidden.expand(copies, *hidden.shape[1:]).contiguous()
    with model_lock(source.replayer.model):  # the edits are hooks on the model's modules (see model_lock)
        handles = [module.register_forward_pre_hook(_edit_hook(chosen)) for module, chosen in edits.items()]
        try:
            with torch.inference_mode():
                for layer in range(first, len(blocks)):
                    args, kwargs = _batch_row(recorded.block_calls[layer], batch, batch_index)
                    output = blocks[layer](hidden.to(_device_of(blocks[layer])), *args, **kwargs)
                    hidden = output[0] if isinstance(output, tuple) else output
        finally:
            for handle in handles:
                handle.remove()
    return hidden


def _final_rows(source: LayerSource, rows: torch.Tensor) -> torch.Tensor:
    """The model's final norm applied to last-block outputs (the identity where it has none)."""
    norm = find_final_norm(source.replayer.model)
    if norm is None:
        return rows
    with torch.inference_mode():
        return norm(rows)  # type: ignore[no-any-return]


def _check_final_norm(extraction: Any) -> None:
    """Once per recording: the final norm applied to the recorded last-block output is the model's own last
    hidden state (else the re-run's output would not be what the model unembeds)."""
    source: LayerSource = extraction.layers
    key = ("intervention_final_norm", extraction.batch_index)
    if source.recording.caches.get(key):
        return
    recorded = source.recording.get()
    last = recorded.residual[extraction.batch_index, -1, : extraction.seq_len]
    norm = find_final_norm(source.replayer.model)
    dtype = recorded.input_dtypes[-1] if recorded.input_dtypes else last.dtype
    got = _final_rows(source, last.to(_device(norm), dtype)).float().cpu().numpy()
    want = np.asarray(extraction.final_hidden, dtype=np.float32)
    if not np.allclose(got, want, rtol=1e-3, atol=1e-4 * max(1.0, float(np.abs(want).max()))):
        raise ValueError(
            f"{extraction.model_name}: the module between its last block and its unembedding is not the final "
            "norm attnwidget found, so a re-run's output cannot be unembedded faithfully"
        )
    source.recording.keep(key, True)


def _device(module: nn.Module | None) -> torch.device:
    return _device_of(module) if module is not None else torch.device("cpu")


# Up to this many rows, a plain linear unembedding is computed as weight @ rowsᵀ (see `_logits`).
_FEW_ROWS = 64


def _logits(head: nn.Module, rows: torch.Tensor) -> torch.Tensor:
    """`head(rows)`. For a few rows and a plain linear head, as (weight @ rowsᵀ)ᵀ: the same dot products, but
    BLAS runs the tall product about twice as fast (SmolLM2, 9 rows, 2 cores: 10 ms against 20; the product
    reads the whole 113 MB unembedding either way, so a few rows cost almost what one does)."""
    if type(head) is nn.Linear and rows.dim() == 2 and rows.shape[0] <= _FEW_ROWS:
        logits = (head.weight @ rows.t()).t()
        return logits if head.bias is None else logits + head.bias
    return head(rows)  # type: ignore[no-any-return]


def log_probs(predictor: Any, rows: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Final hidden rows [n, hidden] → float32 log-probabilities [n, vocab] (soft-capped where the model is)."""
    head = predictor.head
    weight = head.weight
    if isinstance(rows, np.ndarray):
        rows = torch.from_numpy(np.ascontiguousarray(rows))
    with torch.inference_mode():
        logits = _logits(head, rows.to(weight.device, weight.dtype)).float()
        if predictor.softcap:
            logits = torch.tanh(logits / predictor.softcap) * predictor.softcap
        return torch.log_softmax(logits, dim=-1).cpu()


# ---- the result -----------------------------------------------------------------------------------------------
class Intervention:
    """The model's predictions on one prompt with some heads' outputs and MLP neurons replaced.

    heads, neurons : the (layer, index) pairs intervened on (normalised); mode : "zero", "mean" or "patch".
    `logprobs(position)`, `top_predictions(position, k)` and `effect(position, target)` read the intervened
    run; `before` is the unmodified extraction.
    """

    def __init__(
        self,
        before: Any,
        final: torch.Tensor | np.ndarray,
        heads: list[tuple[int, int]],
        neurons: list[tuple[int, int]],
        mode: str,
    ) -> None:
        self.before = before
        self.heads = heads
        self.neurons = neurons
        self.mode = mode
        self._final = final  # [seq, hidden]: the intervened last hidden state (after the final norm)
        self._rows: dict[int, np.ndarray] = {}

    def _position(self, position: int) -> int:
        return _index(position, self.before.seq_len, "position", "this prompt's token count")

    def logprobs(self, position: int = -1) -> np.ndarray:
        """float32 [vocab]: log-softmax of the intervened logits after `position`."""
        position = self._position(position)
        if position not in self._rows:
            self._rows[position] = log_probs(self.before.predictor, self._final[position : position + 1])[0].numpy()
        return self._rows[position].copy()

    def top_predictions(self, position: int = -1, k: int = 5) -> list[tuple[str, float]]:
        """The top-k next tokens after `position` as (token text, probability), as `Extraction.top_predictions`."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        row = torch.from_numpy(self.logprobs(position))
        values, ids = row.topk(min(int(k), row.shape[0]))
        texts = self.before.predictor.texts(ids.numpy()[None])[0]
        return [(text, float(p)) for text, p in zip(texts, values.exp().tolist())]

    def effect(self, position: int = -1, target: Any = None) -> dict[str, Any]:
        """How the intervention moves `target` (default: the unmodified run's top prediction) after
        `position`: {"target": its text, "logprob_before", "logprob_after", "delta": after − before,
        "kl": KL(before ‖ after) over the vocabulary, in nats}."""
        position = self._position(position)
        before = before_logprobs(self.before, position)
        target_id = _target_id(self.before, before, target)
        after = self.logprobs(position).astype(np.float64)
        before64 = before.astype(np.float64)
        return {
            "target": self.before.predictor.texts(np.array([[target_id]]))[0][0],
            "logprob_before": float(before64[target_id]),
            "logprob_after": float(after[target_id]),
            "delta": float(after[target_id] - before64[target_id]),
            "kl": float(np.sum(np.exp(before64) * (before64 - after))),
        }

    def __repr__(self) -> str:
        parts = [f"heads={self.heads}"] if self.heads else []
        parts += [f"neurons={self.neurons}"] if self.neurons else []
        return f"Intervention({self.mode}: {', '.join(parts) or 'nothing'}, prompt={self.before.prompt[:40]!r})"


def before_logprobs(extraction: Any, position: int) -> np.ndarray:
    """The unmodified run's log-probabilities after `position` (read only). The last position asked for is
    kept with the recording: a view asks for the same one with every ablation, and each row costs a read of
    the whole unembedding (about 8 ms for SmolLM2's 113 MB on 2 cores)."""
    key = ("intervention_before", extraction.batch_index)
    kept = extraction.layers.recording.caches.get(key)
    if kept is None or kept[0] != position:
        row = log_probs(extraction.predictor, extraction.final_hidden[position : position + 1])[0].numpy()
        row.flags.writeable = False
        kept = extraction.layers.recording.keep(key, (position, row))
    return kept[1]  # type: ignore[no-any-return]


def _target_id(extraction: Any, before: np.ndarray, target: Any) -> int:
    if target is None:
        return int(np.argmax(before))
    return resolve_token(extraction.predictor, target, "target")


# ---- building interventions ---------------------------------------------------------------------------------
def _components(
    extraction: Any, heads: Any, neurons: Any
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int, int]:
    """Normalised (heads, neurons), checked against the model; also its layer and head counts."""
    layers, num_heads = extraction.num_layers, extraction.num_heads
    chosen_heads = []
    for layer, head in _pairs(heads, "heads"):
        layer = _index(layer, layers, "layer", "this model's layer count")
        chosen_heads.append((layer, _index(head, num_heads, "head", "each layer's head count")))
    chosen_neurons = []
    for layer, neuron in _pairs(neurons, "neurons"):
        layer = _index(layer, layers, "layer", "this model's layer count")
        _projection, width = _mlp_projection(extraction.layers, layer, extraction.model_name)
        chosen_neurons.append((layer, _index(neuron, width, "neuron", f"layer {layer}'s MLP width")))
    return list(dict.fromkeys(chosen_heads)), list(dict.fromkeys(chosen_neurons)), layers, num_heads


def _check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    return str(mode)


def _head_columns(projection: nn.Module, num_heads: int, head: int) -> slice:
    features = _in_out_features(projection)
    assert features is not None
    dim = features[0] // num_heads
    return slice(head * dim, (head + 1) * dim)


def _finish(extraction: Any, edits: dict[nn.Module, list[_Edit]], first: int | None) -> torch.Tensor | np.ndarray:
    """The intervened final hidden state [seq, hidden] (the recorded one when nothing is intervened on)."""
    if first is None:
        return np.asarray(extraction.final_hidden)
    _check_final_norm(extraction)
    output = _rerun(extraction.layers, extraction.batch_index, 1, edits, first)
    return _final_rows(extraction.layers, output[0, : extraction.seq_len])


def ablate(extraction: Any, heads: Any, neurons: Any, mode: Any) -> Intervention:
    """`Extraction.ablate`."""
    _require_predictor(extraction)
    mode = _check_mode(mode)
    chosen_heads, chosen_neurons, _layers, _num_heads = _components(extraction, heads, neurons)
    source: LayerSource = extraction.layers
    b, length = extraction.batch_index, extraction.seq_len
    edits: dict[nn.Module, list[_Edit]] = {}
    for layer, head in chosen_heads:
        projection, num_heads = _output_projection(source, layer)
        columns = _head_columns(projection, num_heads, head)
        values = None
        if mode == "mean":
            values = _clean_input(source, b, projection, layer)[:length, columns].mean(0)
        edits.setdefault(projection, []).append(_Edit(columns=columns, values=values))
    for layer, neuron in chosen_neurons:
        projection, _width = _mlp_projection(source, layer, extraction.model_name)
        columns = slice(neuron, neuron + 1)
        values = None
        if mode == "mean":
            mlp = source.mlp(layer)
            assert mlp is not None
            values = mlp[b, :length, columns].mean(0)
        edits.setdefault(projection, []).append(_Edit(columns=columns, values=values))
    layers_touched = [layer for layer, _ in chosen_heads + chosen_neurons]
    first = min(layers_touched) if layers_touched else None
    return Intervention(extraction, _finish(extraction, edits, first), chosen_heads, chosen_neurons, mode)


def patch(target: Any, source: Any, heads: Any, neurons: Any, positions: Any) -> Intervention:
    """`Extraction.patch`: `target`'s prompt with those components' outputs taken from `source`'s run."""
    _require_predictor(target)
    if not hasattr(source, "layers") or not hasattr(source, "input_ids"):
        raise TypeError(f"source must be an Extraction, got {type(source).__name__}")
    if source.layers.replayer.model is not target.layers.replayer.model:
        raise ValueError("source was run by another model: patching takes both prompts' runs from the same model")
    if positions is None:
        if source.seq_len != target.seq_len:
            raise ValueError(
                f"the prompts have {target.seq_len} (target) and {source.seq_len} (source) tokens: give "
                "positions=[(target_position, source_position), ...] to say which rows to patch"
            )
        pairs = [(i, i) for i in range(target.seq_len)]
    else:
        pairs = [
            (
                _index(t, target.seq_len, "target position", "the target prompt's token count"),
                _index(s, source.seq_len, "source position", "the source prompt's token count"),
            )
            for t, s in _pairs(positions, "positions")
        ]
    chosen_heads, chosen_neurons, _layers, _num_heads = _components(target, heads, neurons)
    if not pairs:
        return Intervention(target, np.asarray(target.final_hidden), chosen_heads, chosen_neurons, "patch")
    to_rows = torch.tensor([t for t, _ in pairs])
    from_rows = torch.tensor([s for _, s in pairs])
    layer_source: LayerSource = target.layers
    edits: dict[nn.Module, list[_Edit]] = {}
    clean: dict[nn.Module, torch.Tensor] = {}
    for layer, head in chosen_heads:
        projection, num_heads = _output_projection(layer_source, layer)
        if projection not in clean:
            clean[projection] = _clean_input(source.layers, source.batch_index, projection, layer)
        columns = _head_columns(projection, num_heads, head)
        values = clean[projection][from_rows.to(clean[projection].device), columns]
        edits.setdefault(projection, []).append(_Edit(columns=columns, values=values, positions=to_rows))
    for layer, neuron in chosen_neurons:
        projection, _width = _mlp_projection(layer_source, layer, target.model_name)
        mlp = source.layers.mlp(layer)
        assert mlp is not None
        rows = mlp[source.batch_index]
        values = rows[from_rows.to(rows.device), neuron : neuron + 1]
        edits.setdefault(projection, []).append(
            _Edit(columns=slice(neuron, neuron + 1), values=values, positions=to_rows)
        )
    layers_touched = [layer for layer, _ in chosen_heads + chosen_neurons]
    first = min(layers_touched) if layers_touched else None
    return Intervention(target, _finish(target, edits, first), chosen_heads, chosen_neurons, "patch")


# ---- head effects ---------------------------------------------------------------------------------------------
# Call arguments of a block that index positions, by parameter name: for each number of dimensions, which
# dimensions (counted from the end) are positions. A head-effects re-run cuts them to the positions it needs.
_POSITION_DIMS: dict[str, dict[int, tuple[int, ...]]] = {
    "attention_mask": {4: (-2, -1), 2: (-1,)},  # [batch, heads, query, key] or [batch, key]
    "position_ids": {2: (-1,), 1: (-1,)},
    "cache_position": {1: (-1,)},
    "position_embeddings": {3: (-2,)},  # (cos, sin), each [batch, positions, dim]
}


class _Uncuttable(Exception):
    """A call argument that may hold positions in a layout `_cut_positions` does not know."""


def _cut_value(value: Any, name: str | None, length: int, keep: int) -> Any:
    """`value` (a call argument named `name`) with its position dimensions cut from `length` to `keep`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_cut_value(v, name, length, keep) for v in value)
    if not isinstance(value, torch.Tensor):
        raise _Uncuttable  # a cache or other object: it may hold positions too
    dims = _POSITION_DIMS.get(name or "", {}).get(value.dim())
    if dims is None:
        if length in value.shape[1:]:  # an argument with an unknown layout that may index positions
            raise _Uncuttable
        return value
    if any(value.shape[d] != length for d in dims):
        raise _Uncuttable
    for d in dims:
        value = value.narrow(d, 0, keep)
    return value


def _cut_positions(block: nn.Module, call: Any, length: int, keep: int) -> Any:
    """A block's recorded (args, kwargs) for the first `keep` of its `length` positions, or None where an
    argument cannot be cut consistently (then the re-run keeps every position)."""
    args, kwargs = call
    try:
        parameters = list(inspect.signature(block.forward).parameters.values())[1:]  # after hidden_states
    except (TypeError, ValueError):
        return None
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    try:
        cut_args = tuple(
            _cut_value(value, positional[i] if i < len(positional) else None, length, keep)
            for i, value in enumerate(args)
        )
        cut_kwargs = {name: _cut_value(value, name, length, keep) for name, value in kwargs.items()}
    except _Uncuttable:
        return None
    return cut_args, cut_kwargs


def _expanding_edit_hook(edits: list[_Edit], copies: int) -> Any:
    """`_edit_hook` for a projection that receives one prompt and hands on `copies` of it, each edited."""
    edit = _edit_hook(edits)

    def hook(module: nn.Module, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        x = inputs[0]
        return edit(module, (x.expand(copies, *x.shape[1:]), *inputs[1:]))  # type: ignore[no-any-return]

    return hook


class _HeadEffectsRun:
    """The re-runs of one `head_effects` call: blocks `first`..L-1 on `copies` copies of the prompt, each
    with one head of layer `first` ablated, reading the last block's output at `position` only.

    Exact savings over `_rerun` (each is the model's own computation on the rows that are read):
      * block `first` runs on one copy up to its output projection (its input, norm, query/key/value and
        attention are the same for every copy); the projection's input is expanded to the copies there, and
        the block's residual addition broadcasts;
      * causal attention: no position after `position` reaches it, so positions after it are cut from the
        run when the recorded call arguments can be cut consistently (`_cut_positions`);
      * the last block computes its query projection, attention output projection and MLP for the row
        `position` only (attribution's `_cut_rows`); its keys and values still cover every position.
    """

    def __init__(self, extraction: Any, position: int) -> None:
        source: LayerSource = extraction.layers
        # Held until the last layer: a recording dropped meanwhile (memory budget) stays valid for this run.
        self.recorded = source.recording.get()
        self.blocks = source.replayer.blocks
        self.batch_index = extraction.batch_index
        self.position = position
        batch, length = int(self.recorded.residual.shape[0]), int(self.recorded.residual.shape[2])
        calls = [
            _batch_row(self.recorded.block_calls[layer], batch, self.batch_index) for layer in range(len(self.blocks))
        ]
        cut = [_cut_positions(block, call, length, position + 1) for block, call in zip(self.blocks, calls)]
        if all(call is not None for call in cut):
            calls, self.length = cut, position + 1
        else:
            self.length = length  # every position (a padded row's padding too)
        self.calls = calls  # each block's call arguments, cut once for all the re-runs
        model = self.model = source.replayer.model
        structure = _structure(model)
        last = len(self.blocks) - 1
        self.hidden_size = int(model.config.hidden_size)
        # The last block's modules that work row by row and run on the position's row only.
        self.row_modules = [
            module
            for module in (structure.queries[last], _output_projection(source, last)[0], structure.mlps[last])
            if module is not None
        ]

    def rows(self, first: int, copies: int, edits: dict[nn.Module, list[_Edit]]) -> torch.Tensor:
        """The last block's output at `position` [copies, hidden], `edits` applied in block `first`."""
        with model_lock(self.model):  # the edits and row cuts are hooks on the model's modules (see model_lock)
            return self._rows(first, copies, edits)

    def _rows(self, first: int, copies: int, edits: dict[nn.Module, list[_Edit]]) -> torch.Tensor:
        block = self.blocks[first]
        hidden = self.recorded.block_input(first, _device_of(block))[self.batch_index : self.batch_index + 1]
        hidden = hidden[:, : self.length]
        handles = [
            module.register_forward_pre_hook(_expanding_edit_hook(chosen, copies)) for module, chosen in edits.items()
        ]
        state = _RowState(position=self.position, batch_index=0, hidden_size=self.hidden_size, mode="block")
        try:
            for module in self.row_modules:
                _cut_rows(module, state, None)
            with torch.inference_mode():
                for layer in range(first, len(self.blocks)):
                    args, kwargs = self.calls[layer]
                    output = self.blocks[layer](hidden.to(_device_of(self.blocks[layer])), *args, **kwargs)
                    hidden = output[0] if isinstance(output, tuple) else output
        finally:
            for handle in handles + state.handles:
                handle.remove()
        if hidden.shape[0] != copies:
            raise ValueError(f"block {first} did not hand on the {copies} copies its output projection received")
        return hidden[:, self.position]


def head_effects_target(extraction: Any, position: Any = -1, target: Any = None) -> tuple[int, int]:
    """(position in 0..seq_len-1, target token id): what `head_effects(extraction, position, target)` measures,
    `target` being resolved, or the unmodified run's top prediction after `position` when None. Raises as
    `head_effects` does for a bad position or target, or a model that predicts no next token."""
    position, target_id, _before = _effects_target(extraction, position, target)
    return position, target_id


def _effects_target(extraction: Any, position: Any, target: Any) -> tuple[int, int, float]:
    """(position, target id, the target's log-probability in the unmodified run)."""
    _require_predictor(extraction)
    position = _index(position, extraction.seq_len, "position", "this prompt's token count")
    before = before_logprobs(extraction, position)
    target_id = _target_id(extraction, before, target)
    return position, target_id, float(before[target_id])


def iter_head_effects(
    extraction: Any, position: Any = -1, target: Any = None, mode: Any = "zero"
) -> Iterator[tuple[int, np.ndarray]]:
    """`head_effects` one layer at a time: (layer, float64 [heads]) for layers 0..L-1 in order. The arguments
    are checked at the call, before any layer is computed (a bad one raises here, not at the first `next`).
    Hooks are on the model only while a layer's re-run runs: a generator closed early leaves none behind."""
    _require_predictor(extraction)
    mode = _check_mode(mode)
    position, target_id, before = _effects_target(extraction, position, target)
    _check_final_norm(extraction)
    run = _HeadEffectsRun(extraction, position)  # finds the model's heads (or says why it cannot) now
    return _layer_effects(extraction, run, target_id, before, mode)


def _layer_effects(
    extraction: Any, run: _HeadEffectsRun, target_id: int, before: float, mode: str
) -> Iterator[tuple[int, np.ndarray]]:
    source: LayerSource = extraction.layers
    for layer in range(extraction.num_layers):
        projection, heads = _output_projection(source, layer)
        means = None
        if mode == "mean":
            means = _clean_input(source, extraction.batch_index, projection, layer)[: extraction.seq_len].mean(0)
        chosen = []
        for head in range(heads):
            columns = _head_columns(projection, heads, head)
            chosen.append(_Edit(columns=columns, values=None if means is None else means[columns], row=head))
        rows = _final_rows(source, run.rows(layer, heads, {projection: chosen}))
        after = log_probs(extraction.predictor, rows)[:, target_id].double().numpy()
        yield layer, after - before


def head_effects(extraction: Any, position: Any, target: Any, mode: Any, progress: bool = True) -> np.ndarray:
    """`Extraction.head_effects`: the rows of `iter_head_effects` as float64 [layers, heads]."""
    from tqdm.auto import tqdm

    layers = iter_head_effects(extraction, position, target, mode)
    effects = np.zeros((extraction.num_layers, extraction.num_heads), dtype=np.float64)
    with tqdm(total=effects.size, desc="head effects", unit="head", disable=not progress, leave=False) as bar:
        for layer, row in layers:
            effects[layer] = row
            bar.update(row.size)
    return effects
