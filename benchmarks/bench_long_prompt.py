"""Long prompts: the bundled SmolLM2 at 4096 tokens, from extraction to a zoomed heatmap.

Measured and printed:

- Python: extraction time; `AttentionWidget(extraction)` build time (thumbnails and statistics of all
  270 heads: every map, 4096² each); the initial state size and its largest message; a zoomed window
  requested the way the heatmap does it (`map_window` set from the front end → `_map_window` encoded), for
  the selected head and right after a head switch; a head switch without zoom (the new head's map,
  max-pooled to 1024²).
- Chromium (static page, no kernel; `bench_widget_paint.page_html`): decode and first paint of all views
  with the 4096-token strip, hover per event over the heatmap (which also scrolls the strip) and the strip,
  one wheel zoom step (repaint of the window), and a 1024² window arriving (decode + paint).

    .venv/bin/python benchmarks/bench_long_prompt.py                   # 4096 tokens
    .venv/bin/python benchmarks/bench_long_prompt.py --tokens 2048 --screenshot outputs/long.png

Targets: state ≤ 3 MiB, every message ≤ 8 MiB, first paint ≤ 300 ms, hover ≤ 16 ms per event.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_widget_paint import CHROMIUM, CHROMIUM_ARGS, MOUNT_JS, page_html, summarize  # noqa: E402

MIB = 2**20

PAGE_JS = (
    """
