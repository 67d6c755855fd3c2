"""Models and caches of other interpretability libraries: TransformerLens and nnsight.

Neither library is imported unless one of its objects is handed in (recognised by the module its class comes
from), so attnwidget works without them; an object whose library cannot be imported gives a one-line
`ModelLoadError` naming the extra to install.

* A TransformerLens 4 `TransformerBridge` wraps a transformers model, replacing its modules in place with
  bridge components that compute attention themselves (eager, with `hook_pattern`). `unbridged` rebuilds the
  transformers model as it was, each bridge component replaced by the module it wraps: same parameter
  tensors (nothing is copied), fresh module objects (attnwidget's hooks never reach the bridge) and a copy of
  the config (switching the copy to sdpa for a pass leaves the bridge on eager). The engine then runs it as
  any transformers model; its attention equals the bridge's `hook_pattern` (within 1e-7 on the test models).
* An nnsight `LanguageModel` (any nnsight model) holds the transformers model as `_module`; its wrappers do
  nothing outside a trace, so the module is used as it is (after loading its weights, if nnsight has not).
* `extraction_from_cache`: an `Extraction` from a TransformerLens `ActivationCache` (or any mapping of its hook
  names to tensors), with no model: attention maps, residual stream and MLP neurons as the cache holds them.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .capture import LayerAttentionInputs, LayerSource
from .errors import ModelLoadError
from .extraction import Extraction
from .recording import RecordedPass, Recording
from .tokens import TokenTextStream, visible_text

# The import name of each library, the extra that installs it, and how a person calls it.
LIBRARIES = {
    "transformer_lens": ("transformer-lens", "TransformerLens"),
    "nnsight": ("nnsight", "nnsight"),
}


def library_of(obj: Any) -> str | None:
    """The library `obj` comes from, by its class's module: "transformer_lens", "nnsight", or None."""
    for cls in type(obj).__mro__:
        root = cls.__module__.split(".")[0]
        if root in LIBRARIES:
            return root
    return None


def require(library: str) -> Any:
    """Import `library`, or raise a one-line ModelLoadError saying which extra installs it."""
    extra, name = LIBRARIES[library]
    try:
        return importlib.import_module(library)
    except ImportError as error:
        raise ModelLoadError(
            f"this is a {name} model, and {name} cannot be imported ({error}): pip install 'attnwidget[{extra}]'"
        ) from None


def unwrap(model: Any, device: str | None = None) -> tuple[Any, Any]:
    """(transformers model, the tokenizer it carries or None) for a model from TransformerLens or nnsight;
    any other model as it is, with None. `device` (when given) moves the wrapped model itself first, so that
    the library's own copy and attnwidget's stay on the same device."""
    library = library_of(model)
    if library is None:
        return model, None
    require(library)
    if library == "transformer_lens":
        try:
            wrapped = model.original_model
        except AttributeError as error:
            raise ModelLoadError(
                f"this {type(model).__name__} holds no local transformers model ({error}); "
                "attnwidget needs the model itself"
            ) from None
        if device is not None:
            wrapped.to(device)
        return unbridged(wrapped), getattr(model, "tokenizer", None)
    if getattr(model, "dispatched", True) is False:
        model.dispatch()  # nnsight builds models from a name on the meta device until they run
    module = model.__dict__.get("_module")
    if not isinstance(module, nn.Module):
        raise ModelLoadError(f"this {type(model).__name__} wraps no torch module attnwidget can run")
    return module, getattr(model, "tokenizer", None)


def unbridged(model: nn.Module) -> nn.Module:
    """The transformers model inside a TransformerLens bridge, as it was before the bridge wrapped it (see
    the module docstring): a new module tree sharing every parameter and buffer with `model`."""
    from transformer_lens.model_bridge.generalized_components.base import GeneralizedComponent
    from transformers import PretrainedConfig

    modules: dict[int, nn.Module] = {}
    configs: dict[int, Any] = {}

    def clone(module: nn.Module) -> nn.Module:
        while isinstance(module, GeneralizedComponent):
            original = module._modules.get("_original_component")
            if original is None:
                raise ModelLoadError(f"the bridge component {type(module).__name__} wraps no transformers module")
            module = original
        if id(module) in modules:  # a module reached twice (GPT-2's c_proj) stays one module
            return modules[id(module)]
        copied = copy.copy(module)
        modules[id(module)] = copied
        state = copied.__dict__
        for name, value in list(state.items()):
            if "hooks" in name and isinstance(value, dict):
                state[name] = type(value)()  # hooks put on the bridged model stay there
            elif isinstance(value, (dict, set)):
                state[name] = copy.copy(value)  # own tables of parameters and buffers (same tensors)
            elif isinstance(value, PretrainedConfig):
                state[name] = copy.deepcopy(value, configs)  # one copy of each config, shared as before
        for name, child in module._modules.items():
            copied._modules[name] = None if child is None else clone(child)
        return copied

    return clone(model)


