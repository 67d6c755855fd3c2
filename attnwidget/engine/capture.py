"""What is recorded during one forward pass, and how.

The model runs its fast attention (sdpa). Instead of asking it for attention weights, which would force the
slow eager path and store O(layers · heads · seq²) floats, we keep, for every layer, the inputs that decide
the weights: the query and key after positional encoding, the scaling and the mask. Any head's map is then
recomputed exactly, on demand, as softmax(q · kᵀ · scaling + mask) (see `LayerAttentionInputs.weights`).

Three routes, chosen per model:

* models that dispatch through transformers' `AttentionInterface` (GPT-2, Llama, BERT, most others): a
  wrapper around the sdpa function records its arguments and then calls the real sdpa;
* GPT-Neo, which has its own eager attention (unscaled scores, alternating global and local windows):
  its `_attn` is wrapped per instance to record the split query/key and the layer's causal/local mask;
* anything else: eager `output_attentions=True`, keeping each layer's maps as produced.

Only the residual stream (the input of every block and the output of the last) is kept from the pass
itself, with each block's call arguments. Query/key and MLP neurons of a layer are recovered when asked by
running that one block again on its recorded input (`LayerReplayer`): exact, and O(layers · seq · hidden)
memory in all. MLP neurons are the input of each MLP's output projection.
"""

from __future__ import annotations

import contextvars
import math
import threading
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from .errors import AttentionUnavailableError
from .recording import Recording

# The recorder of the forward pass in progress, if any. A ContextVar, so the sdpa wrapper installed in
# transformers' global table costs one lookup and does nothing for models outside an extraction.
_ACTIVE_RECORDER: contextvars.ContextVar[AttentionRecorder | None] = contextvars.ContextVar(
    "attnwidget_active_recorder", default=None
)
_ORIGINAL_SDPA: Callable[..., Any] | None = None


