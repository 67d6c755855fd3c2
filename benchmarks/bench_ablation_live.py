"""Ablating heads in a live kernel, end to end: JupyterLab in headless Chromium, the bundled SmolLM2 at 64
tokens; time from the pointer press of a shift-click on a head-grid cell to the Ablate tab showing the new
predictions (the click sets `ablated`, the kernel re-runs the model from the first ablated layer, the
predictions travel back, are decoded and shown). The set grows by one head per click, 1 to 5 heads, the
first in layer 0 (every later click re-runs all 30 blocks).

    .venv/bin/python benchmarks/bench_ablation_live.py [--tokens 64]

Target: the new predictions shown <= 300 ms after the click. Runs
tests/browser/test_ablation_browser.py::test_shift_click_timing with ATTNWIDGET_BENCH_TOKENS set, which
writes benchmarks/results/ablation_live.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    results = ROOT / "benchmarks" / "results" / "ablation_live.json"
    results.unlink(missing_ok=True)
    env = {**os.environ, "ATTNWIDGET_BENCH_TOKENS": str(args.tokens), "HF_HUB_OFFLINE": "1"}
    test = "tests/browser/test_ablation_browser.py::test_shift_click_timing"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    report = json.loads(results.read_text())
    times = ", ".join(f"{t:.0f}" for t in report["click_to_predictions_ms"])
    print(
        f"ablation @{report['tokens']} tokens, shift-click -> new predictions shown: median "
        f"{report['median_ms']:.0f} ms (target <= {TARGET_MS:.0f} ms); each (1..5 heads): {times} ms"
    )


if __name__ == "__main__":
    main()
