"""`export_html`: one self-contained HTML file with the widget's views, for a browser with no kernel and no
network.

The page inlines the same JS bundle and CSS the notebook widget uses, and the widget's state as JSON in
`<script type="application/json">` (bytes as base64). Its Content-Security-Policy allows no network access
at all. Size stays bounded for long prompts: every head is there as a thumbnail, and full-resolution maps
are included for all heads when they fit the budget, otherwise for the most focused heads and the selected
one; the page says which.

An encoder-decoder run (`attnwidget.engine.seq2seq.EncoderDecoderExtraction`) is written one kind of attention
at a time (``kind=``, default "cross", as `AttentionWidget` shows it): a page has no kernel to send another
kind's arrays, so its kind switch keeps the kind it was saved with. Cross-attention maps are rectangles
(decoder tokens × source tokens).
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from ..analysis.scores import focused_heads
from ..engine.extraction import Extraction
from ..engine.seq2seq import EncoderDecoderExtraction, part_of
from ..widgets.attention import KIND_TITLES, AttentionWidget
from ..widgets.base import bundle_text

# Raw bytes of full-resolution maps a page may carry (base64 adds a third): ~16 heads at 1024 tokens,
# every head of SmolLM2 up to ~290 tokens.
DEFAULT_MAP_BUDGET = 16 * 1024 * 1024
# No network, no eval; inline scripts and the bundle's blob: module only.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; "
    "img-src data: blob:; connect-src 'none'; font-src 'none'; base-uri 'none'; form-action 'none'"
)
_SCRIPT_ESCAPES = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element: bytes become {"$bytes": base64}; <, >, &, U+2028 and
    U+2029 are escaped, so no text (a prompt with "</script>" in it) can end the element."""

    def encode(item: Any) -> Any:
        if isinstance(item, bytes):
            return {"$bytes": base64.b64encode(item).decode("ascii")}
        if isinstance(item, dict):
            return {key: encode(val) for key, val in item.items()}
        if isinstance(item, (list, tuple)):
            return [encode(val) for val in item]
        return item

    text = json.dumps(encode(value), ensure_ascii=False, separators=(",", ":"))
    for char, escape in _SCRIPT_ESCAPES:
        text = text.replace(char, escape)
    return text


