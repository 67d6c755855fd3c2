"""What the benchmark scripts share: a natural prompt of a given length and a wall-clock timer. Imported as
`bench_common` (the scripts run as files, with benchmarks/ first on sys.path)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def prompt_of(extractor: Any, length: int, skip: int = 0) -> str:
    """A natural text cut to `length` tokens (the README from token `skip`, repeated as needed)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    ids = extractor.tokenizer(text)["input_ids"][skip:]
    while len(ids) < length:
        ids = ids + ids
    return str(extractor.tokenizer.decode(ids[:length]))


def timed(call: Any) -> float:
    """Milliseconds that `call()` takes."""
    start = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - start)
