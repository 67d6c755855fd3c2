"""Cost of interventions on the bundled SmolLM2 (30 layers x 9 heads = 270 heads).

    .venv/bin/python benchmarks/bench_interventions.py                  # 64 tokens (about a minute)
    .venv/bin/python benchmarks/bench_interventions.py --tokens 64 256 --repeats 9

Targets (2 CPU cores, 64-token prompt):
  * one ablation of <= 5 heads, its new predictions and effect read: <= 150 ms (the worst case, a head in
    layer 0: every block runs again);
  * all 270 single-head effects (`head_effects`): <= 10 s.

Each time is the median of several runs. Also reported: an ablation from the middle layer on (half the
blocks), mean-ablation (one extra block replay per intervened layer for the means), patching 5 heads
from another prompt of the same length, how long `iter_head_effects` takes to hand over its first layer
(the slowest one: all 30 blocks run again; a live view's first update) and all 270 head effects at the
middle position (the re-runs stop at the position read). Writes benchmarks/results/interventions.json.
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

ABLATION_MS = 150.0
EFFECTS_S = 10.0
FIVE_HEADS = [(0, 1), (5, 3), (12, 4), (20, 6), (29, 8)]
MIDDLE_HEADS = [(15, 0), (18, 2), (22, 5)]


def shown(intervention: Any) -> None:
    """What a view shows after an ablation: the new top predictions and the effect on the target."""
    intervention.top_predictions(-1, k=5)
    intervention.effect(-1)


def measure(extractor: Any, length: int, repeats: int, effect_repeats: int) -> dict[str, Any]:
    from attnwidget.engine import interventions

    result = extractor.extract_activations(prompt_of(extractor, length))
    other = extractor.extract_activations(prompt_of(extractor, length, skip=length))
    tokens = result.seq_len
    if other.seq_len != tokens:  # re-tokenising a decoded cut may merge tokens: patch at the common rows
        positions: list[tuple[int, int]] | None = [(i, i) for i in range(min(tokens, other.seq_len))]
    else:
        positions = None
    first = timed(lambda: shown(result.ablate(heads=FIVE_HEADS)))  # finds the output projections once
    five, middle, mean, patch = [], [], [], []
    for _ in range(repeats):
        five.append(timed(lambda: shown(result.ablate(heads=FIVE_HEADS))))
        middle.append(timed(lambda: shown(result.ablate(heads=MIDDLE_HEADS))))
        mean.append(timed(lambda: shown(result.ablate(heads=FIVE_HEADS, mode="mean"))))
        patch.append(timed(lambda: shown(result.patch(other, heads=FIVE_HEADS, positions=positions))))
    effects = [timed(lambda: result.head_effects(progress=False)) / 1000 for _ in range(effect_repeats)]
    middle_effects = [
        timed(lambda: result.head_effects(position=tokens // 2, progress=False)) / 1000 for _ in range(effect_repeats)
    ]
    first_layer = [timed(lambda: next(interventions.iter_head_effects(result))) for _ in range(effect_repeats)]
    values = result.head_effects(progress=False)
    layer, head = divmod(int(abs(values).argmax()), result.num_heads)
    return {
        "tokens": tokens,
        "first_ablation_ms": round(first, 1),
        "ablate_5_heads_ms": round(statistics.median(five), 1),
        "ablate_3_heads_from_layer_15_ms": round(statistics.median(middle), 1),
        "mean_ablate_5_heads_ms": round(statistics.median(mean), 1),
        "patch_5_heads_ms": round(statistics.median(patch), 1),
        "head_effects_270_s": round(statistics.median(effects), 2),
        "head_effects_first_layer_ms": round(statistics.median(first_layer), 1),
        "head_effects_270_at_middle_position_s": round(statistics.median(middle_effects), 2),
        "strongest_head": [layer, head, float(values[layer, head])],
        "target": result.top_predictions(-1)[0][0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, nargs="*", default=[64])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--effect-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the targets are for 2 cores)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from attnwidget import AttentionExtractor

    extractor = AttentionExtractor("smollm2-135m")
    rows = [measure(extractor, length, args.repeats, args.effect_repeats) for length in args.tokens]

    print(
        f"SmolLM2-135M, {args.threads} torch threads, {os.cpu_count()} CPUs; median of {args.repeats} runs "
        f"({args.effect_repeats} for head effects)"
    )
    header = (
        "tokens",
        "ablate 5 heads (ms)",
        "target",
        "3 heads from L15",
        "mean 5",
        "patch 5",
        "270 effects (s)",
        "target",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        check = row["tokens"] == 64
        five, effects = row["ablate_5_heads_ms"], row["head_effects_270_s"]
        print(
            f"| {row['tokens']} | {five} | "
            + (f"<= {ABLATION_MS:.0f} {'ok' if five <= ABLATION_MS else 'MISSED'}" if check else "-")
            + f" | {row['ablate_3_heads_from_layer_15_ms']} | {row['mean_ablate_5_heads_ms']} | "
            f"{row['patch_5_heads_ms']} | {effects} | "
            + (f"<= {EFFECTS_S:.0f} {'ok' if effects <= EFFECTS_S else 'MISSED'}" if check else "-")
            + " |"
        )
    for row in rows:
        layer, head, value = row["strongest_head"]
        print(
            f"{row['tokens']} tokens: first ablation {row['first_ablation_ms']} ms (finds the output projections); "
            f"strongest head L{layer}H{head}: {value:+.3f} log-prob of {row['target']!r}; head effects: first "
            f"layer after {row['head_effects_first_layer_ms']} ms, all 270 at position {row['tokens'] // 2} in "
            f"{row['head_effects_270_at_middle_position_s']} s"
        )
    out = ROOT / "benchmarks" / "results" / "interventions.json"
    out.write_text(json.dumps({"threads": args.threads, "repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
