"""Switching head in a live kernel, end to end: JupyterLab in headless Chromium, the bundled SmolLM2 at
1024 tokens; time from the pointer press on a head-grid cell to that head's full map painted in the heatmap
(the click travels to the kernel, the map is computed, encoded, sent back, decoded and drawn).

    .venv/bin/python benchmarks/bench_widget_live.py [--tokens 1024]

Target: switching head <= 100 ms. Runs tests/browser/test_head_switch.py with
ATTNWIDGET_BENCH_TOKENS set, which writes benchmarks/results/widget_live.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args()
    results = ROOT / "benchmarks" / "results" / "widget_live.json"
    results.unlink(missing_ok=True)
    env = {**os.environ, "ATTNWIDGET_BENCH_TOKENS": str(args.tokens), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/browser/test_head_switch.py"]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    report = json.loads(results.read_text())
    times = ", ".join(f"{t:.0f}" for t in report["click_to_full_map_ms"])
    print(
        f"head switch @{report['tokens']} tokens, click -> full map painted: median {report['median_ms']:.0f} ms "
        f"(target <= 100 ms); each: {times} ms"
    )


if __name__ == "__main__":
    main()
