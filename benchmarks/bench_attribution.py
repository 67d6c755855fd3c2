"""Cost of logit attribution and value-weighted maps on the bundled SmolLM2.

    .venv/bin/python benchmarks/bench_attribution.py                 # 64 and 1024 tokens (about a minute)
    .venv/bin/python benchmarks/bench_attribution.py --tokens 256 --repeats 9

Targets (2 CPU cores):
  * `logit_attribution` at the last position, nothing of the prompt cached: <= 60 ms at 64 tokens,
    <= 300 ms at 1024 tokens;
  * `value_weighted(layer, head)` <= 1.2x the plain map `attention(layer, head)` of the same head, both cold
    (the prompt's caches emptied before each call).

Each time is the median of several runs, alternating cases. Also reported: the model's first attribution
(it also runs every block through its MLP once, to check that the blocks add up), and a new target at a
position already attributed (only the unembedding rows change). Writes benchmarks/results/attribution.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from bench_common import prompt_of, timed

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = {64: 60.0, 1024: 300.0}
VALUE_RATIO = 1.2


def measure(extractor: Any, length: int, repeats: int) -> dict[str, Any]:
    result = extractor.extract_activations(prompt_of(extractor, length))
    caches = result.layers.recording.caches
    layers, heads = result.num_layers, result.num_heads
    first = timed(lambda: result.logit_attribution())
    cold, new_target = [], []
    plain, weighted = [], []
    for run in range(repeats):
        caches.clear()
        cold.append(timed(lambda: result.logit_attribution()))
        new_target.append(timed(lambda: result.logit_attribution(target=" the", contrast=" a")))
        layer, head = (7 * run + 3) % layers, run % heads
        caches.clear()
        plain.append(timed(lambda layer=layer, head=head: result.attention(layer, head)))
        caches.clear()
        weighted.append(timed(lambda layer=layer, head=head: result.value_weighted(layer, head)))
    attribution = result.logit_attribution()
    return {
        "tokens": result.seq_len,
        "first_call_ms": round(first, 1),
        "logit_attribution_ms": round(statistics.median(cold), 1),
        "new_target_same_position_ms": round(statistics.median(new_target), 2),
        "plain_map_ms": round(statistics.median(plain), 2),
        "value_weighted_ms": round(statistics.median(weighted), 2),
        "value_weighted_ratio": round(statistics.median(w / p for w, p in zip(weighted, plain)), 2),
        "total_minus_logit": attribution.total - attribution.logit,
        "target": attribution.target,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, nargs="*", default=[64, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the targets are for 2 cores)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from attnwidget import AttentionExtractor

    extractor = AttentionExtractor("smollm2-135m")
    rows = [measure(extractor, length, args.repeats) for length in args.tokens]

    print(f"SmolLM2-135M, {args.threads} torch threads, median of {args.repeats} runs (ms)")
    header = ("tokens", "attribution", "target", "new target", "plain map", "value-weighted", "ratio", "target")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        goal = TARGET_MS.get(row["tokens"])
        print(
            f"| {row['tokens']} | {row['logit_attribution_ms']} | "
            + (f"<= {goal:.0f} {'ok' if row['logit_attribution_ms'] <= goal else 'MISSED'}" if goal else "-")
            + f" | {row['new_target_same_position_ms']} | {row['plain_map_ms']} | {row['value_weighted_ms']} | "
            f"{row['value_weighted_ratio']}x | <= {VALUE_RATIO}x "
            f"{'ok' if row['value_weighted_ratio'] <= VALUE_RATIO else 'MISSED'} |"
        )
    first = rows[0]["first_call_ms"]
    print(f"first attribution of the model (checks its blocks once): {first} ms")
    out = ROOT / "benchmarks" / "results" / "attribution.json"
    out.write_text(json.dumps({"threads": args.threads, "repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
