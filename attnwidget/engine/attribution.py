"""What heads, MLPs and neurons write toward a prediction: direct logit attribution, value-weighted attention
and neuron logit effects, exact by their definitions.

**Logit attribution** (`logit_attribution`). The final residual stream at a position is the sum of the
embeddings, every head's output (its slice of the attention output projection times its slice of the
projection's input; bias excluded), every output-projection bias and every MLP output. Each part goes
through the final norm with the norm's scale frozen at its real value at that position (LayerNorm: centred,
divided by the real standard deviation; RMSNorm: divided by the real root mean square), then through the
unembedding row of the target (minus that of the contrast). The parts add up to the model's own logit.

It needs, per layer, only the position's attention row. Each block is run again on its recorded input (the
recorded pass of `capture.LayerReplayer`) with attention dispatched to `_row_attention`: it receives the
module's own post-RoPE query, key and value (so any architecture that uses transformers' attention interface
works) and computes softmax(q_p · Kᵀ · scale + mask) and its output for the one query row p. A separate
query projection (`q_proj`) is cut to that row by hooks. So a layer costs its input norm and key/value
projections over the prompt, and the rest for one row; the block stops there, and the MLP's output at p is
the block's recorded output minus its input minus the attention output.

That subtraction is only right for blocks that add attention and MLP outputs to their input. So the first
attribution of a model runs each block on through its output projection and MLP (cut to the row, the
block's own numbers) and checks, per layer, that the heads add up to the attention output and that input +
attention + MLP gives the recorded output; blocks with norms after attention or MLP (whose outputs are no
sum of head outputs) are refused. Every attribution checks that the frozen final norm applied to the last
residual row gives the model's own final hidden state.

**Value-weighted attention** (`value_weighted`): αᵢⱼ · ‖W_Oʰ vⱼʰ‖ (Kobayashi et al. 2020), the value with
its bias, the output projection without; grouped-query heads read their shared value head. α comes from the
same `LayerAttentionInputs.weights` as the plain maps.

**Neuron logit effects** (`neuron_logit_effects`): a neuron's output direction (its column of the MLP
output projection) times the final norm's weight, through the unembedding.
"""

from __future__ import annotations

import contextvars
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .capture import (
    AttentionRecorder,
    LayerAttentionInputs,
    LayerSource,
    _in_out_features,
    _mask_rows,
    find_layer_blocks,
    find_mlp_output_projection,
    model_lock,
)
from .lens import find_final_norm

_ROW_IMPLEMENTATION = "attnwidget_row"
_KEEP_POSITIONS = 4
_KEEP_LAYERS = 2


