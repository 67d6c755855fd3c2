"""Cost of generating with everything recorded, on the bundled SmolLM2 (30 layers x 9 heads).

    .venv/bin/python benchmarks/bench_generation.py                     # 16-token prompt, 64 new tokens
    .venv/bin/python benchmarks/bench_generation.py --threads 2 1 --repeats 7   # a row per thread count

Target (2 CPU cores, 16-token prompt, 64 new tokens, greedy): `extractor.generate` (the model writes with
its KV cache, keeping each step's distribution, then one recorded pass over prompt + output) <= 1.3x plain
`model.generate` with its KV cache.

Each time is the median of several runs, the two cases alternating so that a change in the machine's load
hits both. Also reported: the first step through `iter_generate` (what a widget can show first), the
recorded pass alone, and reading every layer's attention of the result afterwards (lazy, not part of
`generate`). Checks that both write the same tokens. Writes benchmarks/results/generation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench_common import prompt_of, timed

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATIO = 1.3


def first_step_ms(extractor: Any, prompt: str, new_tokens: int) -> float:
    """From the call to the first generated token in hand (the prompt's pass, one choice)."""
    start = time.perf_counter()
    run = extractor.iter_generate(prompt, new_tokens)
    next(run)
    elapsed = 1000 * (time.perf_counter() - start)
    run.stop()
    return elapsed


def measure(extractor: Any, length: int, new_tokens: int, repeats: int) -> dict[str, Any]:
    import torch

    prompt = prompt_of(extractor, length)
    ids = torch.tensor([extractor.tokenizer(prompt)["input_ids"]])

    def plain() -> Any:
        with torch.inference_mode():
            return extractor.model.generate(ids, max_new_tokens=new_tokens, do_sample=False)

    def recorded() -> Any:
        return extractor.generate(prompt, max_new_tokens=new_tokens)

    reference, result = plain(), recorded()  # warm-up, and the tokens to compare
    same = result.generated_ids.tolist() == reference[0, ids.shape[1] :].tolist()
    plain_ms, generate_ms, first_ms, pass_ms = [], [], [], []
    for _ in range(repeats):
        plain_ms.append(timed(plain))
        generate_ms.append(timed(recorded))
        first_ms.append(first_step_ms(extractor, prompt, new_tokens))
        run = extractor.iter_generate(prompt, new_tokens)
        for _step in run:
            pass
        pass_ms.append(timed(run.result))
    maps_ms = timed(lambda: [result.attention(layer) for layer in range(result.num_layers)])
    plain_median, generate_median = statistics.median(plain_ms), statistics.median(generate_ms)
    return {
        "prompt_tokens": int(ids.shape[1]),
        "new_tokens": len(result.generated_tokens),
        "same_tokens_as_model_generate": same,
        "model_generate_ms": round(plain_median, 1),
        "generate_recorded_ms": round(generate_median, 1),
        "ratio": round(generate_median / plain_median, 3),
        "first_step_ms": round(statistics.median(first_ms), 1),
        "recorded_pass_ms": round(statistics.median(pass_ms), 1),
        "all_layers_attention_after_ms": round(maps_ms, 1),
        "runs_ms": {"model_generate": [round(t) for t in plain_ms], "generate": [round(t) for t in generate_ms]},
        "text": "".join(result.generated_tokens),
    }


def load_average() -> list[str]:
    path = Path("/proc/loadavg")
    return path.read_text().split()[:3] if path.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=16, help="prompt length")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, nargs="*", default=[2], help="torch threads, one row each (the target is for 2)"
    )
    args = parser.parse_args()

    import torch

    from attnwidget import AttentionExtractor

    extractor = AttentionExtractor("smollm2-135m")
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        before = load_average()
        row = measure(extractor, args.tokens, args.new_tokens, args.repeats)
        rows.append({"threads": threads, "load_average_before": before, "load_average_after": load_average(), **row})

    print(f"SmolLM2-135M, {os.cpu_count()} CPUs; median of {args.repeats} runs, the two cases alternating")
    print(
        "| threads | load avg | prompt | new | model.generate (ms) | generate, recorded (ms) | ratio | target "
        "| first step (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        ratio = row["ratio"]
        print(
            f"| {row['threads']} | {row['load_average_before'][0]}-{row['load_average_after'][0]} | "
            f"{row['prompt_tokens']} | {row['new_tokens']} | {row['model_generate_ms']} | "
            f"{row['generate_recorded_ms']} | {ratio} | <= {RATIO} {'ok' if ratio <= RATIO else 'MISSED'} | "
            f"{row['first_step_ms']} |"
        )
    for row in rows:
        print(
            f"{row['threads']} threads: recorded pass alone {row['recorded_pass_ms']} ms; every layer's attention "
            f"read afterwards {row['all_layers_attention_after_ms']} ms; same tokens as model.generate: "
            f"{row['same_tokens_as_model_generate']}"
        )
    print(f"text: {rows[0]['text']!r}")
    out = ROOT / "benchmarks" / "results" / "generation.json"
    out.write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
