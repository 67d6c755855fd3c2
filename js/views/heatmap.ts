// The shown head at full resolution: rows are queries, columns keys. The data-testid="heatmap" element is
// exactly the map; token labels sit outside it. Hover feedback draws on an overlay canvas only.
import { COLOR_SCALES, type ColorScale } from "../model";
import { cssColor, formatWeight } from "../color";
import * as data from "../data";
import { binRange } from "../decode";
import { Tooltip, canvas, devicePixels, el, fitCanvas, onResize } from "../dom";
import { cellAt, clipLabel, labelStep } from "../layout";
import { colorize, levelsAt, putPixels } from "../raster";
import { tokenLabel } from "./tokenStrip";
import { createLegend } from "./legend";
import type { View, ViewContext } from "./view";

const Y_AXIS = 92;
const X_AXIS = 66;
const LABEL_GAP = 12;

interface Shown {
  weights: Float32Array;
  /** Side of `weights`. */
  size: number;
  /** "full": the exact map; "pooled": max-pooled full map; "preview": a thumbnail. */
  kind: "full" | "pooled" | "preview";
  layer: number;
  head: number;
}

export function createHeatmap(ctx: ViewContext): View {
  const { model, selection, theme } = ctx;
  const info = data.info(model);
  const texts = data.tokens(model);
  const seq = info.seq_len;

  const root = el("section", "aw-panel aw-heatmap-panel");
  const header = el("div", "aw-panel-header");
  const title = el("h3", "aw-title");
  const status = el("span", "aw-hint");
  const scaleSelect = el("select", "aw-select", undefined, { "aria-label": "colour scale", title: "colour scale" });
  for (const scale of COLOR_SCALES) scaleSelect.append(el("option", undefined, scale, { value: scale }));
  const scaleLabel = el("label", "aw-control", "scale ");
  scaleLabel.append(scaleSelect);
  header.append(title, status, scaleLabel);

  const frame = el("div", "aw-heatmap-frame");
  frame.style.gridTemplateColumns = `${Y_AXIS}px minmax(0, 1fr)`;
  const yAxis = canvas("aw-axis aw-y-axis");
  const box = el("div", "aw-box aw-heatmap-box", undefined, { "data-testid": "heatmap" });
  const base = canvas("aw-layer", "base");
  const overlay = canvas("aw-layer", "overlay");
  box.append(base, overlay);
  const xAxis = canvas("aw-axis aw-x-axis");
  const axisNote = el("span", "aw-axis-note", "query ↓  key →");
  frame.append(yAxis, box, axisNote, xAxis);
  const legend = createLegend();
  root.append(header, frame, legend.root);
  const tooltip = new Tooltip(frame);

  let boxSize = 0;
  let hoverCell: { row: number; col: number } | null = null;
  let cached: { weights: Float32Array; scale: ColorScale; target: number; levels: Float32Array } | null = null;

  const shown = (): Shown | null => {
    const want = selection.shownHead;
    const map = data.attentionMap(model);
    if (map && map.info.layer === want.layer && map.info.head === want.head) {
      return { weights: map.weights, size: map.info.size, kind: map.info.pooled ? "pooled" : "full", ...want };
    }
    const thumbs = data.thumbnails(model);
    const thumb = thumbs[want.layer * info.num_heads + want.head];
    return thumb ? { weights: thumb, size: info.thumbnail_size, kind: "preview", ...want } : null;
  };

  const levelsOf = (s: Shown, scale: ColorScale, target: number): Float32Array => {
    if (!cached || cached.weights !== s.weights || cached.scale !== scale || cached.target !== target) {
      cached = { weights: s.weights, scale, target, levels: levelsAt(s.weights, s.size, target, scale, info.is_causal) };
    }
    return cached.levels;
  };

  const measure = (): number => {
    const width = box.getBoundingClientRect().width;
    return Math.floor(width);
  };

  const paintBase = () => {
    const s = shown();
    const scale = model.get("color_scale");
    scaleSelect.value = scale;
    if (!s) return;
    title.textContent = `Layer ${s.layer} · head ${s.head}`;
    status.textContent =
      s.kind === "preview"
        ? `preview: ${s.size}² thumbnail${selection.isPreview ? " (click to select)" : "isStatic" in model ? " (full map not in this page)" : " (loading…)"}`
        : s.kind === "pooled"
          ? `${seq} tokens max-pooled to ${s.size}²`
          : `${seq} × ${seq}`;
    status.classList.toggle("is-preview", s.kind === "preview");
    // A box measured 0 wide (detached, or mid theme switch) keeps the last size it had.
    boxSize = measure() || boxSize;
    let max = 0;
    for (let i = 0; i < s.weights.length; i++) if (s.weights[i] > max) max = s.weights[i];
    legend.paint(theme(), scale, max);
    if (boxSize <= 0) return;
    const t = theme();
    // Never more pixels than the screen shows; below that, the canvas is enlarged with crisp pixels.
    const target = Math.min(s.size, devicePixels(boxSize));
    const pixels = colorize(levelsOf(s, scale, target), t.sequential, t.masked);
    putPixels(base, pixels, target, target);
    // What the box shows now ("full 3 5", "pooled 3 5", "preview 3 5"): a stable hook for tests and
    // benchmarks to know that a head's full-resolution map has been painted.
    box.dataset.shown = `${s.kind} ${s.layer} ${s.head}`;
    paintAxes();
  };

  const paintAxes = () => {
    if (boxSize <= 0) return;
    const t = theme();
    const perToken = boxSize / seq;
    const step = labelStep(perToken, LABEL_GAP);
    const label = (i: number) => clipLabel(step > 1 ? `${i} ${texts[i]}` : texts[i], 12);
    const emphasis = [selection.hovered, selection.token];
    yAxis.style.height = `${boxSize}px`;
    xAxis.style.width = `${boxSize}px`;
    const y = fitCanvas(yAxis, Y_AXIS, boxSize);
    const x = fitCanvas(xAxis, boxSize, X_AXIS);
    if (!y || !x) return;
    for (const c of [y, x]) {
      c.clearRect(0, 0, Math.max(Y_AXIS, boxSize), Math.max(X_AXIS, boxSize));
      c.font = `11px ${t.font}`;
      c.textBaseline = "middle";
      c.textAlign = "right";
    }
    const draw = (i: number, strong: boolean) => {
      const at = Math.min(boxSize - 6, Math.max(6, (i + 0.5) * perToken));
      const color = strong ? cssColor(i === selection.token ? t.pin : t.fg) : cssColor(t.muted);
      y.fillStyle = x.fillStyle = color;
      y.font = x.font = `${strong ? "bold " : ""}11px ${t.font}`;
      y.fillText(label(i), Y_AXIS - 4, at);
      x.save();
      x.translate(at, 4);
      x.rotate(-Math.PI / 2);
      x.fillText(label(i), 0, 0);
      x.restore();
    };
    const nearEmphasis = (i: number) => emphasis.some((e) => e >= 0 && Math.abs(e - i) * perToken < LABEL_GAP);
    for (let i = 0; i < seq; i += step) if (!nearEmphasis(i)) draw(i, false);
    for (const i of emphasis) if (i >= 0) draw(i, true);
  };

  const paintOverlay = () => {
    if (boxSize <= 0) return;
    const c = fitCanvas(overlay, boxSize, boxSize);
    if (!c) return;
    const t = theme();
    c.clearRect(0, 0, boxSize, boxSize);
    const perToken = boxSize / seq;
    const band = (i: number, fill: string) => {
      if (i < 0) return;
      const w = Math.max(1, perToken);
      c.fillStyle = fill;
      c.fillRect(0, i * perToken, boxSize, w);
      c.fillRect(i * perToken, 0, w, boxSize);
    };
    band(selection.hovered, cssColor(t.fg, 0.22));
    if (selection.token >= 0) {
      const i = selection.token;
      const w = Math.max(1, perToken);
      c.strokeStyle = cssColor(t.pin);
      c.lineWidth = 1.5;
      c.strokeRect(0.75, i * perToken, boxSize - 1.5, w);
      c.strokeRect(i * perToken, 0.75, w, boxSize - 1.5);
    }
    const s = shown();
    if (hoverCell && s) {
      const cell = boxSize / s.size;
      c.strokeStyle = cssColor(t.accent);
      c.lineWidth = 2;
      c.strokeRect(hoverCell.col * cell - 1, hoverCell.row * cell - 1, Math.max(2, cell) + 2, Math.max(2, cell) + 2);
    }
  };

  const describe = (s: Shown, row: number, col: number): string[] => {
    const [q0, q1] = binRange(row, seq, s.size);
    const [k0, k1] = binRange(col, seq, s.size);
    const range = (a: number, b: number, what: string) =>
      b - a === 1 ? `${what} ${tokenLabel(a, texts[a])}` : `${what}s #${a}–#${b - 1}`;
    const weight = s.weights[row * s.size + col];
    // Pooled bins are square, so a key bin right of the query bin holds only later keys.
    const masked = info.is_causal && col > row;
    const value = masked
      ? "masked (a causal query cannot see later keys)"
      : s.kind === "full"
        ? `weight ${weight.toPrecision(4)}`
        : `max weight ${formatWeight(weight)}${s.kind === "preview" ? " (thumbnail)" : ""}`;
    return [range(q0, q1, "query"), range(k0, k1, "key"), value];
  };

  const onMove = (event: MouseEvent) => {
    const s = shown();
    const rect = box.getBoundingClientRect();
    const hit = s && cellAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height, s.size, s.size);
    if (!s || !hit) return onLeave();
    hoverCell = hit;
    const query = binRange(hit.row, seq, s.size)[0];
    if (query === selection.hovered) paintOverlay();
    else selection.hover(query);
    const frameRect = frame.getBoundingClientRect();
    tooltip.show(describe(s, hit.row, hit.col), event.clientX - frameRect.left, event.clientY - frameRect.top,
      frameRect.width);
  };
  const onLeave = () => {
    hoverCell = null;
    tooltip.hide();
    if (selection.hovered >= 0) selection.hover(-1);
    else paintOverlay();
  };
  const onClick = (event: MouseEvent) => {
    const s = shown();
    const rect = box.getBoundingClientRect();
    const hit = s && cellAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height, s.size, s.size);
    if (!s || !hit) return;
    const query = binRange(hit.row, seq, s.size)[0];
    selection.pin(query === selection.token ? -1 : query, "heatmap");
  };
  const onScale = () => selection.setTrait("color_scale", scaleSelect.value as ColorScale);
  box.addEventListener("mousemove", onMove);
  box.addEventListener("mouseleave", onLeave);
  box.addEventListener("click", onClick);
  scaleSelect.addEventListener("change", onScale);

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["layer", "head", "_attention_map", "_attention_map_info", "color_scale"], repaint);
  selection.onPreview(repaint);
  selection.on(["hovered_token", "token"], () => {
    paintOverlay();
    paintAxes();
  });
  const stopResize = onResize(box, () => {
    if (measure() !== boxSize) repaint();
  });

  return {
    root,
    repaint,
    dispose() {
      stopResize();
      box.removeEventListener("mousemove", onMove);
      box.removeEventListener("mouseleave", onLeave);
      box.removeEventListener("click", onClick);
      scaleSelect.removeEventListener("change", onScale);
    },
  };
}
