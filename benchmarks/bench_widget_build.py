"""Building the widget against the extraction, and `show(prompt)` end to end against a plain forward (issue 14).

    .venv/bin/python benchmarks/bench_widget_build.py                   # SmolLM2 at 1024, 2048, 4096 tokens
    .venv/bin/python benchmarks/bench_widget_build.py --tokens 1024 --repeats 3
    .venv/bin/python benchmarks/bench_widget_build.py --llama-1b        # the Llama-3.2-1B shape at 1024 tokens

Per length, in a fresh process (the bundled SmolLM2; a natural text, the README, cut to N tokens):

  * plain forward: ``model(input_ids, use_cache=False)`` on sdpa, logits included (what a user's forward is);
  * extraction: ``extract_activations(prompt)``;
  * widget: ``AttentionWidget(extraction)`` on a fresh extraction: every layer's maps once, thumbnails, every
    head score, the token strip's predictions (the unembedding of every position), the views' first state;
  * show: ``attnwidget.show(prompt, model=extractor)``, tokenizing to widget (the model already loaded).

After a warm-up on a short prompt (kernels, and the logit attribution's one-time check of the model's blocks),
the cases run in turn `--repeats` times; medians are reported, with the ratios the issue sets: widget /
extraction ≤ 1.0 at every length, show / plain forward ≤ 2.2 at 2048 tokens. The first widget of the
process (before the repeats) is reported too.

`--llama-1b`: a random-weight Llama in the shape of Llama-3.2-1B (16 layers, 32 heads, 8 KV heads, hidden
2048, vocab 128256; `bench_gpu.SHAPES`), float32 on the CPU, at 1024 tokens: the same times, and the peak
memory (RSS, /proc/self/clear_refs) of one extraction + widget build above the loaded model, target ≤ 1.5 GiB.

Writes benchmarks/results/widget_build.json (or widget_build_llama1b.json).
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
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

GIB = 1024**3


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def measure(length: int, repeats: int, llama_1b: bool) -> dict[str, Any]:
    """One length in this process: the cases' times (and, for the 1B shape, memory)."""
    import torch

    import attnwidget
    from attnwidget import AttentionExtractor, AttentionWidget

    report: dict[str, Any] = {"tokens": length, "threads": torch.get_num_threads()}
    if llama_1b:
        from bench_gpu import build_model, find_tokenizer, load_tokenizer
        from bench_gpu import prompt_of as gpu_prompt_of

        tokenizer = load_tokenizer(find_tokenizer(None))
        model = build_model("Llama-3.2-1B", torch.float32, "cpu", positions=max(2048, length + 64))
        extractor = AttentionExtractor(model_name="llama-3.2-1b-shape", model=model, tokenizer=tokenizer)
        prompt = gpu_prompt_of(tokenizer, length)
        report["model_gib"] = sum(p.numel() * p.element_size() for p in model.parameters()) / GIB
    else:
        from bench_common import prompt_of

        extractor = AttentionExtractor()
        model = extractor.model
        prompt = prompt_of(extractor, length)
    ids = torch.tensor([extractor.tokenizer(prompt)["input_ids"]])
    report["tokens"] = int(ids.shape[1])

    def plain() -> None:
        with torch.inference_mode():
            model(input_ids=ids, use_cache=False)

    def extraction() -> Any:
        extractor._recent.clear()
        return extractor.extract_activations(prompt)

    def show() -> Any:
        extractor._recent.clear()
        return attnwidget.show(prompt, model=extractor)

    # Warm-up on a short prompt: kernels, and the attribution's one-time check of the model's blocks.
    short = extractor.tokenizer.decode(ids[0, :32])
    with torch.inference_mode():
        model(input_ids=ids[:, :32], use_cache=False)
    AttentionWidget(extractor.extract_activations(short))
    extractor._recent.clear()

    if llama_1b:  # peak memory of one extraction + widget above the loaded model
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")
        baseline = _rss_kib("VmRSS")
        kept = AttentionWidget(extraction())
        report["peak_above_model_gib"] = (_rss_kib("VmHWM") - baseline) / 2**20
        del kept
        extractor._recent.clear()
        gc.collect()
    report["first_widget_s"], _ = timed(partial(AttentionWidget, extraction()))
    times: dict[str, list[float]] = {"plain": [], "extraction": [], "widget": [], "show": []}
    for _ in range(repeats):
        times["plain"].append(timed(plain)[0])
        seconds, result = timed(extraction)
        times["extraction"].append(seconds)
        times["widget"].append(timed(partial(AttentionWidget, result))[0])
        del result
        times["show"].append(timed(show)[0])
    for name, values in times.items():
        report[f"{name}_s"] = statistics.median(values)
        report[f"{name}_all_s"] = values
    report["widget_per_extraction"] = report["widget_s"] / report["extraction_s"]
    report["show_per_plain"] = report["show_s"] / report["plain_s"]
    report["extraction_per_plain"] = report["extraction_s"] / report["plain_s"]
    return report


def child(length: int, repeats: int, llama_1b: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", str(length), str(repeats)] + (["--llama-1b"] if llama_1b else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", help="lengths (default 1024 2048 4096; 1024 with --llama-1b)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--llama-1b", action="store_true", help="the Llama-3.2-1B shape, random weights")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1], args.llama_1b)))
        return

    lengths = args.tokens or ([1024] if args.llama_1b else [1024, 2048, 4096])
    name = "Llama-3.2-1B shape (random weights)" if args.llama_1b else "SmolLM2-135M"
    print(f"{name}, medians of {args.repeats} (seconds); load {os.getloadavg()[0]:.2f} at the start")
    print("tokens | plain forward | extraction (÷ plain) | widget (÷ extraction) | first widget | show (÷ plain)")
    rows = []
    for length in lengths:
        row = child(length, args.repeats, args.llama_1b)
        rows.append(row)
        line = (
            f"{row['tokens']:6d} | {row['plain_s']:13.2f} | {row['extraction_s']:7.2f} "
            f"({row['extraction_per_plain']:.2f}x)     | {row['widget_s']:6.2f} ({row['widget_per_extraction']:.2f}x)"
            f"         | {row['first_widget_s']:12.2f} | {row['show_s']:.2f} ({row['show_per_plain']:.2f}x)"
        )
        if "peak_above_model_gib" in row:
            line += f"   peak memory +{row['peak_above_model_gib']:.2f} GiB above the {row['model_gib']:.2f} GiB model"
        print(line, flush=True)
    print("targets: widget ≤ 1.0x the extraction at every length; show ≤ 2.2x the plain forward at 2048 tokens")
    if args.llama_1b:
        print("         the 1B shape's peak memory ≤ the model + 1.5 GiB")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    out = results / ("widget_build_llama1b.json" if args.llama_1b else "widget_build.json")
    out.write_text(json.dumps({"model": name, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
