"""Cost of CompareWidget's "patch A → B" on the bundled SmolLM2 (30 layers x 9 heads), and one example.

    .venv/bin/python benchmarks/bench_compare_patch.py                 # 64 tokens (about a minute)
    .venv/bin/python benchmarks/bench_compare_patch.py --tokens 64 256 --repeats 9

For heads in layers 0, 15 and 29 (a patch re-runs the blocks from the head's layer on: layer 0 is the worst
case), each the median of several runs:
  * the engine's `patch` alone, its last-position log-probabilities read (what the widget cannot avoid);
  * `CompareWidget.patch_effect` (the patch, both prompts' unpatched log-probabilities, the top 5 lists);
  * a head switch with `patching` on: the maps of both prompts and the encoded patch (nothing cached).
Also: the example the README quotes ("The capital of France is" → "The capital of Italy is", head 23.4).
Writes benchmarks/results/compare_patch.json.
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

HEADS = [(0, 4), (15, 2), (29, 8)]
EXAMPLE = ["The capital of France is", "The capital of Italy is"]
EXAMPLE_HEAD = (23, 4)


def measure(extractor: Any, length: int, repeats: int) -> dict[str, Any]:
    from attnwidget import CompareWidget

    a, b = extractor.extract_batch([prompt_of(extractor, length), prompt_of(extractor, length, skip=length)])
    widget = CompareWidget([a, b], patching=False)
    positions = None if a.seq_len == b.seq_len else [(b.seq_len - 1, a.seq_len - 1)]
    widget.patch_effect(0, 0)  # finds the output projections and checks the final norm once
    result: dict[str, Any] = {"tokens": [a.seq_len, b.seq_len]}
    for layer, head in HEADS:
        engine, effect, switch = [], [], []
        selection = {"layer": layer, "head": head}
        for _ in range(repeats):
            engine.append(timed(lambda: b.patch(a, heads=[(layer, head)], positions=positions).logprobs(-1)))  # noqa: B023
            effect.append(timed(lambda: widget.patch_effect(layer, head)))  # noqa: B023
            widget.apply({"layer": 0, "head": 0, "patching": True})
            widget._patches = type(widget._patches)(widget._patches.size)  # nothing cached
            switch.append(timed(lambda: widget.apply(selection)))  # noqa: B023
            widget.patching = False
        result[f"L{layer}H{head}"] = {
            "engine_patch_ms": round(statistics.median(engine), 1),
            "patch_effect_ms": round(statistics.median(effect), 1),
            "head_switch_with_patching_ms": round(statistics.median(switch), 1),
        }
    return result


def example(extractor: Any) -> dict[str, Any]:
    from attnwidget import CompareWidget

    effect = CompareWidget(extractor.extract_batch(EXAMPLE)).patch_effect(*EXAMPLE_HEAD)
    return {key: effect[key] for key in ("layer", "head", "source_top", "target_top", "fraction", "logit_diff")} | {
        "top_before": effect["top_before"][:3],
        "top_after": effect["top_after"][:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, nargs="*", default=[64])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the targets are for 2 cores)")
    args = parser.parse_args()

    import torch

    from attnwidget import AttentionExtractor

    torch.set_num_threads(args.threads)
    extractor = AttentionExtractor("smollm2-135m")
    report = {"threads": args.threads, "runs": [measure(extractor, n, args.repeats) for n in args.tokens]}
    report["example"] = example(extractor)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    out = ROOT / "benchmarks" / "results" / "compare_patch.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
