"""Logit lens cost on the bundled SmolLM2 at a long prompt: one position = (layers + 1) rows unembedded.

    .venv/bin/python benchmarks/bench_logit_lens.py             # 4096 tokens
    .venv/bin/python benchmarks/bench_logit_lens.py --tokens 1024

Reports the median time of `Extraction.logit_lens_arrays(position, k=5)` over several positions (cold:
nothing cached), and of `logit_lens` (with token texts), and the last row's agreement with
`top_predictions`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    import numpy as np

    from attnwidget import AttentionExtractor

    extractor = AttentionExtractor("smollm2-135m")
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards"]
    rng = np.random.default_rng(0)
    text = " ".join(rng.choice(words, size=args.tokens * 2))
    ids = extractor.tokenizer(text)["input_ids"][: args.tokens]
    prompt = extractor.tokenizer.decode(ids)
    start = time.perf_counter()
    result = extractor.extract_activations(prompt)
    extract_s = time.perf_counter() - start

    positions = rng.integers(0, result.seq_len, size=args.repeats).tolist()
    result.logit_lens_arrays(0)  # warm-up (first call allocates)
    arrays, full = [], []
    for position in positions:
        t = time.perf_counter()
        result.logit_lens_arrays(position, 5)
        arrays.append(time.perf_counter() - t)
        t = time.perf_counter()
        lens = result.logit_lens(position, 5)
        full.append(time.perf_counter() - t)
    last = lens[-1]
    reference = result.top_predictions(positions[-1])[:5]
    out = {
        "tokens": result.seq_len,
        "layers_plus_one": result.num_layers + 1,
        "extract_s": round(extract_s, 2),
        "logit_lens_arrays_ms_median": round(1000 * statistics.median(arrays), 2),
        "logit_lens_ms_median": round(1000 * statistics.median(full), 2),
        "last_row_matches_top_predictions": [t for t, _ in last] == [t for t, _ in reference]
        and max(abs(a - b) for (_, a), (_, b) in zip(last, reference)) < 1e-5,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