# ---- a TransformerLens ActivationCache ----------------------------------------------------------------------
_PATTERN = "blocks.{}.attn.hook_pattern"
_RESID_PRE = "blocks.{}.hook_resid_pre"
_RESID_POST = "blocks.{}.hook_resid_post"
_MLP_POST = "blocks.{}.mlp.hook_post"


class StoredLayers(LayerSource):
    """Per-layer internals stored whole by another library's run, not replayed: attention maps (in the
    recording's `stored_attention`) and MLP neurons. There is no model: what needs one raises ValueError."""

    def __init__(self, recording: Recording, mlp: list[torch.Tensor] | None, no_model: str) -> None:
        self.recording = recording
        self._mlp = mlp
        self._no_model = no_model

    @property
    def replayer(self) -> Any:  # type: ignore[override]
        raise ValueError(self._no_model)

    @property
    def num_layers(self) -> int:
        return len(self.recording.get().stored_attention or ())

    @property
    def has_mlp(self) -> bool:
        return self._mlp is not None

    def mlp(self, layer: int) -> torch.Tensor | None:
        return None if self._mlp is None else self._mlp[layer]

    def mlp_width(self, layer: int) -> int | None:
        return None if self._mlp is None else int(self._mlp[layer].shape[-1])


def extraction_from_cache(cache: Any, tokens: Any, batch: int = 0, model_name: str | None = None) -> Extraction:
    """An `Extraction` of one prompt from a TransformerLens `ActivationCache` (or a mapping with its hook names:
    ``blocks.{l}.attn.hook_pattern`` [batch, heads, q, k] for every layer, ``blocks.{l}.hook_resid_pre`` and
    the last ``hook_resid_post``, optionally ``blocks.{l}.mlp.hook_post``), without the model.

    `tokens`: the token texts (``bridge.to_str_tokens(prompt)``), or their ids (``bridge.to_tokens(prompt)``,
    [seq] or [1, seq]) when the cache knows its model's tokenizer. `batch`: which prompt of a batched cache.
    Attention, head scores, statistics, residual stream and MLP neurons come from the cache; what needs the
    model (predictions, logit lens, attribution, value-weighted maps, ablation, patching) raises ValueError
    saying so. ValueError names what the cache lacks."""
    if not hasattr(cache, "keys") or not hasattr(cache, "__getitem__"):
        raise TypeError(f"cache must be a TransformerLens ActivationCache, got {type(cache).__name__}")
    names = set(cache.keys())
    num_layers = 0
    while _PATTERN.format(num_layers) in names:
        num_layers += 1
    if num_layers == 0:
        raise ValueError(
            f"the cache holds no attention patterns ({_PATTERN.format(0)!r}, ...): run_with_cache keeps them "
            "unless names_filter leaves them out"
        )
    owner = getattr(cache, "model", None)
    expected = getattr(getattr(owner, "cfg", None), "n_layers", None)
    if isinstance(expected, int) and expected != num_layers:
        raise ValueError(f"the cache holds attention patterns for {num_layers} of the model's {expected} layers")
    has_batch = bool(getattr(cache, "has_batch_dim", cache[_PATTERN.format(0)].dim() == 4))

    def row(name: str) -> torch.Tensor:
        value = cache[name].detach()
        if not has_batch:
            return value.unsqueeze(0)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 0 <= batch < value.shape[0]:
            raise IndexError(f"batch must be an int in 0..{value.shape[0] - 1} (the cache's batch), got {batch!r}")
        return value[batch : batch + 1]

    patterns = [row(_PATTERN.format(layer)) for layer in range(num_layers)]
    seq_len = int(patterns[0].shape[-1])
    residual_names = [_RESID_PRE.format(0)] + [
        _RESID_POST.format(layer) if _RESID_POST.format(layer) in names else _RESID_PRE.format(layer + 1)
        for layer in range(num_layers)
    ]
    # A cache without the residual stream (names_filter kept the patterns only) gives one of width 0: nothing
    # recorded, so the neuron plot says so; the attention views need nothing else.
    has_residual = all(name in names for name in residual_names)
    mlp_names = [_MLP_POST.format(layer) for layer in range(num_layers)]
    mlp = [row(name) for name in mlp_names] if all(name in names for name in mlp_names) else None

    ids, token_strings, display, notes, prompt = _token_texts(tokens, seq_len, owner)
    causal = all(bool((p.triu(1) == 0).all()) for p in patterns)
    num_heads = int(patterns[0].shape[1])
    config = getattr(owner, "cfg", None)
    name = model_name or str(getattr(config, "model_name", "") or "TransformerLens cache")
    no_model = (
        f"{name} was read from an activation cache, which holds no weights "
        "(AttentionExtractor(model=bridge) runs the model)"
    )
    stored = [LayerAttentionInputs(query=None, key=None, scaling=1.0, stored_weights=p) for p in patterns]
    rows = (
        [row(name)[0] for name in residual_names] if has_residual else [torch.zeros(seq_len, 0) for _ in residual_names]
    )

    def record() -> RecordedPass:
        # Run again after the memory budget dropped it: the residual stream is stacked anew from the cache.
        residual = torch.stack([value.float().cpu() for value in rows]).unsqueeze(0)
        return RecordedPass(residual=residual, block_calls=[], final_hidden=None, stored_attention=stored)

    recording = Recording(record)
    info = {
        "model_type": getattr(config, "original_architecture", None),
        "architecture": getattr(config, "architecture", None),
        "num_layers": num_layers,
        "num_heads": num_heads,
        "num_key_value_heads": num_heads,  # the cache's maps are per query head
        "hidden_size": int(rows[0].shape[-1]) if has_residual else None,
        "intermediate_size": int(mlp[0].shape[-1]) if mlp is not None else None,
        "vocab_size": getattr(config, "d_vocab", None),
        "max_positions": int(getattr(config, "n_ctx", 0) or 0),
        "total_parameters": None,
        "is_causal": causal,
    }
    return Extraction(
        prompt=prompt,
        model_name=name,
        model_info=info,
        input_ids=ids,
        tokens=token_strings,
        display_tokens=display,
        token_notes=notes,
        predictor=None,
        is_causal=causal,
        layers=StoredLayers(recording, mlp, no_model),
        no_model=no_model,
    )


