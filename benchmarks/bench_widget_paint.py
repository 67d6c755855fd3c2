"""Paint and hover timing of the widget's views in headless Chromium.

A static page loads the built bundle (attnwidget/static/widget.js) and renders the state of an
`AttentionWidget` through `mountStatic` (a local model, no kernel). Measured in the page:

- decode: JSON + base64 → DataViews (the "data arrives" step, reported apart);
- first paint: `mountStatic` until every view has drawn (synchronous work + layout), and until the next
  animation frame;
- hover: per-event time of mousemove over the heatmap, the head grid (which repaints the heatmap with a
  preview) and the token strip, each including the style/layout it triggers.

    .venv/bin/python benchmarks/bench_widget_paint.py                 # SmolLM2, 1024 tokens
    .venv/bin/python benchmarks/bench_widget_paint.py --tokens 256 --screenshot outputs/widget.png

Targets: first paint ≤ 300 ms, hover ≤ 16 ms per event.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def state_json(state: dict[str, Any]) -> str:
    """Widget state as JSON with bytes as {"$bytes": base64}, safe inside a <script> element (the encoding
    export_html uses)."""
    from attnwidget.output.export import json_for_script

    return json_for_script(state)


def revive_bytes(value: Any) -> Any:
    """The inverse of `state_json`'s encoding: {"$bytes": base64} (at any depth) back to bytes."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        return {k: revive_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revive_bytes(v) for v in value]
    return value


def page_html(state: dict[str, Any], width: int = 900, dark: bool = False) -> str:
    """A page that imports the bundle from an inline copy (nothing from the network) and exposes
    `window.attnwidget` = the bundle's exports and `window.widgetState` = the raw state."""
    static = ROOT / "attnwidget" / "static"
    bundle = (static / "widget.js").read_text(encoding="utf-8")
    css = (static / "widget.css").read_text(encoding="utf-8")
    bundle_json = json.dumps(bundle).replace("<", "\\u003c")
    scheme = "dark" if dark else "light"
    background = "#111" if dark else "#fff"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta name="color-scheme" content="{scheme}">
<style>{css}</style>
<style>body {{ margin: 0; background: {background}; }} #host {{ width: {width}px; }}</style></head>
<body><div id="host"></div>
<script type="application/json" id="state">{state_json(state)}</script>
<script>
window.bundleSource = {bundle_json};
window.ready = (async () => {{
  const url = URL.createObjectURL(new Blob([window.bundleSource], {{ type: "text/javascript" }}));
  window.attnwidget = await import(url);
  window.widgetState = JSON.parse(document.getElementById("state").textContent);
}})();
</script></body></html>"""


# The start of every measuring script: mount the views from the page's state, timing the decode (t0..t1),
# the render (..t2) and the first frame (..t3). `bench_long_prompt.py` continues from here too.
MOUNT_JS = """
  await window.ready;
  const host = document.getElementById("host");
  performance.clearMeasures();
  const t0 = performance.now();
  const state = JSON.parse(document.getElementById("state").textContent);
  const decoded = window.attnwidget.decodeState(state);
  const t1 = performance.now();
  const model = new window.attnwidget.LocalModel(decoded);
  window.attnwidget.default.render({ model, el: host });
  host.getBoundingClientRect();
  const t2 = performance.now();
  await new Promise(requestAnimationFrame);
  const t3 = performance.now();
"""

MEASURE_JS = (
    """