@dataclass
class LogitAttribution:
    """How much each part of the model writes toward `target` (minus `contrast`) at `position`.

    heads : float64 [layers, heads], each head's output through the frozen final norm and unembedding.
    mlp : float64 [layers], each MLP's output (its bias included).
    embeddings : the token (and position) embeddings.
    biases : every bias term: the attention output projections', the final norm's and the unembedding's.
    logit : the model's own logit of `target` at `position` (minus that of `contrast`).
    total : the sum of the parts; equals `logit` up to float error.
    """

    position: int
    target: str
    target_id: int
    contrast: str | None
    contrast_id: int | None
    heads: np.ndarray
    mlp: np.ndarray
    embeddings: float
    biases: float
    logit: float

    @property
    def total(self) -> float:
        return float(self.embeddings + self.heads.sum() + self.mlp.sum() + self.biases)

    def top_heads(self, k: int = 10) -> list[tuple[int, int, float]]:
        """The `k` heads with the largest |value|, as (layer, head, value), largest first."""
        flat = np.abs(self.heads).ravel()
        order = np.argsort(-flat, kind="stable")[:k]
        width = self.heads.shape[1]
        return [(int(i) // width, int(i) % width, float(self.heads.flat[i])) for i in order]


# ---- the final norm, frozen ---------------------------------------------------------------------------
@dataclass
class FrozenNorm:
    """The final norm as ``D(x) / s · weight + bias``, D centring (LayerNorm) or not (RMSNorm); s is the
    real scale at one position. Weight and bias are read by running the module on probe vectors, so
    Gemma's ``(1 + weight)`` and norms without bias need no special case."""

    center: bool
    weight: np.ndarray  # float64 [hidden]
    bias: np.ndarray  # float64 [hidden]
    eps: float

    def scale(self, x: np.ndarray) -> float:
        x = np.asarray(x, dtype=np.float64)
        spread = x.var() if self.center else np.mean(x * x)
        return float(np.sqrt(spread + self.eps))

    def apply(self, x: np.ndarray, scale: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return (x - x.mean() if self.center else x) / scale * self.weight + self.bias

    def direction(self, u: np.ndarray, scale: float) -> np.ndarray:
        """r such that ``(D(c) / scale · weight) · u == c · r`` for any part c (centring is self-adjoint)."""
        wu = self.weight * u
        return (wu - wu.mean() if self.center else wu) / scale


def frozen_norm(norm: nn.Module | None, hidden: int) -> FrozenNorm:
    if norm is None:
        return FrozenNorm(center=False, weight=np.ones(hidden), bias=np.zeros(hidden), eps=0.0)
    eps = 0.0
    for name in ("eps", "variance_epsilon", "epsilon", "layer_norm_eps"):
        value = getattr(norm, name, None)
        if isinstance(value, (int, float)):
            eps = float(value)
            break
    parameter = next(norm.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None else torch.float32
    signs = torch.ones(hidden, dtype=torch.float64)
    signs[1::2] = -1.0  # mean 0 (even width), mean square 1, variance 1
    probes = torch.stack([torch.zeros(hidden, dtype=torch.float64), signs, torch.ones(hidden, dtype=torch.float64)])
    with torch.inference_mode():
        out = norm(probes.to(device, dtype)).double().cpu().numpy()
    bias = out[0]
    weight = (out[1] - bias) * signs.numpy() * np.sqrt(1.0 + eps)
    center = bool(np.allclose(out[2], bias, atol=1e-6 * max(1.0, float(np.abs(weight).max()))))
    return FrozenNorm(center=center, weight=weight, bias=bias, eps=eps)


# ---- one attention row, inside a replayed block ------------------------------------------------------
class _Stop(Exception):
    """Ends a replayed block once what was needed from it is captured."""


@dataclass
class _RowState:
    """What a replay of one block asks for and what it captured (in a ContextVar while it runs)."""

    position: int
    batch_index: int
    hidden_size: int
    # "values": keep query, key and value, then stop (value_weighted); "heads": also compute the row's head
    # inputs, then stop; "block": go on through the output projection and the MLP, cut to the row.
    mode: str
    attention: LayerAttentionInputs | None = None
    value: torch.Tensor | None = None  # [batch, kv_heads, seq, head_dim]
    output_projection: nn.Module | None = None
    head_inputs: torch.Tensor | None = None  # [heads, head_dim]: the position's row of the o_proj input
    attention_output: torch.Tensor | None = None  # [hidden]: o_proj output at the position (bias included)
    mlp_output: torch.Tensor | None = None  # [hidden]
    handles: list[Any] = field(default_factory=list)


_ACTIVE: contextvars.ContextVar[_RowState | None] = contextvars.ContextVar("attnwidget_row_state", default=None)


def _sdpa() -> Callable[..., Any]:
    from transformers.modeling_utils import AttentionInterface

    return AttentionInterface._global_mapping["sdpa"]  # type: ignore[return-value]


def _row_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *args: Any,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    state = _ACTIVE.get()
    if state is None:  # another use of the model while a replay switched it: behave as sdpa
        return _sdpa()(module, query, key, value, attention_mask, *args, **kwargs)  # type: ignore[no-any-return]
    recorder = AttentionRecorder(first_index=0)
    recorder.record_sdpa_call(module, query, key, attention_mask, kwargs)
    state.attention = next(iter(recorder.layers.values()))
    state.value = value.detach()
    state.output_projection = _output_projection(module, query.shape[1] * query.shape[-1], state.hidden_size)
    if state.mode == "values":
        raise _Stop
    p, b = state.position, state.batch_index
    unusual = any(kwargs.get(name) is not None for name in ("softcap", "s_aux", "sinks"))
    if unusual:  # what the plain maps do not model either: let sdpa compute it, and take the row
        output, _ = _sdpa()(module, query, key, value, attention_mask, *args, **kwargs)
        row = output[b, p].float()  # [heads, head_dim]
    else:
        weights = attention_row(state.attention, b, p, int(key.shape[2]))  # [heads, keys]
        group = query.shape[1] // value.shape[1]
        values = value[b].float().repeat_interleave(group, dim=0)[:, : weights.shape[1]]  # [heads, keys, dim]
        row = torch.matmul(weights.unsqueeze(1), values).squeeze(1)
    state.head_inputs = row
    if state.mode == "heads":
        raise _Stop
    _cut_rows(state.output_projection, state, "attention_output")
    batch, q_len = query.shape[0], query.shape[2]
    return row.to(query.dtype)[None, None].expand(batch, q_len, *row.shape), None


def attention_row(inputs: LayerAttentionInputs, batch_index: int, position: int, length: int) -> torch.Tensor:
    """Attention weights of query `position` over keys 0..length-1, float32 [heads, length]: one row of
    `LayerAttentionInputs.weights`, computed the same way."""
    assert inputs.query is not None and inputs.key is not None
    heads = list(range(inputs.num_heads))
    group = inputs.num_heads // inputs.num_kv_heads
    query = inputs.query[batch_index, :, position].float()  # [heads, dim]
    key = inputs.key[batch_index, :, :length].float().repeat_interleave(group, dim=0)  # [heads, length, dim]
    scores = torch.matmul(key, query.unsqueeze(-1)).squeeze(-1).mul_(inputs.scaling)  # [heads, length]
    if inputs.additive_mask is not None:
        scores = scores + _mask_rows(inputs.additive_mask, batch_index, heads)[..., position, :length].float()
    if inputs.bool_mask is not None:
        allowed = _mask_rows(inputs.bool_mask, batch_index, heads)[..., position, :length]
        scores = scores.masked_fill(~allowed, float("-inf"))
    if inputs.causal:
        scores[:, position + 1 :] = float("-inf")
    return torch.softmax(scores, dim=-1).nan_to_num_(nan=0.0)


def _output_projection(module: nn.Module, width: int, hidden: int) -> nn.Module:
    """The attention's output projection: the last projection inside it from the heads' width to hidden."""
    found = None
    for _name, child in module.named_modules():
        features = _in_out_features(child)
        if features == (width, hidden):
            found = child
    if found is None:
        raise ValueError(f"the attention output projection of {type(module).__name__} could not be located")
    return found


@dataclass
class _Structure:
    """Where things are in a model's blocks (found once per model)."""

    blocks: nn.ModuleList
    mlps: list[nn.Module | None]  # the module holding each MLP's output projection
    queries: list[nn.Module | None]  # each attention's own query projection (`q_proj`), where it has one
    configs: list[Any]  # every config object the modules read their attention implementation from
    # Every block checked to be input + attention output + MLP output (by running attention and MLP on a row
    # once): from then on an MLP's output is its block's output minus input minus attention output.
    additive: bool = False


_STRUCTURES: weakref.WeakKeyDictionary[nn.Module, _Structure] = weakref.WeakKeyDictionary()


def _structure(model: Any) -> _Structure:
    found = _STRUCTURES.get(model)
    if found is None:
        blocks = find_layer_blocks(model)
        hidden = int(model.config.hidden_size)
        configs = {id(model.config): model.config}
        for module in model.modules():
            config = getattr(module, "config", None)
            if config is not None and hasattr(config, "_attn_implementation_internal"):
                configs[id(config)] = config
        found = _Structure(
            blocks=blocks,
            mlps=[_mlp_module(block, hidden) for block in blocks],
            queries=[_query_projection(block) for block in blocks],
            configs=list(configs.values()),
        )
        _STRUCTURES[model] = found
    return found


def _mlp_module(block: nn.Module, hidden: int) -> nn.Module | None:
    """The MLP: the module holding the MLP's output projection (its output is what the block adds)."""
    projection = find_mlp_output_projection(block, hidden)
    if projection is None:
        return None
    names = {id(module): name for name, module in block.named_modules()}
    parent_name = names[id(projection)].rpartition(".")[0]
    return block.get_submodule(parent_name) if parent_name else None


def _query_projection(block: nn.Module) -> nn.Module | None:
    """The attention's separate query projection, if any (fused ones such as GPT-2's `c_attn` are not)."""
    for name, module in block.named_modules():
        if name.rpartition(".")[2] == "q_proj" and isinstance(module, nn.Linear):
            return module
    return None


@contextmanager
def _row_dispatch(model: Any) -> Iterator[None]:
    """Dispatch the model's attention to `_row_attention` for a while (the configs' implementation name is
    switched directly: `set_attn_implementation` walks every module, 1.5 ms a call)."""
    from transformers.modeling_utils import AttentionInterface

    if AttentionInterface._global_mapping.get(_ROW_IMPLEMENTATION) is not _row_attention:
        AttentionInterface.register(_ROW_IMPLEMENTATION, _row_attention)
    configs = _structure(model).configs
    with model_lock(model):  # the setting (and the hooks `_replay` adds) are the model's, not the thread's
        previous = [config._attn_implementation_internal for config in configs]
        for config in configs:
            config._attn_implementation_internal = _ROW_IMPLEMENTATION
        try:
            with torch.inference_mode():
                yield
        finally:
            for config, name in zip(configs, previous):
                config._attn_implementation_internal = name


def _cut_rows(module: nn.Module, state: _RowState, capture: str | None, stop: bool = False) -> None:
    """Hooks that run `module` on the position's row only and hand the block that row broadcast over the
    sequence (the other rows are never read). `capture`: the _RowState field that keeps the output row."""
    p, b = state.position, state.batch_index
    length: list[int] = []

    def before(_module: nn.Module, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        length.append(int(inputs[0].shape[-2]))
        return (inputs[0][..., p : p + 1, :], *inputs[1:])

    def after(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        if capture is not None:
            setattr(state, capture, output[b, 0].detach())
        if stop and state.attention_output is not None:
            raise _Stop
        return output.expand(*output.shape[:-2], length[0], output.shape[-1])

    state.handles.append(module.register_forward_pre_hook(before))
    state.handles.append(module.register_forward_hook(after))


def _replay(
    source: LayerSource, recorded: Any, layer: int, state: _RowState, mlp: nn.Module | None, query: nn.Module | None
) -> None:
    """Run block `layer` on its recorded input, inside `_row_dispatch`. `mlp` and `query` (when given) are
    cut to the position's row: the query projection is the one work over the whole prompt that one
    attention row does not need."""
    args, kwargs = recorded.block_calls[layer]
    block = source.replayer.blocks[layer]
    hidden = recorded.block_input(layer, _device_of(block))
    if mlp is not None:
        _cut_rows(mlp, state, "mlp_output", stop=True)
    if query is not None:
        _cut_rows(query, state, None)
    token = _ACTIVE.set(state)
    try:
        block(hidden, *args, **kwargs)
    except _Stop:
        pass
    finally:
        _ACTIVE.reset(token)
        for handle in state.handles:
            handle.remove()
        state.handles.clear()


def _check_route(source: LayerSource) -> None:
    replayer = source.replayer
    if replayer.route != "sdpa":
        raise ValueError(
            f"{type(replayer.model).__name__} does not run its attention through transformers' attention "
            "interface, so attnwidget cannot replay one attention row of it"
        )


def _device_of(module: nn.Module) -> torch.device:
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


def _projection_weight(projection: nn.Module) -> torch.Tensor:
    """The weight as [out, in] (transformers' Conv1D stores [in, out])."""
    weight: torch.Tensor = projection.weight  # type: ignore[assignment]
    return weight.t() if type(projection).__name__ == "Conv1D" else weight


def _projection_bias(projection: nn.Module, hidden: int) -> np.ndarray:
    bias = getattr(projection, "bias", None)
    if not isinstance(bias, torch.Tensor):
        return np.zeros(hidden)
    return bias.detach().double().cpu().numpy()  # type: ignore[no-any-return]


# ---- logit attribution -----------------------------------------------------------------------------------
@dataclass
class PositionParts:
    """The final residual stream at one position, split into its parts (float64, residual space)."""

    embeddings: np.ndarray  # [hidden]
    heads: np.ndarray  # [layers, heads, hidden]
    attention_bias: np.ndarray  # [layers, hidden]
    mlp: np.ndarray  # [layers, hidden]
    final: np.ndarray  # [hidden]: the last residual row (before the final norm)


def replay_for_rows(source: LayerSource, batch_index: int, layer: int, position: int) -> LayerAttentionInputs:
    """Run block `layer` once for two uses: its attention inputs over the whole prompt, returned (what a
    layer's maps are computed from, as `LayerSource.attention_inputs` gives them), and what
    `position_parts` needs of it at `position`, kept with the recorded pass (the query projection is not
    cut to the row here: the maps need every row of it). A pass over every layer's maps that calls this
    for each layer saves the logit attribution at `position` a replay of every block."""
    _check_route(source)
    model = source.replayer.model
    structure = _structure(model)
    mlp = structure.mlps[layer]
    check = not structure.additive and mlp is not None
    state = _RowState(position, batch_index, int(model.config.hidden_size), mode="block" if check else "heads")
    with _row_dispatch(model):
        _replay(source, source.recording.get(), layer, state, mlp if check else None, None)
    if state.attention is None or state.head_inputs is None:
        raise ValueError(f"layer {layer} ran no attention on its input")
    # Only the row's numbers are kept: the prompt-long query, key and value go with the returned inputs.
    kept = _RowState(
        position,
        batch_index,
        state.hidden_size,
        mode=state.mode,
        output_projection=state.output_projection,
        head_inputs=state.head_inputs,
        attention_output=state.attention_output,
        mlp_output=state.mlp_output,
    )
    key = ("row_states", batch_index)
    rows: dict[int, dict[int, _RowState]] = source.recording.caches.get(key) or {}
    if position in rows and layer not in rows[position]:
        rows[position][layer] = kept
        source.recording.grow(key, rows, kept)  # one more layer: only its bytes are counted
    else:
        # Another position (a new pass over the layers), or a layer replaced: counted again whole.
        rows = {position: {**rows.get(position, {}), layer: kept}}
        source.recording.keep(key, rows)
    return state.attention


def position_parts(source: LayerSource, batch_index: int, position: int, model_name: str) -> PositionParts:
    """Replay every block for one position (see the module docstring) and check that the parts add up.
    Blocks already run for this position by `replay_for_rows` are not run again."""
    _check_route(source)
    model = source.replayer.model
    structure = _structure(model)
    hidden = int(model.config.hidden_size)
    recorded = source.recording.get()
    residual = recorded.residual[batch_index, :, position].double().cpu().numpy()  # [layers + 1, hidden]
    check = not structure.additive
    kept: dict[int, _RowState] = (source.recording.caches.get(("row_states", batch_index)) or {}).get(position, {})
    states = []
    with _row_dispatch(model):
        for layer, mlp in enumerate(structure.mlps):
            if check and mlp is None:
                raise ValueError(f"the MLP of {model_name} could not be located, so its output cannot be attributed")
            state = kept.get(layer)
            if state is None or (check and state.mode != "block"):
                state = _RowState(position, batch_index, hidden, mode="block" if check else "heads")
                _replay(source, recorded, layer, state, mlp if check else None, structure.queries[layer])
            states.append(state)
    heads, biases, mlps = [], [], []
    for layer, state in enumerate(states):
        if state.head_inputs is None or state.output_projection is None:
            raise ValueError(f"layer {layer} of {model_name} ran no attention on its input")
        weight = _projection_weight(state.output_projection).detach()  # [hidden, heads · dim]
        z = state.head_inputs.to(weight.dtype)  # [heads, dim]
        num_heads, dim = z.shape
        per_head = (weight.reshape(hidden, num_heads, dim) * z).sum(-1).t().double().cpu().numpy()  # [heads, hidden]
        bias = _projection_bias(state.output_projection, hidden)
        attention = per_head.sum(0) + bias
        mlp_out = residual[layer + 1] - residual[layer] - attention
        if check:
            if state.attention_output is None or state.mlp_output is None:
                raise ValueError(f"layer {layer} of {model_name} did not run as attention, then MLP, on its input")
            real_attention = state.attention_output.double().cpu().numpy()
            real_mlp = state.mlp_output.double().cpu().numpy()
            _check_sum(attention, real_attention, f"layer {layer}'s heads and its attention output", model_name)
            _check_sum(
                residual[layer] + real_attention + real_mlp,
                residual[layer + 1],
                f"layer {layer}'s input, attention and MLP outputs and its output (a norm after attention or MLP?)",
                model_name,
            )
        heads.append(per_head)
        biases.append(bias)
        mlps.append(mlp_out)
    structure.additive = True
    return PositionParts(
        embeddings=residual[0],
        heads=np.stack(heads),
        attention_bias=np.stack(biases),
        mlp=np.stack(mlps),
        final=residual[-1],
    )


def _check_sum(got: np.ndarray, want: np.ndarray, what: str, model_name: str) -> None:
    size = max(float(np.linalg.norm(want)), float(np.linalg.norm(got)), 1.0)
    if float(np.linalg.norm(got - want)) > 1e-4 * size:
        raise ValueError(f"{model_name}: {what} do not add up, so its blocks cannot be split into head outputs")


def resolve_token(predictor: Any, value: Any, what: str) -> int:
    """A target or contrast (a token id, or a text that is exactly one token) → a token id."""
    vocab = int(predictor.head.weight.shape[0])
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be a token id (int) or a one-token text (str), got {value!r}")
    if isinstance(value, (int, np.integer)):
        if not 0 <= int(value) < vocab:
            raise ValueError(f"{what} {int(value)} is not a token id: the vocabulary has {vocab} (0..{vocab - 1})")
        return int(value)
    if isinstance(value, str):
        ids = list(predictor.tokenizer.encode(value, add_special_tokens=False))
        if len(ids) != 1:
            pieces = ", ".join(repr(predictor.tokenizer.decode([i])) for i in ids)
            raise ValueError(
                f"{what} {value!r} is {len(ids)} tokens ({pieces or 'none'}), not one: give the text of one "
                "token or its id"
            )
        if not 0 <= ids[0] < vocab:
            raise ValueError(f"{what} {value!r} is token {ids[0]}, outside the model's vocabulary of {vocab}")
        return int(ids[0])
    raise TypeError(f"{what} must be a token id (int) or a one-token text (str), got {type(value).__name__}")


def logit_attribution(extraction: Any, position: int, target: Any, contrast: Any) -> LogitAttribution:
    """`Extraction.logit_attribution` (position already normalised)."""
    predictor = extraction.predictor
    final_hidden = extraction.final_hidden if predictor is not None else None
    if predictor is None or final_hidden is None:
        raise ValueError(
            f"{extraction.model_name} is not a causal language model with an unembedding, so it has no logit "
            "to attribute"
        )
    if predictor.softcap:
        raise ValueError(
            f"{extraction.model_name} soft-caps its logits (tanh), so a logit is no sum of parts to attribute"
        )
    if target is None:
        target_id = int(predictor.top_k(final_hidden[position : position + 1], k=1)[0][0, 0])
    else:
        target_id = resolve_token(predictor, target, "target")
    contrast_id = None if contrast is None else resolve_token(predictor, contrast, "contrast")

    source: LayerSource = extraction.layers
    key = ("attribution", extraction.batch_index)
    cache = source.recording.caches.get(key)
    if cache is None or position not in cache:
        parts = position_parts(source, extraction.batch_index, position, extraction.model_name)
        cache = source.recording.caches.get(key) or OrderedDict()
        cache[position] = parts
        while len(cache) > _KEEP_POSITIONS:
            cache.popitem(last=False)
        source.recording.keep(key, cache)
    cache.move_to_end(position)
    parts = cache[position]

    head = predictor.head
    hidden = parts.final.shape[0]
    norm = _final_norm(source, head, hidden)
    scale = norm.scale(parts.final)
    real = np.asarray(final_hidden[position], dtype=np.float64)
    if not np.allclose(norm.apply(parts.final, scale), real, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(real).max())):
        raise ValueError(
            f"the final norm of {extraction.model_name} is neither a LayerNorm nor an RMSNorm attnwidget can "
            "freeze, so the parts cannot be sent through it"
        )
    weight = head.weight.detach()
    u = weight[target_id].double().cpu().numpy()
    head_bias = getattr(head, "bias", None)
    bias_diff = float(head_bias[target_id]) if isinstance(head_bias, torch.Tensor) else 0.0
    if contrast_id is not None:
        u = u - weight[contrast_id].double().cpu().numpy()
        bias_diff -= float(head_bias[contrast_id]) if isinstance(head_bias, torch.Tensor) else 0.0
    r = norm.direction(u, scale)
    texts = predictor.texts(np.array([[target_id] + ([contrast_id] if contrast_id is not None else [])]))[0]
    return LogitAttribution(
        position=position,
        target=texts[0],
        target_id=target_id,
        contrast=texts[1] if contrast_id is not None else None,
        contrast_id=contrast_id,
        heads=parts.heads @ r,
        mlp=parts.mlp @ r,
        embeddings=float(parts.embeddings @ r),
        biases=float(parts.attention_bias.sum(0) @ r + norm.bias @ u + bias_diff),
        logit=float(real @ u + bias_diff),
    )


def _final_norm(source: LayerSource, head: nn.Module, hidden: int) -> FrozenNorm:
    cache = source.recording.caches.get("final_norm")
    if cache is None:
        cache = source.recording.keep("final_norm", frozen_norm(find_final_norm(source.replayer.model), hidden))
    return cache  # type: ignore[no-any-return]


# ---- value-weighted attention ---------------------------------------------------------------------------
def value_norms(source: LayerSource, batch_index: int, layer: int) -> tuple[np.ndarray, LayerAttentionInputs]:
    """‖W_Oʰ vⱼʰ‖ for every head and key, float32 [heads, seq] (padded length), and the layer's attention
    inputs, from one replay of the block that stops at its attention call."""
    key = ("value_norms", batch_index)
    cache = source.recording.caches.get(key)
    if cache is not None and layer in cache:
        cache.move_to_end(layer)
        return cache[layer]  # type: ignore[no-any-return]
    hidden = int(source.replayer.model.config.hidden_size)
    state = _RowState(position=0, batch_index=batch_index, hidden_size=hidden, mode="values")
    _check_route(source)
    with _row_dispatch(source.replayer.model):
        _replay(source, source.recording.get(), layer, state, None, None)
    assert state.attention is not None and state.value is not None and state.output_projection is not None
    values = state.value[batch_index].double()  # [kv_heads, seq, dim]
    kv_heads, _seq, dim = values.shape
    num_heads = state.attention.num_heads
    weight = _projection_weight(state.output_projection).detach().double().to(values.device)
    slices = weight.reshape(hidden, num_heads, dim).permute(1, 0, 2)  # [heads, hidden, dim]
    gram = slices.transpose(1, 2) @ slices  # [heads, dim, dim]: ‖W v‖² = vᵀ (WᵀW) v
    per_head = values.repeat_interleave(num_heads // kv_heads, dim=0)  # [heads, seq, dim]
    squared = torch.einsum("hsd,hde,hse->hs", per_head, gram, per_head)
    norms = squared.clamp_min_(0).sqrt_().float().cpu().numpy()
    entry = (norms, state.attention)
    cache = cache if cache is not None else OrderedDict()
    cache[layer] = entry
    while len(cache) > _KEEP_LAYERS:
        cache.popitem(last=False)
    source.recording.keep(key, cache)
    return entry


def value_weighted(extraction: Any, layer: int, head: int | None) -> np.ndarray:
    """`Extraction.value_weighted` (layer and head already normalised)."""
    norms, inputs = value_norms(extraction.layers, extraction.batch_index, layer)
    length = extraction.seq_len
    heads = None if head is None else [head]
    with torch.no_grad():
        weights = inputs.weights(extraction.batch_index, length, heads).cpu().numpy()
    chosen = norms[:, :length] if head is None else norms[head : head + 1, :length]
    weighted = weights * chosen[:, None, :]
    return weighted if head is None else weighted[0]


# ---- neuron logit effects ---------------------------------------------------------------------------------
def mlp_output_projection(model: Any, layer: int) -> nn.Module:
    hidden = int(model.config.hidden_size)
    projection = find_mlp_output_projection(find_layer_blocks(model)[layer], hidden)
    if projection is None:
        raise ValueError(f"the MLP of layer {layer} of {type(model).__name__} could not be located")
    return projection


def mlp_width(model: Any, layer: int) -> int:
    features = _in_out_features(mlp_output_projection(model, layer))
    assert features is not None
    return features[0]


def neuron_logit_effects(
    model: Any, predictor: Any, layer: int, neuron: int, k: int, model_name: str
) -> dict[str, list[tuple[str, float]]]:
    """`AttentionExtractor.neuron_logit_effects` (layer and neuron already normalised)."""
    if predictor is None:
        raise ValueError(f"{model_name} is not a causal language model with an unembedding, so no neuron writes logits")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    hidden = int(model.config.hidden_size)
    weight = _projection_weight(mlp_output_projection(model, layer)).detach()
    column = weight[:, neuron].double().cpu().numpy()
    norm = frozen_norm(find_final_norm(model), hidden)
    unembedding = predictor.head.weight.detach()
    direction = torch.from_numpy(column * norm.weight).to(unembedding.device, unembedding.dtype)
    with torch.inference_mode():
        effects = (unembedding @ direction).double().cpu()
    k = min(int(k), effects.shape[0])
    up = torch.topk(effects, k)
    down = torch.topk(-effects, k)
    texts = predictor.texts(np.stack([up.indices.numpy(), down.indices.numpy()]))
    return {
        "promoted": [(t, float(v)) for t, v in zip(texts[0], up.values.tolist())],
        "suppressed": [(t, -float(v)) for t, v in zip(texts[1], down.values.tolist())],
    }