def _token_texts(tokens: Any, seq_len: int, owner: Any) -> tuple[np.ndarray, list[str], list[str], dict[int, str], str]:
    """(ids, token strings, display texts, notes, prompt) of the cache's tokens. Texts given: shown as given
    (line breaks made visible), ids numbering the distinct texts (a repeated token repeats its id, as the
    induction score needs). Ids given: texts made as for a prompt (`TokenTextStream`), by the tokenizer of the
    cache's model."""
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.detach().cpu().numpy()
    if isinstance(tokens, np.ndarray) and tokens.ndim == 2 and tokens.shape[0] == 1:
        tokens = tokens[0]
    if isinstance(tokens, str) or not isinstance(tokens, (Sequence, np.ndarray)):
        raise TypeError(
            "tokens must be the token texts (bridge.to_str_tokens(prompt)) or ids (bridge.to_tokens(prompt)), "
            f"got {type(tokens).__name__}"
        )
    items = list(tokens)
    if len(items) != seq_len:
        raise ValueError(f"tokens has {len(items)} tokens, the cache's attention maps {seq_len}")
    if all(isinstance(item, str) for item in items):
        _, numbers = np.unique(np.array(items, dtype=str), return_inverse=True)
        return numbers.astype(np.int64), items, [visible_text(text) for text in items], {}, "".join(items)
    if not all(isinstance(item, (int, np.integer)) and not isinstance(item, bool) for item in items):
        raise TypeError("tokens must be all texts or all int ids")
    tokenizer = getattr(owner, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("tokens are ids but the cache knows no tokenizer: pass the texts (bridge.to_str_tokens)")
    ids = [int(item) for item in items]
    stream = TokenTextStream(tokenizer, start=0)
    display = [stream.add(token_id) for token_id in ids]
    strings = list(tokenizer.convert_ids_to_tokens(ids))
    return np.asarray(ids, dtype=np.int64), strings, display, stream.notes, str(tokenizer.decode(ids))