def choose_full_heads(widget: AttentionWidget, budget: int) -> tuple[list[tuple[int, int]], str]:
    """Which heads get a full-resolution map in the page, and a sentence saying so."""
    extraction = widget.extraction
    total = extraction.num_layers * extraction.num_heads
    per_head = len(widget.encoded_head(widget.layer, widget.head)["data"])
    fits = max(1, budget // max(per_head, 1))
    if fits >= total:
        heads = [(layer, head) for layer in range(extraction.num_layers) for head in range(extraction.num_heads)]
        return heads, f"Full-resolution maps of all {total} heads are in this page."
    selected = (widget.layer, widget.head)
    ranked = [(layer, head) for layer, head, *_ in focused_heads(extraction.head_scores()) if (layer, head) != selected]
    heads = [selected, *ranked[: fits - 1]]
    return heads, (
        f"Full-resolution maps of {len(heads)} of the {total} heads are in this page (the selected head and "
        f"the most focused ones, {', '.join(f'L{layer} H{head}' for layer, head in heads[1:6])}, …); "
        "the others show their thumbnail. Run the notebook widget to see every head."
    )


def _page_widget(source: Any, kind: str | None, layer: int | None, head: int | None) -> AttentionWidget:
    """The widget a page shows: `source` itself, or a widget built on an extraction (for an
    `EncoderDecoderExtraction`, its part `kind`, default "cross") showing (`layer`, `head`) if given."""
    if isinstance(source, AttentionWidget):
        if kind is not None or layer is not None or head is not None:
            raise ValueError("kind=, layer= and head= are for an extraction; a widget is written as it is")
        return source
    if not isinstance(source, (Extraction, EncoderDecoderExtraction)):
        raise TypeError(f"export_html needs an AttentionWidget or an Extraction, got {type(source).__name__}")
    shown = part_of(source, kind)
    if not isinstance(source, EncoderDecoderExtraction):
        kind = None  # an extraction (or one part of a run) shows its only attention
    layers, heads = shown.num_layers, shown.num_heads
    layer = 0 if layer is None else layer % layers if -layers <= layer < layers else layer
    head = 0 if head is None else head % heads if -heads <= head < heads else head
    return AttentionWidget(source, kind=kind, layer=layer, head=head)


def export_html(
    source: AttentionWidget | Extraction | EncoderDecoderExtraction,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    map_budget: int = DEFAULT_MAP_BUDGET,
    kind: str | None = None,
    layer: int | None = None,
    head: int | None = None,
) -> Path:
    """Write `source` (a widget, with its current selection, or an Extraction) as one standalone HTML file.

    An `EncoderDecoderExtraction` is written one kind of attention at a time: `kind` "encoder", "decoder" or
    "cross" (the default). `layer` and `head` choose the head an extraction's page shows first (default: 0, 0).
    Returns the path written. Opening it needs a browser only: no kernel, no network.
    """
    widget = _page_widget(source, kind, layer, head)
    if not isinstance(map_budget, int) or map_budget < 0:
        raise ValueError(f"map_budget must be a non-negative int (bytes), got {map_budget!r}")

    extraction = widget.extraction
    heads, note = choose_full_heads(widget, map_budget)
    maps = [widget.encoded_head(layer, head) for layer, head in heads]
    neurons = [widget.encoded_neurons(layer) for layer in range(extraction.num_layers)]
    css = bundle_text("widget", ".css").replace("</", "<\\/")
    bundle = json_for_script(bundle_text("widget", ".js"))
    heading = title or f"{extraction.model_name} · {extraction.seq_len} tokens"
    if title is None and extraction.stack is not None:
        heading = f"{extraction.model_name} · {KIND_TITLES.get(extraction.stack, extraction.stack)}"

    page = PAGE.format(
        csp=html.escape(CSP, quote=True),
        title=html.escape(heading),
        css=css,
        heading=html.escape(heading),
        prompt=html.escape(_page_text(widget)),
        note=html.escape(note),
        state=json_for_script(widget.state_for_export()),
        maps=json_for_script(maps),
        neurons=json_for_script(neurons),
        bundle=bundle,
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def _page_text(widget: AttentionWidget) -> str:
    """The text under the page's heading: the prompt, or an encoder-decoder run's source and target."""
    run = getattr(widget, "_result", None)
    if isinstance(run, EncoderDecoderExtraction):
        target = run.target if run.target_given else f"{run.target} (the model's own output)"
        return f"source: {_clip(run.source, 300)}\ntarget: {_clip(target, 300)}"
    return _clip(widget.extraction.prompt, 400)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="color-scheme" content="light dark">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="attnwidget">
<title>{title}</title>
<style>{css}</style>
<style>
  body {{ margin: 16px auto; max-width: 1100px; padding: 0 12px; font: 14px system-ui, sans-serif;
         background: Canvas; color: CanvasText; }}
  .aw-export-header h1 {{ font-size: 18px; margin: 0 0 4px; }}
  .aw-export-header p {{ margin: 2px 0; opacity: 0.8; white-space: pre-wrap; overflow-wrap: anywhere; }}
  .aw-export-note {{ font-size: 12px; }}
  noscript {{ color: #b00; }}
</style>
</head>
<body>
<header class="aw-export-header">
  <h1>{heading}</h1>
  <p class="aw-export-prompt">{prompt}</p>
  <p class="aw-export-note" data-testid="export-note">{note}</p>
  <noscript>This page draws its views with JavaScript; enable it to see them.</noscript>
</header>
<div id="attnwidget-root"></div>
<script type="application/json" id="attnwidget-state">{state}</script>
<script type="application/json" id="attnwidget-maps">{maps}</script>
<script type="application/json" id="attnwidget-neurons">{neurons}</script>
<script>
(async () => {{
  // The widget's own ES module bundle, inlined as text and imported through a blob: URL.
  const source = {bundle};
  const url = URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }}));
  const bundle = await import(url);
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  window.attnwidgetPage = bundle.mountStatic(
    document.getElementById("attnwidget-root"), read("attnwidget-state"), read("attnwidget-maps"),
    read("attnwidget-neurons"),
  );
}})();
</script>
</body>
</html>
"""
