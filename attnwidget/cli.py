"""The `attnwidget` command.

    attnwidget compare --mode simple|questions|sentiment|interactive|custom|all [--prompt1 P --prompt2 P]
                       [--model SPEC] [--target TEXT] [--out DIR]
    attnwidget summary [PROMPT] [--model SPEC] [--target TEXT] [--top N]
    attnwidget generate [PROMPT] [-n N] [--sample [--temperature T] [--top-k K] [--top-p P] [--seed S]]
                        [--no-stop-at-eos] [--model SPEC] [--out DIR]

Bad arguments exit with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .output.phrasings import MODES, PHRASINGS

DEFAULT_PROMPT = "The cat sat on the mat because the cat was tired. The cat"

EPILOG = """examples:
  attnwidget compare --mode all
  attnwidget compare --mode custom --prompt1 "The cat sat on the mat" --prompt2 "A cat was sitting on a mat"
  attnwidget compare --mode interactive --out figures/
  attnwidget summary "Once upon a time" --model minilm-l6
  attnwidget compare --mode custom --prompt1 "The cat sat" --prompt2 "A cat sat" --model t5-folder/ --target "Le chat"
  attnwidget generate "Once upon a time" -n 30 --out outputs/
"""

GENERATE_HELP = """decoding:
  greedy (the default) writes the most likely token at each step. --sample draws each token from the
  model's distribution after --temperature, --top-k and --top-p (in that order); --seed makes it repeatable
  (without one a seed is drawn, and printed so that the run can be repeated).

printed: the text written, then one line per generated token: the probability the model gave it when it chose
it (after temperature, top-k and top-p), the entropy of that distribution (nats), and the most likely other
token; then why it stopped.

file written (in --out, default outputs/):
  generation.html   the widget's views over prompt + output, opening on the generation tab: every token's
                    probability, where each head looked when it chose it. Opens offline, no kernel.
"""

COMPARE_HELP = """modes:
  simple       paraphrases of one statement
  questions    one question asked three ways
  sentiment    the same sentence with positive, negative and neutral feeling
  custom       your own --prompt1 and --prompt2 (and --prompt3 ...)
  interactive  only the self-contained interactive page, interactive_attention.html
  all          simple, questions and sentiment, and the interactive page

files written (in --out, default outputs/):
  attention_<mode>_<n>.png   the most focused head of prompt n (lowest entropy, not a first-token sink)
  all_heads_<mode>_<n>.png   every layer x head of prompt n
  neuron_comparison.png      MLP neurons of the last layer that differ most between the prompts
  layer_stats.png            attention statistics per layer, one line per prompt
  interactive_attention.html the widget's views for the first prompt: opens offline, no kernel
  (with --mode all, the comparison and statistics files are named per mode: neuron_comparison_simple.png, ...)

