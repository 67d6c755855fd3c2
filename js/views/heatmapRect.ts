// The heatmap of a cross-attention head (an encoder-decoder run, `kind` "cross"): rows are the decoder's
// tokens, columns the source's, drawn as the rectangle it is (heatmap.ts draws the square maps). It zooms
// along the source (wheel, + − buttons and keys, drag to pan): a long source's tokens get room to be read
// and pointed at while every decoder row stays shown. The data-testid="heatmap" element is exactly the map,
// with `data-rows` / `data-cols` (and `data-window`: rows 0..seq, the source tokens shown); token labels on
// both axes sit outside it.
import { cssColor, legendTicks, SCALE_NOTES } from "../color";
import { type RectMap, describeCrossCell, rectAspect, rectWindowLevels } from "../cross";
import * as data from "../data";
import { binOf, mapShape } from "../decode";
import { Tooltip, devicePixels, fitCanvas, onResize, pointIn, setLiveText } from "../dom";
import { cellAt, isZoomed } from "../layout";
import type { ColorScale } from "../model";
import { colorize, putPixels } from "../raster";
import { fileStem } from "../snapshot";
import { rectHeatmapSvgText } from "./heatmapSvg";
import { createLegend } from "./legend";
import { X_AXIS, Y_AXIS, createHeatmapPanel, createMapFrame, paintTokenAxis } from "./mapFrame";
import { createZoom } from "./heatmapZoom";
import { createSaveButtons } from "./save";
import type { View, ViewContext } from "./view";

interface ShownRect {
  weights: Float32Array;
  rows: number;
  cols: number;
  kind: "full" | "pooled" | "preview";
  layer: number;
  head: number;
}

/** The least height of a decoder row, and the most the rows ask for in all (CSS pixels). */
const MIN_ROW_PX = 12;
const MIN_HEIGHT_CAP = 360;

