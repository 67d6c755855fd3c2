"""The first generated token in a live notebook: JupyterLab in headless Chromium, the bundled SmolLM2 warm, a
new cell ``w = attnwidget.show(<16-token prompt>, ex, generate=64); w`` run from the page five times (a new
prompt each time); time from the run command to the generation view showing its first token.

    .venv/bin/python benchmarks/bench_generation_live.py

Target: <= 500 ms. Runs tests/browser/test_generation_timing.py with ATTNWIDGET_BENCH_GENERATION=1, which
writes benchmarks/results/generation_live.json. (`bench_generation.py` times the generation itself against
transformers' `generate`.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 500.0


def main() -> None:
    results = ROOT / "benchmarks" / "results" / "generation_live.json"
    results.unlink(missing_ok=True)
    env = {**os.environ, "ATTNWIDGET_BENCH_GENERATION": "1", "HF_HUB_OFFLINE": "1"}
    test = "tests/browser/test_generation_timing.py::test_first_generated_token_timing"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    report = json.loads(results.read_text())
    times = ", ".join(f"{t:.0f}" for t in report["first_token_ms"])
    print(
        f"generation, cell run -> first generated token shown: median {report['median_ms']:.0f} ms "
        f"(target <= {TARGET_MS:.0f} ms); each run: {times} ms"
    )


if __name__ == "__main__":
    main()
