"""The `attnwidget` command.

    attnwidget compare --mode simple|questions|sentiment|interactive|custom|all [--prompt1 P --prompt2 P]
                       [--model SPEC] [--out DIR]
    attnwidget summary [PROMPT] [--model SPEC] [--top N]

Bad arguments exit with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from .output.phrasings import MODES, PHRASINGS

DEFAULT_PROMPT = "The cat sat on the mat because the cat was tired. The cat"

EPILOG = """examples:
  attnwidget compare --mode all
  attnwidget compare --mode custom --prompt1 "The cat sat on the mat" --prompt2 "A cat was sitting on a mat"
  attnwidget compare --mode interactive --out figures/
  attnwidget summary "Once upon a time" --model minilm-l6
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
"""


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
    summary.add_argument("--top", type=int, default=5, help="how many predictions and heads to list (default 5)")
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
            print_summary(args.prompt, args.model, args.top)
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


def run_compare(args: argparse.Namespace) -> None:
    from pathlib import Path

    from tqdm import tqdm

    from .analysis.scores import focused_heads
    from .engine.extractor import AttentionExtractor
    from .output.export import export_html
    from .output.report import write_figures
    from .widgets.attention import AttentionWidget

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
        bar.update()
        for tag, prompts in sets.items():
            bar.set_description(f"{tag}: extracting {len(prompts)} prompts")
            extractions = extractor.extract_batch(prompts)
            bar.set_description(f"{tag}: figures")
            written += write_figures(
                extractions, out, tag, single_mode=len(sets) == 1, progress=lambda m: bar.set_postfix_str(m)
            )
            bar.update()
        bar.set_description("interactive page")
        extraction = extractor.extract_activations(page_prompt)
        layer, head = focused_heads(extraction.head_scores())[0][:2]
        written.append(
            export_html(AttentionWidget(extraction, layer=layer, head=head), out / "interactive_attention.html")
        )
        bar.update()
    print(f"wrote {len(written)} files to {out}/")
    for path in written:
        print(f"  {path}")


def print_summary(prompt: str, model: str | None, top: int) -> None:
    import numpy as np

    from .analysis.scores import focused_heads
    from .engine.extractor import AttentionExtractor

    started = time.perf_counter()
    print(f"loading {model or 'smollm2-135m'} ...", file=sys.stderr, flush=True)
    extractor = AttentionExtractor(model)
    loaded = time.perf_counter()
    result = extractor.extract_activations(prompt)
    extracted = time.perf_counter()
    info = extractor.get_model_info()

    print(f"model    {result.model_name}: {info['architecture']}, {info['total_parameters'] / 1e6:.1f}M parameters")
    kv = f", {result.num_kv_heads} KV heads" if result.num_kv_heads != result.num_heads else ""
    print(f"shape    {result.num_layers} layers x {result.num_heads} heads{kv}, hidden {info['hidden_size']}")
    print(f"prompt   {prompt!r}")
    print(f"tokens   {result.seq_len}: " + " | ".join(result.display_tokens))
    if result.top_tokens is not None:
        predictions = ", ".join(f"{text!r} {p:.1%}" for text, p in result.top_predictions(-1)[:top])
        print(f"next     {predictions}")

    ranked = focused_heads(result.head_scores())
    print("heads    most focused (lowest entropy, first-token sinks left out):")
    for layer, head, entropy, first_token in ranked[:top]:
        if first_token >= 0.5:
            break
        target = int(result.attention(layer, head)[-1].argmax())
        print(
            f"         L{layer:<2d} H{head:<2d} entropy {entropy:.2f} nats, "
            f"last token looks at {result.display_tokens[target]!r} (#{target})"
        )
    sinks = float(np.mean([first_token for *_, first_token in ranked]))
    print(f"sinks    on average {sinks:.0%} of attention goes to the first token")
    print(
        f"time     load {loaded - started:.1f} s, extraction {extracted - loaded:.2f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