async ([windowInfo, windowBytes]) => {"""
    + MOUNT_JS
    + """  const q = (id) => host.querySelector(`[data-testid="${id}"]`);
  const box = q("heatmap");
  const r = box.getBoundingClientRect();
  const hover = [];
  for (let i = 0; i < 200; i++) {
    const x = r.left + ((i * 7919) % 200 + 0.5) / 200 * r.width, y = r.top + (i + 0.5) / 200 * r.height;
    const s = performance.now();
    box.dispatchEvent(new MouseEvent("mousemove", { clientX: x, clientY: y, bubbles: true }));
    document.body.getBoundingClientRect();
    hover.push(performance.now() - s);
  }
  box.dispatchEvent(new MouseEvent("mouseleave", { bubbles: false }));
  const strip = q("token-strip");
  const tokens = [...strip.querySelectorAll("[data-token-index]")];
  strip.dispatchEvent(new MouseEvent("mouseenter", { bubbles: false }));
  const stripHover = [];
  for (let i = 0; i < 200; i++) {
    const t = tokens[(i * 7919) % tokens.length];
    const s = performance.now();
    t.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    document.body.getBoundingClientRect();
    stripHover.push(performance.now() - s);
  }
  strip.dispatchEvent(new MouseEvent("mouseleave", { bubbles: false }));
  // Wheel zoom steps about the centre, each a synchronous repaint of the window.
  const wheel = [];
  for (let i = 0; i < 6; i++) {
    const s = performance.now();
    box.dispatchEvent(new WheelEvent("wheel", { deltaY: -300, clientX: r.left + r.width / 2,
      clientY: r.top + r.height / 2, bubbles: true, cancelable: true }));
    document.body.getBoundingClientRect();
    wheel.push(performance.now() - s);
  }
  const zoomed = box.dataset.window;
  // A window from Python arrives (what the kernel sends for map_window): decode + paint.
  const bytes = window.attnwidget.decodeState({ b: { $bytes: windowBytes } }).b;
  const [wq0, wq1, wk0, wk1] = [windowInfo.q0, windowInfo.q1, windowInfo.k0, windowInfo.k1];
  const span = wq1 - wq0;
  model.set("map_window", [wq0, wq1, wk0, wk1]);
  const s = performance.now();
  model.set("_map_window", { info: windowInfo, data: bytes });
  document.body.getBoundingClientRect();
  const arrive = performance.now() - s;
  return { decode: t1 - t0, paintSync: t2 - t1, paintFrame: t3 - t1, hover, stripHover, wheel, zoomed,
           arrive, detail: box.dataset.detail, span };
}
"""
)


def bytes_in(value: Any) -> int:
    """Bytes of binary data in a trait value (bytes may sit inside {info, data} dicts and lists)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, dict):
        return sum(bytes_in(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(bytes_in(v) for v in value)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--width", type=int, default=900)
    parser.add_argument("--screenshot", type=pathlib.Path, help="save a full-page PNG of the zoomed widget here")
    args = parser.parse_args()

    import base64

    from attnwidget import AttentionExtractor
    from attnwidget.widgets.attention import AttentionWidget

    start = time.perf_counter()
    extractor = AttentionExtractor()
    load_s = time.perf_counter() - start
    words = "The cat sat on the mat. Then the dog looked at the cat and the cat ran away. " * 700
    ids = extractor.tokenizer(words)["input_ids"][: args.tokens]
    prompt = extractor.tokenizer.decode(ids)
    start = time.perf_counter()
    result = extractor.extract_activations(prompt)
    extract_s = time.perf_counter() - start
    start = time.perf_counter()
    widget = AttentionWidget(result, layer=4, head=0)
    build_s = time.perf_counter() - start
    state = widget.state_for_export()
    largest = max((bytes_in(v), k) for k, v in state.items())

    seq = result.seq_len
    shape = f"{result.num_layers} x {result.num_heads} heads"
    print(f"model {result.model_name}: {seq} tokens, {shape} (load {load_s:.1f} s)")
    print(f"extraction                    {extract_s:7.2f} s")
    print(f"widget build (270 heads)      {build_s:7.2f} s")
    print(f"initial state                 {widget.state_nbytes() / MIB:7.2f} MiB   target ≤ 3 MiB")
    print(f"largest message               {largest[0] / MIB:7.2f} MiB ({largest[1]})   limit 8 MiB")

    # A head switch without zoom: that head's map, max-pooled to 1024² for the heatmap (median of 8).
    switches = []
    for head in range(1, 9):
        s = time.perf_counter()
        widget.set_state({"head": head})
        switches.append((time.perf_counter() - s) * 1000)
    widget.set_state({"head": 0})
    median = statistics.median(switches)
    print(f"head switch (map max-pooled)   {median:6.1f} ms median of 8 (the new head's whole map)")

    # The heatmap zoomed to a 256-token window, then panned, then the head switched with the window kept.
    def request(window: list[int]) -> float:
        s = time.perf_counter()
        widget.set_state({"map_window": window})
        return (time.perf_counter() - s) * 1000

    c = seq // 2
    windows = [[c, c + 256, c - 300, c - 44], [c + 32, c + 288, c - 268, c - 12], [0, seq // 2, 0, seq // 2]]
    times = [request(w) for w in windows]
    info, window_bytes = widget._map_window["info"], len(widget._map_window["data"])
    print(
        f"window request, selected head  {times[0]:6.1f} ms (256²), pan {times[1]:.1f} ms, "
        f"{seq // 2}² → {info['rows']}² pooled {times[2]:.1f} ms; message {window_bytes / MIB:.2f} MiB"
    )
    s = time.perf_counter()
    widget.set_state({"head": 3})
    switch_ms = (time.perf_counter() - s) * 1000
    print(f"head switch with a window      {switch_ms:6.1f} ms (map + window of the new head)")
    widget.set_state({"map_window": []})

    # What a 1024-token zoom brings to the browser, for the paint measurement.
    window_data = widget.encoded_window(4, 0, [c - 512, c + 512, c - 512, c + 512])
    html = page_html(state, width=args.width)
    page_file = ROOT / "benchmarks" / "results" / "long_prompt.html"
    page_file.parent.mkdir(parents=True, exist_ok=True)
    page_file.write_text(html, encoding="utf-8")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": args.width + 40, "height": 1300})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        runs: list[dict[str, Any]] = []
        for _ in range(3):
            page.goto(page_file.as_uri())
            runs.append(
                page.evaluate(PAGE_JS, [window_data["info"], base64.b64encode(window_data["data"]).decode("ascii")])
            )
        if args.screenshot:
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.screenshot), full_page=True)
        browser.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    first = runs[0]
    print(f"decode state (JSON + base64)   {first['decode']:6.1f} ms")
    warm = ", ".join(f"{r['paintFrame']:.1f}" for r in runs[1:])
    print(f"first paint, to next frame     {first['paintFrame']:6.1f} ms cold; warm {warm} ms   target ≤ 300 ms")
    print(summarize("hover heatmap (+strip)", [v for r in runs for v in r["hover"]]) + "   target ≤ 16 ms")
    print(summarize("hover token strip", [v for r in runs for v in r["stripHover"]]))
    print(summarize("wheel zoom step", [v for r in runs for v in r["wheel"]]) + f"   (window {first['zoomed']})")
    print(
        f"1024² window arrives          {statistics.median(r['arrive'] for r in runs):6.1f} ms "
        f"(decode + paint, median of 3; shown from {first['detail']})"
    )


if __name__ == "__main__":
    main()
