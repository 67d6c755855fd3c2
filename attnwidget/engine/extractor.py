"""`AttentionExtractor`: load a model and run prompts through it, recording what the views need.

Its method names are those of the "Show Me Your Attention" scripts attnwidget replaces
(`extract_activations`, `get_attention_stats`, `compare_prompts`, ...), so their code keeps working."""

from __future__ import annotations

import os
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import torch

from . import attribution, capture, generation, interop, seq2seq
from .errors import AttentionUnavailableError
from .extraction import NEURON_KINDS, Extraction, check_index
from .lens import LensProjector
from .models import load_model, resolve_device
from .predictions import NextTokenPredictor
from .recording import RecordedPass, Recording
from .tokens import TokenTexts, TokenTextStream, display_tokens

# Prompts of one batch share a padded forward pass; keep the padded size moderate.
_MAX_BATCH_TOKENS = 8192


@dataclass
class _Tokenized:
    prompt: str
    ids: list[int]
    tokens: list[str]
    texts: TokenTexts


class AttentionExtractor:
    """Load a model and extract attention, residual stream and MLP activations for prompts.

    Parameters
    ----------
    model_name : a model spec (bundled alias, hub id in the local cache, folder or .gguf file); the bundled
        ``"smollm2-135m"`` when omitted.
    model, tokenizer : an already-loaded model and its tokenizer, used instead of loading `model_name`: a
        transformers model, or a TransformerLens `TransformerBridge` or an nnsight `LanguageModel`, whose
        transformers model is run (its own tokenizer is used when `tokenizer` is not given).
    device : ``"cpu"``, ``"cuda"``, ...; the GPU when there is one, else the CPU.
    top_k : how many next-token predictions to keep at each position.

    Examples
    --------
    >>> extractor = AttentionExtractor()                    # doctest: +SKIP
    >>> result = extractor.extract_activations("Once upon a time")  # doctest: +SKIP
    >>> result["attention_weights"][0].shape                # doctest: +SKIP
    (9, 4, 4)
    """

    def __init__(
        self,
        model_name: str | os.PathLike[str] | None = None,
        model: Any = None,
        tokenizer: Any = None,
        device: str | None = None,
        top_k: int = 10,
    ) -> None:
        if model is None and tokenizer is not None:
            raise TypeError("pass both model= and tokenizer=, or neither (to load model_name)")
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive int, got {top_k!r}")
        if model is None:
            model, tokenizer = load_model(model_name, device)
            self.model_name = str(model_name) if model_name is not None else "smollm2-135m"
        else:
            model, carried = interop.unwrap(model, device)
            tokenizer = carried if tokenizer is None else tokenizer
            if tokenizer is None:
                raise TypeError(
                    "pass both model= and tokenizer= (TransformerLens and nnsight models carry their own "
                    "tokenizer), or neither (to load model_name)"
                )
            if device is not None:
                model.to(device)
            model.eval()
            self.model_name = str(model_name or getattr(model.config, "_name_or_path", "") or type(model).__name__)
        self.model = model
        self.tokenizer = tokenizer
        self._info: dict[str, Any] | None = None
        self.device = str(next(model.parameters()).device) if device is None else resolve_device(device)
        self.top_k = top_k
        if getattr(model.config, "num_attention_heads", None) is None:
            raise AttentionUnavailableError(
                f"{self._describe()} has no attention heads, so there is no attention to show"
            )
        self.route = _choose_route(model)
        is_causal = self.get_model_info()["is_causal"]
        has_head = model.get_output_embeddings() is not None
        self._predictor = NextTokenPredictor(model, tokenizer, top_k) if is_causal and has_head else None
        self._lens = LensProjector(model, self._predictor) if self._predictor is not None else None
        # The last results, by prompt (an encoder-decoder model's by (source, target)).
        self._recent: OrderedDict[Any, Any] = OrderedDict()

    # ---- the API of the scripts attnwidget replaces -------------------------------------------------------------
    @overload
    def extract_activations(self, prompt: str) -> Extraction: ...
    @overload
    def extract_activations(self, prompt: str, target: str | None) -> Any: ...

    def extract_activations(self, prompt: str, target: str | None = None) -> Any:
        """Run one prompt; the result holds tokens, lazy attention, residual stream, MLP neurons, top-k.

        For an encoder-decoder model (T5, BART, Marian, ...) `prompt` is the encoder's source text and
        `target` the decoder's text (teacher-forced); without `target` the model writes its own greedy output
        (up to `seq2seq.DEFAULT_OUTPUT_TOKENS` tokens). The result is then an `EncoderDecoderExtraction` with
        three kinds of attention: encoder, decoder and cross (see `attnwidget.engine.seq2seq`). Other models
        refuse a `target`."""
        if self.is_encoder_decoder:
            return self._run_seq2seq(prompt, target)
        if target is not None:
            raise ValueError(
                f"target= is for encoder-decoder models (T5, BART, Marian, ...); {self._describe()} reads one "
                "text: put all of it in the prompt"
            )
        return self.extract_batch([prompt])[0]

    @property
    def is_encoder_decoder(self) -> bool:
        return seq2seq.is_encoder_decoder(self.model)

    def _run_seq2seq(self, source: str, target: str | None) -> seq2seq.EncoderDecoderExtraction:
        key = (source, target)
        if key in self._recent:
            self._recent.move_to_end(key)
        else:
            self._remember(key, seq2seq.run(self, source, target, seq2seq.DEFAULT_OUTPUT_TOKENS))
        return self._recent[key]  # type: ignore[no-any-return]

    def extract_batch(self, prompts: Sequence[str]) -> list[Extraction]:
        """Run several prompts, batched into padded forward passes; results are per prompt, padding removed.
        (An encoder-decoder model runs them one by one, each with its greedy output.)"""
        if isinstance(prompts, str) or not isinstance(prompts, Sequence):
            raise TypeError("prompts must be a list of strings")
        if self.is_encoder_decoder:
            return [self._run_seq2seq(prompt, None) for prompt in prompts]  # type: ignore[misc]
        tokenized = [self._tokenize(prompt) for prompt in prompts]
        results: dict[int, Extraction] = {}
        pending = []
        for index, item in enumerate(tokenized):
            if item.prompt in self._recent:
                self._recent.move_to_end(item.prompt)
                results[index] = self._recent[item.prompt]
            else:
                pending.append(index)
        for batch in _batches(pending, [len(tokenized[i].ids) for i in pending]):
            for index, extraction in zip(batch, self._run([tokenized[i] for i in batch])):
                results[index] = extraction
                self._remember(extraction.prompt, extraction)
        return [results[i] for i in range(len(tokenized))]

    def get_attention_stats(self, prompt: str) -> dict[str, dict[str, Any]]:
        """Per layer ("layer_0", ...): mean, std, max, mean row entropy, and per-head values of each."""
        return self.extract_activations(prompt).attention_stats()

    def compare_prompts(self, prompts: Sequence[str]) -> dict[str, Extraction]:
        """{prompt: result} for several prompts, run in batches."""
        return dict(zip(prompts, self.extract_batch(prompts)))

    def get_neuron_activations(self, prompt: str, layer_idx: int, kind: str = "residual") -> np.ndarray:
        """[seq, width] activations of one layer (negative indices allowed): residual stream or MLP neurons."""
        if kind not in NEURON_KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, NEURON_KINDS))}, got {kind!r}")
        return self.extract_activations(prompt).neuron_activations(layer_idx, kind)

    def get_model_info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = model_info(self.model)
        return dict(self._info)

    def neuron_logit_effects(self, layer: int, neuron: int, k: int = 10) -> dict[str, list[tuple[str, float]]]:
        """The `k` tokens whose logits MLP neuron `neuron` of `layer` raises most and lowers most:
        ``{"promoted": [(text, value)], "suppressed": [...]}``, from its output direction (its column of the
        MLP output projection) times the final norm's weight, through the unembedding. IndexError when
        `layer` or `neuron` is out of range."""
        layer = check_index(layer, self.get_model_info()["num_layers"], "layer", "this model's layer count")
        width = attribution.mlp_width(self.model, layer)
        neuron = check_index(neuron, width, "neuron", f"the MLP of layer {layer}")
        return attribution.neuron_logit_effects(self.model, self._predictor, layer, neuron, k, self._describe())

    # ---- generation (attnwidget.engine.generation) ----------------------------------------------------------
    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 20,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop_at_eos: bool = True,
    ) -> Extraction:
        """Let the model continue `prompt`, then record prompt + output in one pass: an `Extraction` over all
        the tokens, whose every method (attention, neurons, logit lens, head scores, attribution, ablation)
        works as for a prompt, plus what each step chose and how (`prompt_length`, `generated_tokens`,
        `step_probs`, `step_entropy`, `step_alternatives(step, k)`, `step_position(step)`, `stop_reason`).

        The model writes with its KV cache, as `model.generate` does; greedy decoding (``do_sample=False``)
        writes the same tokens as ``model.generate(..., do_sample=False)``. Sampling (``do_sample=True``)
        draws from the softmax of the logits after `temperature`, then `top_k`, then `top_p` (transformers'
        own processors, in its order; they apply only when sampling), with its own random generator seeded
        by `seed`: the same seed gives the same tokens, and torch's global RNG is neither read nor advanced
        (without a seed one is drawn, kept in ``result.generation.settings.seed``). The model's own
        generation config (repetition penalty, ...) is not applied.

        With `stop_at_eos`, generation ends when the model writes its end-of-sequence token, which is kept
        as the last generated token. Ctrl-C (KeyboardInterrupt) while the model writes ends the generation
        and returns what was written (``stop_reason == "interrupted"``).

        Raises ValueError for an encoder (generation needs a causal language model), for `max_new_tokens`
        below 1 or beyond the model's positions, `temperature` <= 0 when sampling, `top_k` < 1, or `top_p`
        outside (0, 1]. `iter_generate` gives the same steps one at a time, as they are written.
        """
        run = self.iter_generate(
            prompt, max_new_tokens, do_sample, temperature, top_k, top_p, seed=seed, stop_at_eos=stop_at_eos
        )
        return run.run()

    def iter_generate(
        self,
        prompt: str,
        max_new_tokens: int = 20,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop_at_eos: bool = True,
    ) -> generation.Generation[Extraction]:
        """`generate`, one step at a time: a `Generation` to iterate, each `Step` (token id, display text,
        probability, entropy, alternatives) as soon as the model chose it. ``run.stop()`` (from any thread)
        ends it before the next forward pass; ``run.result()`` then records what was written and returns the
        `Extraction` `generate` would. The arguments are checked here, before anything runs."""
        if self._predictor is None:
            why = "has no next-token head" if self.get_model_info()["is_causal"] else "is an encoder"
            if self.is_encoder_decoder:
                why = "is an encoder-decoder model (extract_activations(source) shows what it writes)"
            raise ValueError(f"generation needs a causal language model; {self._describe()} {why}")
        item = self._tokenize(prompt)
        settings = generation.check_settings(
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            stop_at_eos=stop_at_eos,
            prompt_length=len(item.ids),
            max_positions=self.get_model_info()["max_positions"],
            model_name=self.model_name,
        )
        texts = TokenTextStream(self.tokenizer, start=len(item.ids))
        eos = generation.eos_token_ids(self.model, self.tokenizer)
        steps = generation.decode_steps(self.model, item.ids, settings, eos, texts, self._predictor.texts)
        return generation.Generation(
            steps, settings, len(item.ids), finish=lambda run: self._record_generation(item, run, texts)
        )

    def _record_generation(
        self, item: _Tokenized, run: generation.Generation[Extraction], texts: TokenTextStream
    ) -> Extraction:
        """The one recorded pass over prompt + the tokens `run` wrote, with the steps attached."""
        generated = [step.token_id for step in run.steps]
        ids = item.ids + generated
        whole = _Tokenized(
            prompt=item.prompt,
            ids=ids,
            tokens=self.tokenizer.convert_ids_to_tokens(ids),
            texts=TokenTexts(
                display=item.texts.display + [step.text for step in run.steps],
                notes={**item.texts.notes, **texts.notes},
            ),
        )
        # Not remembered in `_recent`: that cache answers extract_activations(prompt), which means the prompt alone.
        extraction = self._run([whole])[0]
        extraction.generation = generation.GenerationRecord(
            prompt_length=len(item.ids),
            steps=tuple(run.steps),
            stop_reason=run.stop_reason or "stopped",
            settings=run.settings,
        )
        return extraction

    # ---- internals ----------------------------------------------------------------------------------
    def _describe(self) -> str:
        architecture = type(self.model).__name__
        return self.model_name if self.model_name == architecture else f"{self.model_name} ({architecture})"

    def _remember(self, key: Any, result: Any) -> None:
        self._recent[key] = result
        while len(self._recent) > 4:
            self._recent.popitem(last=False)

    def _tokenize(self, prompt: Any) -> _Tokenized:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        if not prompt.strip():
            raise ValueError("prompt is empty: give some text to run through the model")
        fast = bool(getattr(self.tokenizer, "is_fast", False))
        encoded = self.tokenizer(prompt, return_offsets_mapping=fast)
        ids = list(encoded["input_ids"])
        limit = self.get_model_info()["max_positions"]
        if limit and len(ids) > limit:
            raise ValueError(f"prompt is {len(ids)} tokens; {self.model_name} accepts at most {limit} positions")
        offsets = [tuple(span) for span in encoded["offset_mapping"]] if fast else None
        return _Tokenized(
            prompt=prompt,
            ids=ids,
            tokens=self.tokenizer.convert_ids_to_tokens(ids),
            texts=display_tokens(self.tokenizer, prompt, ids, offsets),  # type: ignore[arg-type]
        )

    def _run(self, items: list[_Tokenized]) -> list[Extraction]:
        """Run one padded batch; its recording can run it again (exactly) after the memory budget dropped it."""
        recording = Recording(lambda: self._record(items))
        recording.get()  # run now: a model that cannot be read fails here, not on first look
        layers = capture.LayerSource(capture.LayerReplayer(self.model, self.route, recording))
        info = self.get_model_info()
        return [
            Extraction(
                prompt=item.prompt,
                model_name=self.model_name,
                model_info=info,
                input_ids=np.asarray(item.ids, dtype=np.int64),
                tokens=item.tokens,
                display_tokens=item.texts.display,
                token_notes=item.texts.notes,
                predictor=self._predictor,
                is_causal=info["is_causal"],
                layers=layers,
                batch_index=row,
                lens=self._lens,
            )
            for row, item in enumerate(items)
        ]

    def _record(self, items: list[_Tokenized]) -> RecordedPass:
        """One forward pass over `items`, padded to the longest, keeping the residual stream and each block's
        call; attention and MLP neurons are recovered per layer later by replaying a block (see
        capture.LayerReplayer). The generic eager route is the exception: its maps can only come from
        output_attentions, so they are kept too."""
        lengths = [len(item.ids) for item in items]
        longest = max(lengths)
        input_ids = torch.zeros(len(items), longest, dtype=torch.long)
        padding_mask = torch.zeros(len(items), longest, dtype=torch.long)
        for row, item in enumerate(items):
            input_ids[row, : len(item.ids)] = torch.tensor(item.ids)
            padding_mask[row, : len(item.ids)] = 1
        device = self.device
        # Without padding, no mask: the model then takes its fastest (is_causal) kernel path.
        mask = padding_mask.to(device) if min(lengths) != longest else None

        streams = capture.StreamRecorder(self.model, len(items), longest)
        eager = self.route == "eager"
        # On the sdpa route, count the attention calls (nothing kept) to know they go where we listen.
        counter = capture.AttentionRecorder(keep=False)
        listening: Any = nullcontext()
        if self.route == "sdpa":
            listening = capture.sdpa_capture(self.model, counter)
        elif eager:
            listening = capture.implementation(self.model, "eager")
        with capture.model_lock(self.model), torch.inference_mode(), streams.active(), listening:
            outputs = self.model.base_model(
                input_ids=input_ids.to(device),
                attention_mask=mask,
                use_cache=False,
                output_attentions=eager,
            )
            stored = self._stored_attention(outputs) if eager else None
            final_hidden = outputs.last_hidden_state.float().cpu().numpy()
        if any(call is None for call in streams.block_calls):
            raise AttentionUnavailableError(f"{self._describe()}: not every transformer block ran in the forward pass")
        num_layers = len(streams.blocks)
        if self.route == "sdpa":
            counter.require_calls(num_layers, self._describe(), "forward pass")
        assert streams.residual is not None  # every block ran, so the first one's hook allocated it
        return RecordedPass(
            residual=streams.residual,
            block_calls=streams.block_calls,  # type: ignore[arg-type]
            final_hidden=final_hidden if self._predictor is not None else None,
            stored_attention=stored,
            input_dtypes=streams.input_dtypes,  # type: ignore[arg-type]
        )

    def _stored_attention(self, outputs: Any) -> list[capture.LayerAttentionInputs]:
        stored = capture.stored_maps(getattr(outputs, "attentions", None))
        if stored is None:
            raise AttentionUnavailableError(
                f"{self._describe()} returns no attention weights: it has no attention layers attnwidget can read"
            )
        return stored


