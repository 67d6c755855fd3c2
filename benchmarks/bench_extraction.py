"""Extraction cost on the bundled SmolLM2 against a plain sdpa forward of the same tokens.

    .venv/bin/python benchmarks/bench_extraction.py            # everything (about 3 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_extraction.py --quick    # time at 1024 and memory at 2048 only

Targets (the engine's performance goals):
  * extraction time <= 1.10x the plain forward at 1024 tokens (naive eager + output_attentions: ~2.1x);
  * extra peak memory at 2048 tokens <= 400 MiB (naive: +4.4 GiB);
  * 4096 tokens works;
  * from the second start, AttentionExtractor() + first extraction < 8 s.

Memory is measured in a fresh process per case: load and warm up, reset the kernel's peak-RSS counter
(/proc/self/clear_refs), run once, read VmHWM. Each case's result stays alive while it is measured, as a
user's would. Time is the median of alternating runs in one process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def prompt_ids(extractor: Any, length: int) -> Any:
    """A natural-ish text cut to exactly `length` tokens."""
    import torch

    text = (ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "The cat sat on the mat. "
    ids = extractor.tokenizer(text * (1 + 4 * length // max(1, len(text.split()))))["input_ids"]
    while len(ids) < length:
        ids = ids + ids
    return torch.tensor([ids[:length]])


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def measure_memory(case: str, length: int) -> dict[str, float]:
    """Run in a child process: peak RSS above the warmed-up baseline for one case."""
    import torch

    from attnwidget import AttentionExtractor

    extractor = AttentionExtractor()
    model = extractor.model
    ids = prompt_ids(extractor, length)
    text = extractor.tokenizer.decode(ids[0])
    warm = prompt_ids(extractor, 16)
    with torch.inference_mode():
        model(input_ids=warm, use_cache=False)
    extractor.extract_activations(extractor.tokenizer.decode(warm[0]))
    extractor._recent.clear()
    if case == "naive":
        model.set_attn_implementation("eager")
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    baseline = _rss_kib("VmRSS")
    with torch.inference_mode():
        if case == "plain":
            kept: Any = model(input_ids=ids, use_cache=False)
        elif case == "naive":
            kept = model(input_ids=ids, use_cache=False, output_attentions=True, output_hidden_states=True)
        else:
            kept = extractor.extract_activations(text)
            assert kept.seq_len == length, kept.seq_len
    peak = _rss_kib("VmHWM")
    del kept
    return {"peak_above_baseline_mib": (peak - baseline) / 1024}


def measure_time(length: int, repeats: int, naive: bool) -> dict[str, float]:
    import torch

    from attnwidget import AttentionExtractor

    extractor = AttentionExtractor()
    model = extractor.model
    ids = prompt_ids(extractor, length)
    text = extractor.tokenizer.decode(ids[0])

    def plain() -> None:
        with torch.inference_mode():
            model(input_ids=ids, use_cache=False)

    def extraction() -> None:
        extractor._recent.clear()
        extractor.extract_activations(text)

    def eager_output_attentions() -> None:
        model.set_attn_implementation("eager")
        try:
            with torch.inference_mode():
                model(input_ids=ids, use_cache=False, output_attentions=True, output_hidden_states=True)
        finally:
            model.set_attn_implementation("sdpa")

    cases = {"plain": plain, "extraction": extraction}
    if naive:
        cases["naive"] = eager_output_attentions
    for run in cases.values():  # warm-up
        run()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, run in cases.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {f"{name}_s": statistics.median(values) for name, values in times.items()}


def measure_cold_start() -> dict[str, float]:
    """A fresh interpreter: import, AttentionExtractor(), first extraction (the model cache must exist)."""
    started = time.perf_counter()
    from attnwidget import AttentionExtractor

    extractor = AttentionExtractor()
    extractor.extract_activations("Once upon a time, there was a little fox who lived in the forest.")
    return {"start_to_first_extraction_s": time.perf_counter() - started}


def child(args: list[str]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the naive baseline, 4096 tokens and cold start")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "memory":
            result = measure_memory(rest[0], int(rest[1]))
        elif kind == "time":
            result = measure_time(int(rest[0]), int(rest[1]), rest[2] == "naive")
        else:
            result = measure_cold_start()
        print(json.dumps(result))
        return

    # Make sure the converted-model cache exists before anything is timed.
    child(["cold"])
    report: dict[str, Any] = {}
    timing = child(["time", "1024", str(args.repeats), "plain" if args.quick else "naive"])
    report["time_1024"] = timing
    print(
        f"time @1024 tokens   plain forward {timing['plain_s']:.3f} s   extraction {timing['extraction_s']:.3f} s"
        f"   ratio {timing['extraction_s'] / timing['plain_s']:.2f}x (target <= 1.10x)"
    )
    if "naive_s" in timing:
        print(
            f"                    naive eager + output_attentions {timing['naive_s']:.3f} s"
            f"   ratio {timing['naive_s'] / timing['plain_s']:.2f}x"
        )

    lengths = [2048] if args.quick else [2048, 4096]
    for length in lengths:
        plain = child(["memory", "plain", str(length)])["peak_above_baseline_mib"]
        extraction = child(["memory", "extraction", str(length)])["peak_above_baseline_mib"]
        report[f"memory_{length}"] = {"plain_mib": plain, "extraction_mib": extraction}
        line = (
            f"memory @{length}     plain forward +{plain:.0f} MiB   extraction +{extraction:.0f} MiB   "
            f"extra {extraction - plain:+.0f} MiB"
        )
        if length == 2048:
            line += " (target <= 400 MiB)"
        if not args.quick and length == 2048:
            naive = child(["memory", "naive", str(length)])["peak_above_baseline_mib"]
            report[f"memory_{length}"]["naive_mib"] = naive
            line += f"   naive extra {naive - plain:+.0f} MiB"
        print(line)

    if not args.quick:
        cold = [child(["cold"])["start_to_first_extraction_s"] for _ in range(3)]
        report["cold_start_s"] = cold
        print(
            f"second start        import + AttentionExtractor() + first extraction: median "
            f"{statistics.median(cold):.1f} s (target < 8 s)"
        )

    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "extraction.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
