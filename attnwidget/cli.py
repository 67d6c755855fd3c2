"""The `attnwidget` command.

    attnwidget summary [PROMPT] [--model SPEC] [--top N]

Bad arguments exit with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

DEFAULT_PROMPT = "The cat sat on the mat because the cat was tired. The cat"

EPILOG = """examples:
  attnwidget summary
  attnwidget summary "Once upon a time" --model minilm-l6
  attnwidget summary "def add(a, b): return" --top 8
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnwidget",
        description="See inside small transformer language models: attention of every head, neurons, predictions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
        if args.command == "summary":
            if args.top < 1:
                raise ValueError(f"--top must be at least 1, got {args.top}")
            print_summary(args.prompt, args.model, args.top)
    except (ValueError, TypeError, IndexError, RuntimeError, OSError) as error:
        print(
            f"attnwidget: error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr
        )
        return 2
    return 0


def print_summary(prompt: str, model: str | None, top: int) -> None:
    import numpy as np

    from .extractor import AttentionExtractor
    from .report import rank_focused_heads

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

    ranked = rank_focused_heads(result)
    print("heads    most focused (lowest entropy, first-token sinks left out):")
    for head in [h for h in ranked if h.sink < 0.5][:top]:
        text = result.display_tokens[head.last_token_target]
        print(
            f"         L{head.layer:<2d} H{head.head:<2d} entropy {head.entropy:.2f} nats, "
            f"last token looks at {text!r} (#{head.last_token_target})"
        )
    sinks = float(np.mean([h.sink for h in ranked]))
    print(f"sinks    on average {sinks:.0%} of attention goes to the first token")
    print(
        f"time     load {loaded - started:.1f} s, extraction {extracted - loaded:.2f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