def _choose_route(model: Any) -> str:
    if capture.uses_attention_interface(model):
        return "sdpa"
    if getattr(model.config, "model_type", None) == "gpt_neo":
        return "gpt_neo"
    return "eager"


def _batches(indices: list[int], lengths: list[int]) -> list[list[int]]:
    """Group prompts so that each padded batch stays under _MAX_BATCH_TOKENS; similar lengths together."""
    order = sorted(range(len(indices)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for position in order:
        longest = lengths[position]  # sorted ascending, so this one is the longest so far
        if current and longest * (len(current) + 1) > _MAX_BATCH_TOKENS:
            batches.append(current)
            current = []
        current.append(indices[position])
    if current:
        batches.append(current)
    return batches


def model_info(model: Any) -> dict[str, Any]:
    """Architecture facts: the keys `get_model_info()` returned in the scripts attnwidget replaces, plus a few more."""
    config = model.config
    num_heads = int(config.num_attention_heads)
    hidden = int(config.hidden_size)
    blocks = capture.find_layer_blocks(model)
    width = capture.neuron_width(capture.find_mlp_output_projection(blocks[0], hidden))
    intermediate = width or getattr(config, "intermediate_size", None) or 4 * hidden
    architecture = type(model).__name__
    is_causal = bool(getattr(config, "is_decoder", False)) or architecture.endswith(("ForCausalLM", "LMHeadModel"))
    return {
        "model_type": config.model_type,
        "architecture": architecture,
        "num_layers": int(config.num_hidden_layers),
        "num_heads": num_heads,
        "num_key_value_heads": int(getattr(config, "num_key_value_heads", None) or num_heads),
        "hidden_size": hidden,
        "intermediate_size": int(intermediate),
        "vocab_size": int(config.vocab_size),
        "max_positions": int(getattr(config, "max_position_embeddings", 0) or 0),
        "total_parameters": int(sum(p.numel() for p in model.parameters())),
        "is_causal": is_causal,
    }


_shared: dict[str, AttentionExtractor] = {}
# Extractors of models that carry their tokenizer (TransformerLens, nnsight), for as long as the model lives.
_shared_wrapped: weakref.WeakKeyDictionary[Any, AttentionExtractor] = weakref.WeakKeyDictionary()


def shared_extractor(model: Any = None) -> AttentionExtractor:
    """The extractor for `model`: an `AttentionExtractor` as it is; a model spec (alias, folder, .gguf file,
    cached hub id; None for the bundled default) or a TransformerLens `TransformerBridge` or nnsight
    `LanguageModel`, whose extractor is built once and then shared by `attnwidget.show` and
    `attnwidget.compare`."""
    if isinstance(model, AttentionExtractor):
        return model
    if model is None or isinstance(model, (str, os.PathLike)):
        key = str(model)
        if key not in _shared:
            _shared[key] = AttentionExtractor(model)
        return _shared[key]
    if interop.library_of(model) is not None:
        extractor = _shared_wrapped.get(model)
        if extractor is None:
            extractor = _shared_wrapped[model] = AttentionExtractor(model=model)
        return extractor
    raise TypeError(
        "model must be a model spec, an AttentionExtractor, a TransformerLens TransformerBridge or an nnsight "
        f"LanguageModel, got {type(model).__name__} (AttentionExtractor(model=..., tokenizer=...) takes any "
        "transformers model)"
    )