encoder-decoder models (T5, BART, Marian): the prompts are the encoder's sources and --target the decoder's
text, the same for every source (without it each source gets the model's own greedy output). Every attention
figure is written for each kind of attention, named by it: encoder (source x source), decoder (its own tokens,
causal) and cross (decoder tokens x source tokens):
  attention_<mode>_<n>_<kind>.png, all_heads_<mode>_<n>_<kind>.png, layer_stats_<kind>.png
  neuron_comparison_encoder.png, neuron_comparison_decoder.png   (cross-attention reads the decoder's neurons)
  interactive_attention_encoder.html, ..._decoder.html, ..._cross.html   (a page keeps its kind: no kernel)
"""


TARGET_HELP = (
    "encoder-decoder models (T5, BART, Marian) only: the decoder's text (default: the model's own greedy output)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnwidget",
        description="See inside small transformer language models: attention of every head, neurons, predictions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compare = commands.add_parser(
        "compare",
        help="compare phrasings: figures and an interactive page in outputs/",
        description="Run sets of contrasting phrasings through the model and write figures of their attention "
        "and neurons, and a self-contained interactive HTML page.",
        epilog=COMPARE_HELP + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("--mode", default="all", choices=MODES, help="which phrasings (default: all)")
    compare.add_argument("--prompt1", help="first prompt (mode custom; also the page's prompt in mode interactive)")
    compare.add_argument("--prompt2", help="second prompt (mode custom)")
    compare.add_argument("--prompt3", help="an optional third prompt (mode custom)")
    compare.add_argument("--model", default=None, help="model spec: smollm2-135m (default), minilm-l6, folder, .gguf")
    compare.add_argument("--target", metavar="TEXT", help=TARGET_HELP)
    compare.add_argument("--out", default="outputs", help="folder for the files (default: outputs/)")
    summary = commands.add_parser(
        "summary",
        help="print what one prompt does inside the model",
        description="Run one prompt and print its tokens, the model's shape, its next-token predictions and "
        "the most focused attention heads.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    summary.add_argument("prompt", nargs="?", default=DEFAULT_PROMPT, help="text to run (default: a short story)")
    summary.add_argument("--model", default=None, help="model spec: smollm2-135m (default), minilm-l6, folder, .gguf")
    summary.add_argument("--target", metavar="TEXT", help=TARGET_HELP)
    summary.add_argument("--top", type=int, default=5, help="how many predictions and heads to list (default 5)")
    generate = commands.add_parser(
        "generate",
        help="let the model continue a prompt: its tokens, their probabilities, and a page in outputs/",
        description="Let the model continue a prompt, print what it wrote with the probability and entropy of "
        "every token, and write generation.html: the widget's views over prompt + output.",
        epilog=GENERATE_HELP + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument(
        "prompt", nargs="?", default="Once upon a time", help="text to continue (default: %(default)r)"
    )
    generate.add_argument(
        "-n", "--max-new-tokens", type=int, default=30, metavar="N", help="tokens to write at most (default 30)"
    )
    generate.add_argument("--sample", action="store_true", help="sample each token instead of greedy decoding")
    generate.add_argument(
        "--temperature", type=float, metavar="T", help="with --sample: divide the logits by T > 0 (default 1)"
    )
    generate.add_argument("--top-k", type=int, metavar="K", help="with --sample: draw among the K most likely tokens")
    generate.add_argument(
        "--top-p",
        type=float,
        metavar="P",
        help="with --sample: draw among the most likely tokens holding P of the mass",
    )
    generate.add_argument(
        "--seed", type=int, metavar="S", help="with --sample: seed of the draws (default: a random one)"
    )
    generate.add_argument(
        "--no-stop-at-eos",
        dest="stop_at_eos",
        action="store_false",
        help="go on after the model writes its end-of-sequence token",
    )
    generate.add_argument("--model", default=None, help="model spec: smollm2-135m (default), a folder, .gguf")
    generate.add_argument("--out", default="outputs", help="folder for generation.html (default: outputs/)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            run_compare(args)
        elif args.command == "summary":
            if args.top < 1:
                raise ValueError(f"--top must be at least 1, got {args.top}")
            print_summary(args.prompt, args.model, args.top, args.target)
        elif args.command == "generate":
            run_generate(args)
    except (ValueError, TypeError, IndexError, RuntimeError, OSError) as error:
        print(
            f"attnwidget: error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr
        )
        return 2
    return 0


def compare_sets(args: argparse.Namespace) -> dict[str, list[str]]:
    """{tag: prompts} for the chosen mode; a bad combination of arguments raises ValueError."""
    given = [p for p in (args.prompt1, args.prompt2, args.prompt3) if p is not None]
    for name, prompt in (("--prompt1", args.prompt1), ("--prompt2", args.prompt2), ("--prompt3", args.prompt3)):
        if prompt is not None and not prompt.strip():
            raise ValueError(f"{name} is empty: give some text")
    if args.mode == "custom":
        if args.prompt1 is None or args.prompt2 is None:
            raise ValueError("mode custom needs --prompt1 and --prompt2")
        return {"custom": given}
    if given and args.mode != "interactive":
        raise ValueError(f"--prompt1/--prompt2 are for modes custom and interactive, not {args.mode}")
    if args.mode == "interactive":
        return {}
    modes = ["simple", "questions", "sentiment"] if args.mode == "all" else [args.mode]
    return {mode: PHRASINGS[mode] for mode in modes}


def check_target(target: str | None) -> None:
    if target is not None and not target.strip():
        raise ValueError("--target is empty: give the decoder's text, or leave --target out for the model's own output")


def check_target_model(extractor: Any, target: str | None) -> None:
    """--target only with an encoder-decoder model."""
    if target is not None and not extractor.is_encoder_decoder:
        architecture = extractor.get_model_info()["architecture"]
        raise ValueError(
            f"--target is for encoder-decoder models (T5, BART, Marian, ...); {extractor.model_name} ({architecture}) "
            "reads one text: leave --target out"
        )


def run_compare(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from .analysis.scores import focused_heads
    from .engine.extractor import AttentionExtractor
    from .output.export import export_html
    from .output.report import write_figures
    from .widgets.attention import AttentionWidget

    check_target(args.target)
    sets = compare_sets(args)
    page_prompt = args.prompt1 if args.mode == "interactive" and args.prompt1 else None
    if page_prompt is None:
        page_prompt = next(iter(sets.values()))[0] if sets else PHRASINGS["simple"][0]
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    steps = 1 + len(sets) + (1 if args.mode in ("interactive", "all") or sets else 0)
    written: list[Path] = []
    with tqdm(total=steps, desc="loading model", unit="step", file=sys.stderr, leave=False) as bar:
        extractor = AttentionExtractor(args.model)
        check_target_model(extractor, args.target)
        seq2seq = extractor.is_encoder_decoder
        bar.update()
        for tag, prompts in sets.items():
            bar.set_description(f"{tag}: extracting {len(prompts)} prompts")
            if seq2seq:
                extractions = [extractor.extract_activations(prompt, args.target) for prompt in prompts]
            else:
                extractions = extractor.extract_batch(prompts)
            bar.set_description(f"{tag}: figures")
            written += write_figures(
                extractions, out, tag, single_mode=len(sets) == 1, progress=lambda m: bar.set_postfix_str(m)
            )
            bar.update()
        bar.set_description("interactive page")
        if seq2seq:
            written += write_seq2seq_pages(extractor.extract_activations(page_prompt, args.target), out)
        else:
            extraction = extractor.extract_activations(page_prompt)
            layer, head = focused_heads(extraction.head_scores())[0][:2]
            written.append(
                export_html(AttentionWidget(extraction, layer=layer, head=head), out / "interactive_attention.html")
            )
        bar.update()
    print(f"wrote {len(written)} files to {out}/")
    for path in written:
        print(f"  {path}")


def write_seq2seq_pages(run: Any, out: Path) -> list[Path]:
    """interactive_attention_<kind>.html for each kind of attention, each opening on its most focused head
    (a page has no kernel to switch kinds)."""
    from .analysis.scores import focused_heads
    from .engine.seq2seq import KINDS
    from .output.export import export_html

    written = []
    for kind in KINDS:
        layer, head = focused_heads(run.part(kind).head_scores())[0][:2]
        written.append(export_html(run, out / f"interactive_attention_{kind}.html", kind=kind, layer=layer, head=head))
    return written


def print_summary(prompt: str, model: str | None, top: int, target: str | None = None) -> None:
    from .engine.extractor import AttentionExtractor

    check_target(target)
    started = time.perf_counter()
    print(f"loading {model or 'smollm2-135m'} ...", file=sys.stderr, flush=True)
    extractor = AttentionExtractor(model)
    check_target_model(extractor, target)
    loaded = time.perf_counter()
    result = extractor.extract_activations(prompt, target)  # target is None but for an encoder-decoder model
    extracted = time.perf_counter()
    info = extractor.get_model_info()

    print(f"model    {result.model_name}: {info['architecture']}, {info['total_parameters'] / 1e6:.1f}M parameters")
    if extractor.is_encoder_decoder:
        print_seq2seq_summary(result, info, top)
    else:
        kv = f", {result.num_kv_heads} KV heads" if result.num_kv_heads != result.num_heads else ""
        print(f"shape    {result.num_layers} layers x {result.num_heads} heads{kv}, hidden {info['hidden_size']}")
        print(f"prompt   {prompt!r}")
        print(f"tokens   {result.seq_len}: " + " | ".join(result.display_tokens))
        if result.top_tokens is not None:
            predictions = ", ".join(f"{text!r} {p:.1%}" for text, p in result.top_predictions(-1)[:top])
            print(f"next     {predictions}")
        print("heads    most focused (lowest entropy, first-token sinks left out):")
        print_focused_heads(result, result.display_tokens, top, "last token looks at")
    print(
        f"time     load {loaded - started:.1f} s, extraction {extracted - loaded:.2f} s",
        file=sys.stderr,
    )


def print_focused_heads(extraction: Any, key_tokens: Sequence[str], top: int, looks: str) -> None:
    """The `top` most focused heads of one kind of attention (sinks left out), where the last row looks,
    and the mean attention to the first key."""
    import numpy as np

    from .analysis.scores import focused_heads

    ranked = focused_heads(extraction.head_scores())
    for layer, head, entropy, first_token in ranked[:top]:
        if first_token >= 0.5:
            break
        target = int(extraction.attention(layer, head)[-1].argmax())
        print(
            f"         L{layer:<2d} H{head:<2d} entropy {entropy:.2f} nats, {looks} {key_tokens[target]!r} (#{target})"
        )
    sinks = float(np.mean([first_token for *_, first_token in ranked]))
    print(f"sinks    on average {sinks:.0%} of attention goes to the first token")


def print_seq2seq_summary(run: Any, info: dict[str, Any], top: int) -> None:
    """An encoder-decoder run: both stacks' shapes, source and decoder tokens, each kind's focused heads."""
    encoder, decoder, cross = run.encoder, run.decoder, run.cross
    print(
        f"shape    encoder {encoder.num_layers} layers x {encoder.num_heads} heads, decoder {decoder.num_layers} "
        f"layers x {decoder.num_heads} heads, hidden {info['hidden_size']}"
    )
    print(f"source   {run.source!r}")
    print(f"target   {run.target!r}" + ("" if run.target_given else " (the model's own greedy output)"))
    print(f"tokens   source {encoder.seq_len}: " + " | ".join(encoder.display_tokens))
    print(f"         decoder {decoder.seq_len}: " + " | ".join(decoder.display_tokens))
    for kind, part, keys, looks in (
        ("encoder", encoder, encoder.display_tokens, "last source token looks at"),
        ("decoder", decoder, decoder.display_tokens, "last decoder token looks at"),
        ("cross", cross, cross.key_display_tokens, "last decoder token looks at source"),
    ):
        print(f"{kind:<9}most focused heads (lowest entropy, first-token sinks left out):")
        print_focused_heads(part, keys, top, looks)


# ---- attnwidget generate -------------------------------------------------------------------------------
SAMPLING_FLAGS = (("temperature", "--temperature"), ("top_k", "--top-k"), ("top_p", "--top-p"), ("seed", "--seed"))
# Widest token text the table shows whole (longer ones are cut with "…").
TOKEN_WIDTH = 24


def check_generate_args(args: argparse.Namespace) -> None:
    """The checks that need no model, with the flags' names (the engine checks again, and the context)."""
    if not args.prompt.strip():
        raise ValueError("prompt is empty: give some text to continue")
    if args.max_new_tokens < 1:
        raise ValueError(f"-n/--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    given = [flag for name, flag in SAMPLING_FLAGS if getattr(args, name) is not None]
    if given and not args.sample:
        verb = "applies" if len(given) == 1 else "apply"
        raise ValueError(f"{', '.join(given)} {verb} only with --sample (greedy decoding writes the most likely token)")
    if args.temperature is not None and not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0 when sampling, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise ValueError(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.seed is not None and args.seed < 0:
        raise ValueError(f"--seed must be at least 0, got {args.seed}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")


def run_generate(args: argparse.Namespace) -> None:
    from .engine.extractor import AttentionExtractor
    from .output.export import export_html

    check_generate_args(args)
    started = time.perf_counter()
    print(f"loading {args.model or 'smollm2-135m'} ...", file=sys.stderr, flush=True)
    extractor = AttentionExtractor(args.model)
    loaded = time.perf_counter()
    print(f"writing up to {args.max_new_tokens} tokens ...", file=sys.stderr, flush=True)
    try:
        extraction = extractor.generate(
            args.prompt,
            max_new_tokens=args.max_new_tokens,
            do_sample=args.sample,
            temperature=1.0 if args.temperature is None else args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
            stop_at_eos=args.stop_at_eos,
        )
    except ValueError as error:  # the engine names the argument; the command line has a flag for it
        message = str(error)
        if message.startswith("max_new_tokens "):
            raise ValueError("-n/--max-new-tokens " + message.removeprefix("max_new_tokens ")) from None
        raise
    generated = time.perf_counter()
    shown = args.prompt if len(args.prompt) <= 60 else args.prompt[:59] + "…"
    title = f"{extraction.model_name} · “{shown}” + {len(extraction.generated_tokens)} generated tokens"
    path = export_html(extraction, Path(args.out) / "generation.html", title=title)
    exported = time.perf_counter()
    print_generation(extraction, args.max_new_tokens)
    print(f"wrote     {path}")
    print(
        f"time      load {loaded - started:.1f} s, generation {generated - loaded:.2f} s, "
        f"page {exported - generated:.2f} s",
        file=sys.stderr,
    )


def print_generation(extraction: Any, max_new_tokens: int) -> None:
    """The text written, a table of its tokens (probability, entropy, most likely other token), the stop."""
    import textwrap

    from .engine.tokens import visible_text

    record = extraction.generation
    settings = record.settings
    if settings.do_sample:
        parts = [f"temperature {settings.temperature:g}"]
        parts += [f"top-k {settings.top_k}"] if settings.top_k is not None else []
        parts += [f"top-p {settings.top_p:g}"] if settings.top_p is not None else []
        decoding = f"sampling ({', '.join(parts)}, seed {settings.seed})"
    else:
        decoding = "greedy (the most likely token at each step)"
    print(f"model     {extraction.model_name}, {decoding}")
    print(f"prompt    {extraction.prompt!r} ({extraction.prompt_length} tokens)")
    # The output as text, wrapped, its own line breaks kept; continuation lines under the first.
    lines = [textwrap.wrap(line, 90) or [""] for line in extraction.generated_text.split("\n")]
    for index, line in enumerate(part for wrapped in lines for part in wrapped):
        print(f"{'output' if index == 0 else '':<10}{line}".rstrip())

    def label(text: str) -> str:
        shown = repr(visible_text(text))
        return shown if len(shown) <= TOKEN_WIDTH else shown[: TOKEN_WIDTH - 2] + "…" + shown[-1]

    tokens = [label(text) for text in extraction.generated_tokens]
    width = max([len("token"), *map(len, tokens)])
    print()
    print(f"{'step':>4}  {'token':<{width}}  {'prob':>6}  {'entropy':>7}  most likely other token")
    for step in record.steps:
        # The most likely token other than the one written (the first alternative, or the second).
        other = next((i for i, token in enumerate(step.alternative_ids[:2]) if token != step.token_id), None)
        if other is None:
            instead = ""
        else:
            text, prob = step.alternatives(other + 1)[other]
            instead = f"{label(text)} {prob:.4f}"
        entropy = max(0.0, step.entropy)  # not -0.000 for a distribution of one token
        print(f"{step.index:>4}  {tokens[step.index]:<{width}}  {step.prob:6.4f}  {entropy:7.3f}  {instead}".rstrip())
    print()
    count = len(tokens)
    reasons = {
        "eos": f"eos: the model wrote its end-of-sequence token (step {count - 1})",
        "length": f"length: {count} tokens written, as many as -n {max_new_tokens} allows",
        "interrupted": f"interrupted (Ctrl-C): kept the {count} tokens written",
        "stopped": f"stopped: kept the {count} tokens written",
    }
    print(f"stop      {reasons.get(extraction.stop_reason, extraction.stop_reason)}")


if __name__ == "__main__":
    sys.exit(main())