async () => {"""
    + MOUNT_JS
    + """  window.widgetModel = model;

  const time = (target, points) => {
    const out = [];
    for (const [x, y] of points) {
      const s = performance.now();
      target.dispatchEvent(new MouseEvent("mousemove", { clientX: x, clientY: y, bubbles: true }));
      document.body.getBoundingClientRect();  // the layout the event caused
      out.push(performance.now() - s);
    }
    target.dispatchEvent(new MouseEvent("mouseleave", { bubbles: false }));
    return out;
  };
  const sweep = (el, n) => {
    const r = el.getBoundingClientRect();
    const pts = [];
    for (let i = 0; i < n; i++) {
      const f = (i + 0.5) / n;
      pts.push([r.left + f * r.width, r.top + ((i * 7919) % n + 0.5) / n * r.height]);
    }
    return pts;
  };
  const q = (id) => host.querySelector(`[data-testid="${id}"]`);
  const heatmap = time(q("heatmap"), sweep(q("heatmap"), 200));
  const grid = time(q("head-grid"), sweep(q("head-grid"), 100));
  const tokens = [...host.querySelectorAll("[data-token-index]")].slice(0, 200);
  const strip = [];
  for (const t of tokens) {
    const s = performance.now();
    t.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    document.body.getBoundingClientRect();
    strip.push(performance.now() - s);
  }
  // A head switch in the browser: new map bytes arrive (a fresh copy, so nothing is cached), decode + paint.
  const sent = model.get("_attention_map");
  const bytes = sent.data;
  const copy = new DataView(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const s = performance.now();
  model.set("_attention_map", { info: sent.info, data: copy });
  document.body.getBoundingClientRect();
  const redraw = performance.now() - s;
  const views = Object.fromEntries(performance.getEntriesByType("measure")
    .filter((m) => m.name.startsWith("attnwidget:paint:")).map((m) => [m.name.slice(17), m.duration]));
  return { views, decode: t1 - t0, paintSync: t2 - t1, paintFrame: t3 - t1, heatmap, grid, strip, redraw };
}
"""
)


def summarize(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{name:<22} mean {statistics.fmean(values):6.2f} ms   p95 {p95:6.2f} ms   max {ordered[-1]:6.2f} ms"


def build_widget(tokens: int, model: str | None) -> Any:
    from attnwidget import AttentionExtractor
    from attnwidget.widgets.attention import AttentionWidget

    extractor = AttentionExtractor(model)
    words = ("The cat sat on the mat. Then the dog looked at the cat and the cat ran away. ") * 200
    ids = extractor.tokenizer(words)["input_ids"][:tokens]
    prompt = extractor.tokenizer.decode(ids)
    start = time.perf_counter()
    result = extractor.extract_activations(prompt)
    extract_s = time.perf_counter() - start
    start = time.perf_counter()
    widget = AttentionWidget(result, layer=min(4, result.num_layers - 1), head=0)
    print(f"model {result.model_name}: {result.seq_len} tokens, {result.num_layers} x {result.num_heads} heads")
    print(
        f"extract {extract_s:.2f} s, widget state built in {time.perf_counter() - start:.2f} s, "
        f"initial state {widget.state_nbytes() / 2**20:.2f} MiB"
    )
    return widget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--model", default=None, help="model spec (default: bundled SmolLM2)")
    parser.add_argument("--width", type=int, default=900)
    parser.add_argument("--dark", action="store_true")
    parser.add_argument("--screenshot", type=pathlib.Path, help="save a full-page PNG here")
    parser.add_argument(
        "--state-cache",
        type=pathlib.Path,
        help="reuse the widget state saved here (JSON) instead of running the model; saved if missing",
    )
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    if args.state_cache and args.state_cache.exists():
        state = revive_bytes(json.loads(args.state_cache.read_text(encoding="utf-8")))
    else:
        state = build_widget(args.tokens, args.model).state_for_export()
        if args.state_cache:
            args.state_cache.write_text(state_json(state), encoding="utf-8")
    html = page_html(state, width=args.width, dark=args.dark)
    page_file = ROOT / "benchmarks" / "results" / "widget_paint.html"
    page_file.parent.mkdir(parents=True, exist_ok=True)
    page_file.write_text(html, encoding="utf-8")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(
            viewport={"width": args.width + 40, "height": 1200}, color_scheme="dark" if args.dark else "light"
        )
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri())
        result = page.evaluate(MEASURE_JS)
        if args.screenshot:
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.screenshot), full_page=True)
        # Repeat first paint on fresh pages: the first run includes compiling the bundle.
        paints = []
        for _ in range(3):
            page.goto(page_file.as_uri())
            again = page.evaluate(MEASURE_JS)
            paints.append(again["paintFrame"])
        browser.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    print(f"decode state (JSON + base64)  {result['decode']:7.1f} ms")
    print(f"first paint, synchronous      {result['paintSync']:7.1f} ms")
    print(
        f"first paint, to next frame    {result['paintFrame']:7.1f} ms   (cold; warm runs: "
        f"{', '.join(f'{v:.1f}' for v in paints)} ms)   target ≤ 300 ms"
    )
    print("  per view:", ", ".join(f"{name} {ms:.1f} ms" for name, ms in result["views"].items()))
    print(summarize("hover heatmap", result["heatmap"]) + "   target ≤ 16 ms")
    print(summarize("hover head grid", result["grid"]))
    print(summarize("hover token strip", result["strip"]))
    print(f"new map arrives: decode+paint {result['redraw']:7.1f} ms")


if __name__ == "__main__":
    main()
