"""What one forward pass leaves behind, and the memory budget that keeps it bounded.

An extraction keeps the residual stream of its pass (the input of every block: ``layers + 1`` rows of
``seq × hidden`` floats, 37 MB for SmolLM2 at 512 tokens) and builds caches from it (attention maps,
MLP neurons). A notebook keeps every widget it ever displayed, so without a bound the memory of a long
session only grows. But all of it can be rebuilt exactly: running the same model on the same token ids
gives the same numbers. So the recordings of all live extractions share one budget (`memory_budget`,
`set_memory_budget`, or ``ATTNWIDGET_MEMORY_BUDGET`` in MiB): when they hold more, the least recently used
ones drop their data, and an extraction whose data was dropped runs its forward pass again the next time it
is read (a second or so for SmolLM2 at 512 tokens). The recording in use is never dropped, even when it
alone is larger than the budget.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

DEFAULT_BUDGET_MIB = 1024


@dataclass
class RecordedPass:
    """The data of one forward pass over a batch of prompts (padded to the longest)."""

    # [batch, layers + 1, seq, hidden]: the input of every block, then the output. float32 on the CPU; on an
    # accelerator on the model's device, in its dtype (see capture._residual_buffer).
    residual: torch.Tensor
    block_calls: list[tuple[tuple[Any, ...], dict[str, Any]]]  # each block's other call arguments
    final_hidden: np.ndarray | None  # [batch, seq, hidden]: the model's last hidden state (after its final norm)
    stored_attention: list[Any] | None = None  # the eager route's maps, per layer
    stored_cross_attention: list[Any] | None = None  # and its cross-attention maps (encoder-decoder decoders)
    input_dtypes: list[torch.dtype] | None = None  # the dtype each block was called with

    def block_input(self, layer: int, device: torch.device | str) -> torch.Tensor:
        """Block `layer`'s recorded input [batch, seq, hidden] on `device`, in the dtype the block was called
        with (a bf16 model's input comes back as bf16: a replay then computes what the pass computed)."""
        dtype = self.input_dtypes[layer] if self.input_dtypes is not None else None
        return self.residual[:, layer].to(device=device, dtype=dtype)


def nbytes(value: Any) -> int:
    """Bytes held by tensors and arrays inside `value` (containers and dataclasses are walked)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name)) for f in fields(value))
    return 0


class Recording:
    """One forward pass, kept as long as the budget allows and run again when needed.

    `get()` returns the pass (running it first if it was never run or was dropped). `caches` holds what is
    built from it (attention inputs, maps, neurons: anything whose bytes `nbytes` can count); it is emptied
    when the pass is dropped. Store into it with `keep`, which also checks the budget.

    Sizes are counted when something is stored (the pass when it runs, a cache entry when it is kept) and
    remembered: the budget is checked on every read, and walking every recording's tensors each time cost a
    widget build more than its model work (0.6 s of 1 s for 18 tokens). A cache grown in place is stored
    again with `keep`, which counts it again."""

    def __init__(self, run: Callable[[], RecordedPass], budget: MemoryBudget | None = None) -> None:
        self._run = run
        self._pass: RecordedPass | None = None
        self._pass_nbytes = 0
        self.caches: dict[Any, Any] = {}
        self._cache_nbytes: dict[Any, int] = {}
        self.runs = 0  # how many times the pass was run: 1, plus one per rebuild after a drop
        self._budget = budget if budget is not None else BUDGET
        self._budget.register(self)

    @property
    def is_loaded(self) -> bool:
        return self._pass is not None

    def get(self) -> RecordedPass:
        if self._pass is None:
            self._pass = self._run()
            self._pass_nbytes = nbytes(self._pass)
            self.runs += 1
        self._budget.touch(self)
        return self._pass

    def keep(self, key: Any, value: Any) -> Any:
        """``caches[key] = value``, then hold every recording to the budget; returns `value`."""
        self.caches[key] = value
        self._cache_nbytes[key] = nbytes(value)
        self._budget.touch(self)
        return value

    def grow(self, key: Any, value: Any, added: Any) -> Any:
        """``caches[key] = value`` where `value` is the cache already kept under `key` with `added` put into
        it (nothing replaced): only `added`'s bytes are counted. A cache filled one layer at a time and
        counted whole each time cost a widget build a walk of every layer's entries per layer."""
        if key not in self._cache_nbytes:
            return self.keep(key, value)
        self.caches[key] = value
        self._cache_nbytes[key] += nbytes(added)
        self._budget.touch(self)
        return value

    def drop(self) -> None:
        """Forget the pass and every cache built from it (they are rebuilt when read again)."""
        self._pass = None
        self._pass_nbytes = 0
        self.caches.clear()
        self._cache_nbytes.clear()

    def nbytes(self) -> int:
        """Bytes held: the pass and every cache entry, as counted when stored."""
        return self._pass_nbytes + sum(self._cache_nbytes.values())


class MemoryBudget:
    """The recordings of every live extraction, least recently used first, held to `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._order: OrderedDict[int, weakref.ref[Recording]] = OrderedDict()
        self._lock = threading.Lock()

    def register(self, recording: Recording) -> None:
        with self._lock:
            self._order[id(recording)] = weakref.ref(recording)

    def recordings(self) -> list[Recording]:
        """Live recordings, least recently used first (dead ones are forgotten here, not in a weakref
        callback, which could run in the middle of a change to the order)."""
        with self._lock:
            live = []
            for key, ref in list(self._order.items()):
                recording = ref()
                if recording is None or id(recording) != key:
                    del self._order[key]
                else:
                    live.append(recording)
            return live

    def total(self) -> int:
        """Bytes held by every live recording."""
        return sum(r.nbytes() for r in self.recordings())

    def touch(self, recording: Recording) -> None:
        """Mark `recording` as just used, then drop the least recently used others while over the limit."""
        with self._lock:
            if id(recording) in self._order:
                self._order.move_to_end(id(recording))
        sizes = [(r, r.nbytes()) for r in self.recordings()]
        total = sum(size for _, size in sizes)
        dropped = False
        for other, size in sizes:
            if total <= self.limit:
                break
            if other is not recording and size:
                other.drop()
                total -= size
                dropped = True
        if dropped:
            _return_freed_memory()


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc: its allocator returns memory by itself, or not at all
        return None


def _return_freed_memory() -> None:
    """Give freed memory back to the system. glibc keeps large freed blocks in its heap once it has raised
    its mmap threshold (it does after the first large free), so without this the process would keep the
    size of everything ever dropped although nothing uses it (measured: 206 MiB kept for 43 MiB in use)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _initial_limit() -> int:
    text = os.environ.get("ATTNWIDGET_MEMORY_BUDGET", "").strip()
    try:
        mib = float(text) if text else DEFAULT_BUDGET_MIB
    except ValueError:
        mib = DEFAULT_BUDGET_MIB
    return int(max(mib, 0) * 2**20)


BUDGET = MemoryBudget(_initial_limit())


def memory_budget() -> int:
    """Bytes the recorded passes of all live extractions may hold together (see the module docstring)."""
    return BUDGET.limit


def set_memory_budget(limit: int) -> None:
    """Set the bytes the recorded passes of all live extractions may hold together (default 1 GiB, or
    ``ATTNWIDGET_MEMORY_BUDGET`` MiB). Least recently used ones are dropped at once if they now hold more;
    a dropped extraction runs its forward pass again when it is next read."""
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
        raise ValueError(f"the memory budget must be a non-negative int (bytes), got {limit!r}")
    BUDGET.limit = int(limit)
    recent = BUDGET.recordings()
    if recent:
        BUDGET.touch(recent[-1])