@dataclass
class LayerAttentionInputs:
    """Everything one layer's attention weights depend on, for a batch.

    query: [batch, heads, q_len, head_dim]; key: [batch, kv_heads, k_len, head_dim].
    bool_mask: True where attention is allowed; additive_mask: added to the scores (0 or a large negative).
    Both broadcast to [batch, heads, q_len, k_len]. causal: the kernel's own causal flag (no mask given).
    """

    query: torch.Tensor | None
    key: torch.Tensor | None
    scaling: float
    bool_mask: torch.Tensor | None = None
    additive_mask: torch.Tensor | None = None
    causal: bool = False
    # Precomputed weights (generic eager route only): [batch, heads, q_len, k_len].
    stored_weights: torch.Tensor | None = None

    @property
    def num_heads(self) -> int:
        source = self.stored_weights if self.stored_weights is not None else self.query
        assert source is not None
        return int(source.shape[1])

    @property
    def device(self) -> torch.device:
        source = self.stored_weights if self.stored_weights is not None else self.query
        assert source is not None
        return source.device

    @property
    def num_kv_heads(self) -> int:
        return int(self.key.shape[1]) if self.key is not None else self.num_heads

    def weights(
        self, batch_index: int, length: int, heads: list[int] | None = None, key_length: int | None = None
    ) -> torch.Tensor:
        """Attention weights [len(heads), length, key_length] for one batch row, first `length` queries and
        `key_length` keys (`length` by default; a cross-attention's keys are another text's tokens)."""
        keys = length if key_length is None else key_length
        if self.stored_weights is not None:
            head_ids = list(range(self.num_heads)) if heads is None else heads
            return self.stored_weights[batch_index, head_ids, :length, :keys].float()
        # A fully masked row (never a real token's row after slicing) would be NaN; make it zeros.
        return torch.softmax(self.logits(batch_index, length, heads, key_length=keys), dim=-1).nan_to_num_(nan=0.0)

    def logits(
        self,
        batch_index: int,
        length: int,
        heads: list[int] | None = None,
        rows: tuple[int, int] | None = None,
        key_length: int | None = None,
    ) -> torch.Tensor:
        """What the softmax of `weights` takes: q · kᵀ · scaling + mask, −∞ where a key is masked, float32
        [len(heads), stop - start, keys] for the query rows ``rows = (start, stop)`` (all by default). keys:
        ``stop`` for a causal layer (every later key is masked: the block's maps are 0 there), else
        `key_length` (`length` by default).
        """
        assert self.query is not None and self.key is not None
        start, stop = (0, length) if rows is None else rows
        keys = stop if self.causal else (length if key_length is None else key_length)
        group = self.num_heads // self.num_kv_heads
        key = self.key[batch_index, :, :keys].float()
        head_ids = list(range(self.num_heads)) if heads is None else heads
        query = self.query[batch_index, :, start:stop] if heads is None else self.query[batch_index, heads, start:stop]
        # A power of two scales q exactly, so (scaling · q) · kᵀ is bitwise scaling · (q · kᵀ), with no pass
        # over the scores; any other scaling multiplies the scores, in place (at 4096 tokens a [heads, seq,
        # seq] temporary is 600 MB of fresh pages, which cost more than the arithmetic).
        exact = math.frexp(self.scaling)[0] == 0.5
        query = query.float() * self.scaling if exact else query.float()
        if heads is None:
            # The query heads that read one key head are one matrix product: no copy of the keys per head.
            grouped = query.reshape(key.shape[0], group * (stop - start), query.shape[-1])
            if key.device.type == "cpu":
                # One product per key head into one array: 20% faster than the batched product on 2 cores
                # (which splits 3 key heads over 2 threads), bitwise the same.
                scores = torch.empty((self.num_heads, stop - start, keys), dtype=grouped.dtype)
                by_key_head = scores.view(key.shape[0], group * (stop - start), keys)
                for index in range(key.shape[0]):
                    torch.mm(grouped[index], key[index].t(), out=by_key_head[index])
            else:
                scores = torch.matmul(grouped, key.transpose(-1, -2)).view(self.num_heads, stop - start, keys)
        else:
            scores = torch.matmul(query, key[[h // group for h in head_ids]].transpose(-1, -2))
        if not exact:
            scores.mul_(self.scaling)
        if self.additive_mask is not None:
            mask = _mask_block(self.additive_mask, batch_index, head_ids, start, stop, keys).float()
            fits = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
            scores = scores.add_(mask) if fits else scores + mask
        if self.bool_mask is not None:
            allowed = _mask_block(self.bool_mask, batch_index, head_ids, start, stop, keys)
            scores = scores.masked_fill(~allowed, float("-inf"))
        if self.causal:
            # Rows start..stop see keys 0..row: only the block's last stop - start columns hold later keys.
            scores[..., start:stop].masked_fill_(_future_keys(stop - start, scores.device), float("-inf"))
        return scores


@lru_cache(maxsize=16)
def _future_keys(rows: int, device: torch.device) -> torch.Tensor:
    """[rows, rows] True above the diagonal: a causal block's later keys. Kept: the blocks of one pass come in
    a few sizes, and making the mask for every block cost 4% of a widget build at 2048 tokens."""
    return torch.ones(rows, rows, dtype=torch.bool, device=device).triu(1)


def stored_maps(maps: Any) -> list[LayerAttentionInputs] | None:
    """The maps a model returned with ``output_attentions`` (the eager route), one `LayerAttentionInputs`
    per layer holding them whole; None when some layer returned none."""
    if not maps or any(m is None for m in maps):
        return None
    return [LayerAttentionInputs(query=None, key=None, scaling=1.0, stored_weights=m.detach().float()) for m in maps]


def _mask_rows(mask: torch.Tensor, batch_index: int, head_ids: list[int]) -> torch.Tensor:
    """Slice a mask broadcastable to [batch, heads, q, k] down to one batch row's [heads, q, k]."""
    while mask.dim() < 4:
        mask = mask.unsqueeze(0)
    row = mask[batch_index if mask.shape[0] > 1 else 0]
    return row[head_ids] if row.shape[0] > 1 else row


def _mask_block(
    mask: torch.Tensor, batch_index: int, head_ids: list[int], start: int, stop: int, keys: int
) -> torch.Tensor:
    """Query rows start..stop and the first `keys` keys of a mask (one row for every query broadcasts)."""
    row = _mask_rows(mask, batch_index, head_ids)
    return row[..., :keys] if row.shape[-2] == 1 else row[..., start:stop, :keys]


class AttentionRecorder:
    """Collects `LayerAttentionInputs` per layer during one forward pass."""

    def __init__(
        self, first_index: int = 0, keep: bool = True, stop_after_record: bool = False, only_call: int | None = None
    ) -> None:
        self.layers: dict[int, LayerAttentionInputs] = {}
        self.keep = keep  # False: only count the calls
        # True: end the forward pass once a layer's query/key are kept (a replay that needs nothing else).
        self.stop_after_record = stop_after_record
        # A replay of one block keeps its attention call `only_call` and no other: 0 its self-attention, 1 the
        # cross-attention that an encoder-decoder model's decoder block makes after it (both modules carry
        # the block's layer_idx, so keeping both would let the second replace the first). None: every call.
        self.only_call = only_call
        self._calls_in_block = 0
        self.calls = 0
        # Layer index for modules that do not carry one: counted from here in call order.
        self._first_index = first_index

    def require_calls(self, expected: int, describe: str, where: str) -> None:
        """Refuse a pass whose attention calls are not the ones expected (a call we did not hear, or an extra
        one, would put maps at the wrong layer): `describe` names the model, `where` the part that ran."""
        if self.calls != expected:
            raise AttentionUnavailableError(
                f"{describe}: {self.calls} attention calls seen in its {where} for {expected} expected, so its "
                "maps cannot be reported faithfully"
            )

    def next_layer_index(self, module: nn.Module) -> int:
        index = getattr(module, "layer_idx", None)
        if not isinstance(index, int):
            index = self._first_index + self.calls
        self.calls += 1
        return index

    def record_sdpa_call(
        self,
        module: nn.Module,
        query: torch.Tensor,
        key: torch.Tensor,
        attention_mask: torch.Tensor | None,
        options: dict[str, Any],
    ) -> None:
        """One call of transformers' attention interface; `options` are its keyword arguments (the scaling, the
        causal flag and a position bias are read from them)."""
        scaling = options.get("scaling")
        is_causal = options.get("is_causal")
        position_bias = options.get("position_bias")
        if not self.keep:
            self.calls += 1
            return
        if self.only_call is not None:
            index, self._calls_in_block = self._calls_in_block, self._calls_in_block + 1
            if index != self.only_call:
                return
        # Mirror transformers' sdpa_attention_forward: it uses the kernel's causal flag only when no mask
        # is given and there is more than one query.
        module_causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
        causal = bool(query.shape[2] > 1 and attention_mask is None and module_causal)
        additive = None
        bool_mask = None
        if attention_mask is not None:
            if attention_mask.dtype == torch.bool:
                bool_mask = attention_mask.detach()
            else:
                additive = attention_mask.detach()
        if position_bias is not None:
            additive = position_bias.detach() if additive is None else additive + position_bias.detach()
        self.layers[self.next_layer_index(module)] = LayerAttentionInputs(
            query=query.detach(),
            key=key.detach(),
            scaling=float(scaling) if scaling is not None else query.shape[-1] ** -0.5,
            bool_mask=bool_mask,
            additive_mask=additive,
            causal=causal,
        )
        if self.stop_after_record:
            raise _ReplayDone


class _ReplayDone(Exception):
    """Ends a replayed block early: what was needed from it has been recorded."""


def _capturing_sdpa(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *args: Any,
    **kwargs: Any,
) -> Any:
    recorder = _ACTIVE_RECORDER.get()
    if recorder is not None:
        recorder.record_sdpa_call(module, query, key, attention_mask, kwargs)
    assert _ORIGINAL_SDPA is not None
    return _ORIGINAL_SDPA(module, query, key, value, attention_mask, *args, **kwargs)


def _install_sdpa_wrapper() -> None:
    """Put the recording wrapper in front of transformers' sdpa function (once per process)."""
    global _ORIGINAL_SDPA
    from transformers.modeling_utils import AttentionInterface

    current: Callable[..., Any] = AttentionInterface._global_mapping["sdpa"]  # type: ignore[assignment]
    if current is _capturing_sdpa:
        return
    _ORIGINAL_SDPA = current
    AttentionInterface.register("sdpa", _capturing_sdpa)


_MODEL_LOCKS: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_MODEL_LOCKS_GUARD = threading.Lock()


def model_lock(model: Any) -> threading.RLock:
    """The lock a run of `model` holds while attnwidget's hooks or settings are on it (the recorded pass, a
    replay, an intervention) and while a generation step runs. Hooks and the attention setting belong to the
    module, not to the thread: a widget writing text in a background thread must not run its next token while
    the notebook's thread has a replay's hooks on the same blocks (the token would be edited, the replay's
    capture overwritten), nor the other way round. Reentrant: an intervention replays blocks inside its own run.
    """
    with _MODEL_LOCKS_GUARD:
        lock = _MODEL_LOCKS.get(model)
        if lock is None:
            lock = _MODEL_LOCKS[model] = threading.RLock()
        return lock


def uses_attention_interface(model: Any) -> bool:
    return bool(getattr(model, "_supports_attention_backend", False) and getattr(model, "_supports_sdpa", False))


@contextmanager
def sdpa_capture(model: Any, recorder: AttentionRecorder) -> Iterator[None]:
    """Run the model on sdpa with the recording wrapper active; restore its attention setting after."""
    _install_sdpa_wrapper()
    token = _ACTIVE_RECORDER.set(recorder)
    try:
        with implementation(model, "sdpa"):
            yield
    finally:
        _ACTIVE_RECORDER.reset(token)


@contextmanager
def implementation(model: Any, name: str) -> Iterator[None]:
    """Run the model with attention implementation `name` ("eager", "sdpa") for a while, then restore it.

    The eager route needs it: a model outside transformers' attention interface (StableLM) may be loaded
    with sdpa, which returns no weights; its pass, and every replay of its blocks, run eager."""
    previous = model.config._attn_implementation
    if previous != name:
        model.set_attn_implementation(name)
    try:
        yield
    finally:
        if previous != name:
            model.set_attn_implementation(previous)


@contextmanager
def gpt_neo_capture(model: Any, recorder: AttentionRecorder, only_layer: int | None = None) -> Iterator[None]:
    """Wrap each GPT-Neo attention's `_attn` to record its (already split, unscaled) query and key."""
    blocks = model.base_model.h
    originals: list[tuple[nn.Module, Any]] = []
    for layer_index, block in enumerate(blocks):
        if only_layer is not None and layer_index != only_layer:
            continue
        attention = block.attn.attention
        original = attention._attn

        def recording_attn(
            self: Any,
            query: torch.Tensor,
            key: torch.Tensor,
            value: torch.Tensor,
            attention_mask: torch.Tensor | None = None,
            _original: Any = original,
            _layer: int = layer_index,
        ) -> Any:
            q_len, k_len = query.shape[-2], key.shape[-2]
            recorder.layers[_layer] = LayerAttentionInputs(
                query=query.detach(),
                key=key.detach(),
                scaling=1.0,  # GPT-Neo does not scale its scores by 1/sqrt(d)
                bool_mask=self.bias[:, :, k_len - q_len : k_len, :k_len],
                additive_mask=None if attention_mask is None else attention_mask.detach(),
            )
            if recorder.stop_after_record:
                raise _ReplayDone
            return _original(query, key, value, attention_mask)

        attention._attn = types.MethodType(recording_attn, attention)
        originals.append((attention, original))
    try:
        yield
    finally:
        for attention, _original in originals:
            del attention._attn  # drop the instance attribute; the class method shows through again


def find_layer_blocks(model: Any) -> nn.ModuleList:
    """The list of transformer blocks: the first ModuleList as long as the model has layers (an
    encoder-decoder model's stacks: `seq2seq.stacks`)."""
    num_layers = model.config.num_hidden_layers
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == num_layers:
            return module
    raise RuntimeError(f"could not find the {num_layers} transformer blocks of {type(model).__name__}")


def _in_out_features(module: nn.Module) -> tuple[int, int] | None:
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    # transformers' Conv1D (GPT-2) stores the weight as [in, out].
    weight = getattr(module, "weight", None)
    if type(module).__name__ == "Conv1D" and isinstance(weight, torch.Tensor):
        return int(weight.shape[0]), int(weight.shape[1])
    return None


def neuron_width(projection: nn.Module | None) -> int | None:
    """How many MLP neurons an output projection reads (its input width); None without one."""
    features = _in_out_features(projection) if projection is not None else None
    return None if features is None else features[0]


def find_mlp_output_projection(block: nn.Module, hidden_size: int) -> nn.Module | None:
    """The MLP's output projection: the last projection from a wider space back to the hidden size.

    Its input is the MLP's neuron activations (after the nonlinearity, and the gate where there is one).
    """
    found = None
    for _name, module in block.named_modules():
        features = _in_out_features(module)
        if features and features[1] == hidden_size and features[0] > hidden_size:
            found = module
    return found


class StreamRecorder:
    """Forward hooks that copy the residual stream into one preallocated tensor and remember, for every
    block, the other arguments it was called with (masks, position embeddings: shared, not copied).

    The residual stream is the input of every block plus the output of the last one. With a block's input
    and its call arguments, the block can be run again on its own (`LayerReplayer`) to recompute exactly
    what happened inside it: attention query/key and MLP neurons are recovered that way, on demand,
    instead of being kept for every layer.
    """

    def __init__(self, model: Any, batch: int, seq_len: int, blocks: nn.ModuleList | None = None) -> None:
        self.blocks = find_layer_blocks(model) if blocks is None else blocks
        num_layers = len(self.blocks)
        self._shape = (batch, num_layers + 1, seq_len, int(model.config.hidden_size))
        # Allocated when the first block is called, where its input lives (see `_residual_buffer`).
        self.residual: torch.Tensor | None = None
        self.block_calls: list[tuple[tuple[Any, ...], dict[str, Any]] | None] = [None] * num_layers
        # The dtype each block was called with: a replay feeds it the same (the buffer may be wider).
        self.input_dtypes: list[torch.dtype | None] = [None] * num_layers
        self._handles: list[Any] = []

    @contextmanager
    def active(self) -> Iterator[None]:
        for index, block in enumerate(self.blocks):
            self._handles.append(block.register_forward_pre_hook(self._input_hook(index), with_kwargs=True))
        self._handles.append(self.blocks[-1].register_forward_hook(self._output_hook(len(self.blocks))))
        try:
            yield
        finally:
            for handle in self._handles:
                handle.remove()
            self._handles.clear()

    def _input_hook(self, index: int) -> Callable[..., None]:
        def hook(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if args:
                hidden, rest, named = args[0], args[1:], dict(kwargs)
            else:
                named = dict(kwargs)
                hidden, rest = named.pop("hidden_states"), ()
            if self.residual is None:
                self.residual = _residual_buffer(self._shape, hidden)
            self.residual[:, index].copy_(hidden.detach())
            self.block_calls[index] = (rest, named)
            self.input_dtypes[index] = hidden.dtype

        return hook

    def _output_hook(self, index: int) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any, output: Any) -> None:
            hidden = output[0] if isinstance(output, tuple) else output
            assert self.residual is not None  # the first block's input hook ran before
            self.residual[:, index].copy_(hidden.detach())

        return hook


def _residual_buffer(shape: tuple[int, ...], first_input: torch.Tensor) -> torch.Tensor:
    """The residual stream's buffer. On the CPU float32 (read as numpy views, exact for bf16/fp16 too). On
    an accelerator it stays on the first block's device, in its dtype: copying each block's input to the
    host would cost more than the pass, and a replay needs it there anyway; only what is read goes to the
    host (`Extraction.residual_stream`)."""
    if first_input.device.type == "cpu":
        return torch.empty(shape, dtype=torch.float32)
    return torch.empty(shape, dtype=first_input.dtype, device=first_input.device)


@dataclass
class LayerReplay:
    """What one block computed inside, for the whole batch it was run with."""

    attention: LayerAttentionInputs | None
    mlp: torch.Tensor | None  # [batch, seq, mlp_width]


class LayerReplayer:
    """Runs one block again, on its recorded input and call arguments, with the attention recorder and an
    MLP hook active. Same module, same inputs, same kernels: the same numbers as in the recorded pass.

    The replayer keeps a reference to the model; the model must not be changed while its extractions are
    in use (attention would then be recomputed with the new weights).
    """

    def __init__(
        self,
        model: Any,
        route: str,
        recording: Recording,
        blocks: nn.ModuleList | None = None,
        call_in_block: int = 0,
    ) -> None:
        self.model = model
        self.route = route
        self.recording = recording
        self.blocks = find_layer_blocks(model) if blocks is None else blocks
        # 0: each block's self-attention; 1: its cross-attention (a decoder block of an encoder-decoder model).
        self.call_in_block = call_in_block
        hidden = model.config.hidden_size
        self.projections = [find_mlp_output_projection(block, hidden) for block in self.blocks]

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    def replay(self, layer: int, want_attention: bool = True, want_mlp: bool = True) -> LayerReplay:
        """Run block `layer` again. With attention only, the block stops as soon as its query/key are
        recorded (the attention output and the MLP, most of the block's work, are skipped)."""
        with model_lock(self.model):
            return self._replay(layer, want_attention, want_mlp)

    def _replay(self, layer: int, want_attention: bool, want_mlp: bool) -> LayerReplay:
        recorded = self.recording.get()
        args, kwargs = recorded.block_calls[layer]
        recorder = AttentionRecorder(first_index=layer, stop_after_record=not want_mlp, only_call=self.call_in_block)
        captured: dict[str, torch.Tensor] = {}
        handles = []
        projection = self.projections[layer]
        if want_mlp and projection is not None:

            def mlp_hook(_module: nn.Module, inputs: tuple[Any, ...]) -> None:
                captured["mlp"] = inputs[0].detach()

            handles.append(projection.register_forward_pre_hook(mlp_hook))
        context: Any = implementation(self.model, "eager") if self.route == "eager" else nullcontext()
        if want_attention and self.route == "sdpa":
            context = sdpa_capture(self.model, recorder)
        elif want_attention and self.route == "gpt_neo":
            context = gpt_neo_capture(self.model, recorder, only_layer=layer)
        hidden = recorded.block_input(layer, _device_of(self.blocks[layer]))
        try:
            with torch.inference_mode(), context:
                self.blocks[layer](hidden, *args, **kwargs)
        except _ReplayDone:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return LayerReplay(attention=recorder.layers.get(layer), mlp=captured.get("mlp"))


def _device_of(module: nn.Module) -> torch.device:
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


class LayerSource:
    """Per-layer internals of one recorded batch: attention inputs and MLP neurons, replayed on demand.

    Shared by the Extractions of one batch. A few replayed layers are kept, in the recording's caches (so
    they count against the memory budget and go when the recording is dropped); the generic eager route
    brings its own stored attention maps.
    """

    _KEEP = 4
    # Which attention call of each block this source reads (see `LayerReplayer`); 0 unless replayed for cross.
    call_in_block = 0

    def __init__(self, replayer: LayerReplayer) -> None:
        self.replayer = replayer
        self.recording = replayer.recording
        self.call_in_block = replayer.call_in_block

    @property
    def num_layers(self) -> int:
        return self.replayer.num_layers

    @property
    def has_mlp(self) -> bool:
        return all(p is not None for p in self.replayer.projections)

    def mlp_width(self, layer: int) -> int | None:
        """How many MLP neurons `layer` has (its output projection's input width), read from the module
        without running it; None where the MLP could not be located."""
        return neuron_width(self.replayer.projections[layer])

    def _key(self, name: str) -> str:
        # A decoder's self- and cross-attention inputs come from one recorded pass: kept under two names.
        return "cross_attention" if name == "attention" and self.call_in_block else name

    def _cache(self, name: str) -> OrderedDict[int, Any]:
        name = self._key(name)
        cache = self.recording.caches.get(name)
        if cache is None:
            cache = self.recording.keep(name, OrderedDict())
        return cache  # type: ignore[no-any-return]

    def _stored(self) -> list[Any] | None:
        recorded = self.recording.get()
        return recorded.stored_cross_attention if self.call_in_block else recorded.stored_attention

    def _store(self, name: str, cache: OrderedDict[int, Any]) -> None:
        self.recording.keep(self._key(name), cache)

    def attention_inputs(self, layer: int) -> LayerAttentionInputs:
        stored = self._stored()
        if stored is not None:
            return stored[layer]  # type: ignore[no-any-return]
        cache = self._cache("attention")
        if layer not in cache:
            inputs = self.replayer.replay(layer, want_attention=True, want_mlp=False).attention
            if inputs is None:
                raise RuntimeError(f"layer {layer}: no attention call was seen when the block ran")
            _keep(cache, layer, inputs, self._KEEP)
            self._store("attention", cache)
        cache.move_to_end(layer)
        return cache[layer]  # type: ignore[no-any-return]

    def mlp(self, layer: int) -> torch.Tensor | None:
        cache = self._cache("mlp")
        if layer not in cache:
            # The whole block runs anyway: keep its attention inputs too (unless the maps are stored).
            stored = self._stored() is not None
            replay = self.replayer.replay(layer, want_attention=not stored, want_mlp=True)
            _keep(cache, layer, replay.mlp, self._KEEP)
            self._store("mlp", cache)
            if replay.attention is not None:
                attention = self._cache("attention")
                _keep(attention, layer, replay.attention, self._KEEP)
                self._store("attention", attention)
        cache.move_to_end(layer)
        return cache[layer]  # type: ignore[no-any-return]


def _keep(cache: OrderedDict[int, Any], key: int, value: Any, limit: int) -> None:
    cache[key] = value
    while len(cache) > limit:
        cache.popitem(last=False)