export function createRectHeatmap({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const queries = data.tokens(model);
  const keys = info.key_tokens ?? [];
  const seq = info.seq_len;
  const keyLen = info.key_len ?? keys.length;

  const { root, header, title, status, scaleSelect, scaleLabel } = createHeatmapPanel();
  const f = createMapFrame("heatmap", {
    tabindex: "0", role: "img",
    "aria-label": "cross-attention map: rows are decoder tokens, columns source tokens; wheel or + − zoom the source, drag or arrow keys pan, 0 resets",
    "data-rows": String(seq), "data-cols": String(keyLen),
  });
  f.box.style.aspectRatio = String(rectAspect(seq, keyLen));
  // A long source makes the map flat (4:1 at most): rows keep MIN_ROW_PX each (up to MIN_HEIGHT_CAP in all),
  // so that the decoder tokens stay labelled and pointable; the cells then stretch down.
  f.box.style.minHeight = `${Math.min(seq * MIN_ROW_PX, MIN_HEIGHT_CAP)}px`;
  const note = f.frame.querySelector(".aw-axis-note");
  if (note) note.textContent = "decoder ↓  source →";
  const legend = createLegend({ fit: true, testid: "heatmap-legend" });
  const tooltip = new Tooltip(f.frame);
  const zoom = createZoom({
    model, seq: keyLen, rows: seq, box: f.box, lifetime, canRequest: false,
    onChange: () => repaint(),
    onWheel: (event) => showTooltip(event),
    onDragStart: () => tooltip.hide(),
  });
  /** The source tokens shown: [k0, k0 + span). */
  const keyWindow = () => ({ k0: zoom.window.k0, span: zoom.window.span });
  const zoomed = () => isZoomed(zoom.window, keyLen);
  header.append(title, status, zoom.controls, scaleLabel);
  root.append(header, f.frame, legend.root);
  const stem = () => {
    const { k0, span } = keyWindow();
    const { layer, head } = selection.shownHead;
    return fileStem(["cross-attention", `L${layer}`, `H${head}`, ...(zoomed() ? [`k${k0}-${k0 + span}`] : [])]);
  };
  const svg = () => {
    const s = shown();
    if (!s || size.width <= 0) return null;
    return rectHeatmapSvgText({
      title: `${title.textContent} · ${status.textContent}`, map: rectMap(s), ...keyWindow(),
      scale: model.get("color_scale"), queries, keys, hovered: selection.hovered, pinned: selection.token,
      width: size.width, height: size.height, theme: theme(), legend: legend.drawn(),
    });
  };
  header.append(createSaveButtons(lifetime, { name: "heatmap", root, repaint: () => repaint(), theme, fileStem: stem, svg }));

  let size = { width: 0, height: 0 };
  let hover: { query: number; key: number } | null = null;

  const shown = (): ShownRect | null => {
    const want = selection.shownHead;
    const map = data.attentionMap(model);
    if (map && map.info.layer === want.layer && map.info.head === want.head && map.info.cols !== undefined) {
      return { weights: map.weights, ...mapShape(map.info), kind: map.info.pooled ? "pooled" : "full", ...want };
    }
    const thumb = data.thumbnails(model)[want.layer * info.num_heads + want.head];
    return thumb ? { weights: thumb, ...data.thumbnailShape(info), kind: "preview", ...want } : null;
  };
  const rectMap = (s: ShownRect): RectMap => ({ weights: s.weights, rows: s.rows, cols: s.cols, seqLen: seq, keyLen });
  const weightAt = (s: ShownRect, query: number, key: number) =>
    s.weights[binOf(query, seq, s.rows) * s.cols + binOf(key, keyLen, s.cols)];

  const measure = () => {
    const r = f.box.getBoundingClientRect();
    // A box measured 0 wide (detached, or mid theme switch) keeps the last size it had.
    if (r.width > 0) size = { width: Math.floor(r.width), height: Math.floor(r.height) };
  };

  const paintAxes = () => {
    const t = theme();
    paintTokenAxis(f.yAxis, "y", size.height, Y_AXIS, 0, seq, (i) => queries[i] ?? "", selection.hovered, selection.token, t);
    const { k0, span } = keyWindow();
    paintTokenAxis(f.xAxis, "x", size.width, X_AXIS, k0, span, (j) => keys[j] ?? "", selection.hoveredKey, -1, t);
  };

  const paintBase = () => {
    const s = shown();
    const scale = model.get("color_scale");
    scaleSelect.value = scale;
    if (!s) return;
    title.textContent = `Layer ${s.layer} · head ${s.head} · cross-attention`;
    const { k0, span } = keyWindow();
    const what = zoomed() ? `source tokens ${k0}–${k0 + span - 1} of ${keyLen}` : `${seq} decoder × ${keyLen} source tokens`;
    zoom.update();
    setLiveText(status, s.kind === "preview" ? `preview: ${s.rows} × ${s.cols} thumbnail${selection.isPreview ? " (click to select)" : ""}` : s.kind === "pooled" ? `${what}, max-pooled to ${s.rows} × ${s.cols}` : what);
    status.classList.toggle("is-preview", s.kind === "preview");
    measure();
    const t = theme();
    let max = 0;
    for (const w of s.weights) if (w > max) max = w;
    legend.paint(t, { lut: t.sequential, ticks: legendTicks(scale, max), note: SCALE_NOTES[scale] });
    if (size.width <= 0) return;
    const rows = Math.min(s.rows, devicePixels(size.height));
    // At most one pixel per source token shown (its bins' where the map came max-pooled).
    const cols = Math.min(span, devicePixels(size.width));
    putPixels(f.base, colorize(rectWindowLevels(rectMap(s), k0, span, rows, cols, scale), t.sequential, t.masked), cols, rows);
    f.box.dataset.shown = `${s.kind} ${s.layer} ${s.head}`;
    paintAxes();
  };

  const paintOverlay = () => {
    const { width, height } = size;
    if (width <= 0) return;
    const c = fitCanvas(f.overlay, width, height);
    if (!c) return;
    c.clearRect(0, 0, width, height);
    const t = theme();
    const rowH = height / seq;
    const { k0, span } = keyWindow();
    const colW = width / span;
    const shownKey = (key: number) => key >= k0 && key < k0 + span;
    c.fillStyle = cssColor(t.fg, 0.2);
    if (selection.hovered >= 0 && selection.hovered < seq) c.fillRect(0, selection.hovered * rowH, width, Math.max(1, rowH));
    if (shownKey(selection.hoveredKey)) c.fillRect((selection.hoveredKey - k0) * colW, 0, Math.max(1, colW), height);
    if (selection.token >= 0 && selection.token < seq) {
      c.strokeStyle = cssColor(t.pin);
      c.lineWidth = 1.5;
      c.strokeRect(0.75, selection.token * rowH, width - 1.5, Math.max(1, rowH));
    }
    if (hover && shownKey(hover.key)) {
      c.strokeStyle = cssColor(t.accent);
      c.lineWidth = 2;
      c.strokeRect((hover.key - k0) * colW - 1, hover.query * rowH - 1, Math.max(2, colW) + 2, Math.max(2, rowH) + 2);
    }
  };

  const hitAt = (event: MouseEvent) => {
    const p = pointIn(f.box, event);
    const { k0, span } = keyWindow();
    const cell = cellAt(p.x, p.y, p.width, p.height, seq, span);
    return cell && { query: cell.row, key: k0 + cell.col };
  };

  const showTooltip = (event: MouseEvent) => {
    const s = shown();
    const hit = s && hitAt(event);
    if (!s || !hit) return;
    hover = hit;
    const exact = s.kind === "full";
    const lines = describeCrossCell(hit.query, queries[hit.query] ?? "", hit.key, keys[hit.key] ?? "", weightAt(s, hit.query, hit.key), exact);
    if (s.kind === "preview") lines.push("(thumbnail: click the head to load its exact map)");
    tooltip.showAt(lines, event);
    paintOverlay();
  };

  const onLeave = () => {
    if (zoom.dragging) return;
    hover = null;
    tooltip.hide();
    if (selection.hovered >= 0) selection.hover(-1);
    else paintOverlay();
  };
  lifetime.listen(f.box, "mousemove", (event) => {
    if (zoom.dragging) return;
    const hit = shown() && hitAt(event);
    if (!hit) return onLeave();
    if (hit.query !== selection.hovered) selection.hover(hit.query);
    showTooltip(event);
  });
  lifetime.listen(f.box, "mouseleave", onLeave);
  lifetime.listen(f.box, "click", (event) => {
    if (zoom.consumeClick()) return;
    const hit = shown() && hitAt(event);
    if (hit) selection.pin(hit.query === selection.token ? -1 : hit.query, "heatmap");
  });
  lifetime.listen(scaleSelect, "change", () => selection.setTrait("color_scale", scaleSelect.value as ColorScale));

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["layer", "head", "_attention_map", "color_scale"], repaint);
  selection.onPreview(repaint);
  selection.on(["hovered_token", "token"], () => {
    paintOverlay();
    paintAxes();
  });
  selection.onKeyHover(() => {
    paintOverlay();
    paintAxes();
  });
  onResize(f.box, lifetime, () => {
    const r = f.box.getBoundingClientRect();
    if (Math.floor(r.width) !== size.width || Math.floor(r.height) !== size.height) repaint();
  });

  return { name: "heatmap", root, repaint };
}
