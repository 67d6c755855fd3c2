// The shown head: rows are queries, columns keys. The data-testid="heatmap" element is exactly the map;
// token labels sit outside it. Hover feedback draws on an overlay canvas only.
//
// Zoom and pan (wheel, drag, the − / + / reset buttons, or the keyboard: + − arrows 0) show a square
// window of tokens. When the map sent for the head is max-pooled (long prompts), the view writes the window
// to `map_window` and Python answers with that part of the map at full resolution (`_map_window`); until
// it arrives, or without a kernel, the pooled map is shown enlarged and the tooltip says so.
import { COLOR_SCALES, type ColorScale } from "../model";
import { cssColor, formatWeight } from "../color";
import * as data from "../data";
import { Tooltip, canvas, devicePixels, el, fitCanvas, onResize } from "../dom";
import {
  type MapWindow, clampWindow, clipLabel, fullWindow, isZoomed, labelStep, panWindow, tokenOffset,
  windowBounds, windowCellAt, windowFromBounds, windowLabels, zoomWindow,
} from "../layout";
import { type MapPatch, colorize, levelsAt, patchCellAt, patchRowMax, putPixels, windowLevels } from "../raster";
import { tokenLabel } from "./tokenStrip";
import { createLegend } from "./legend";
import type { View, ViewContext } from "./view";

const Y_AXIS = 92;
const X_AXIS = 66;
const LABEL_GAP = 12;
/** Zoom factor of a button press or key; the wheel zooms continuously. */
const STEP = 2;
/** How long the window must stay still before it is requested from Python. */
const REQUEST_DELAY_MS = 120;
/** A press that moves less than this (px) is a click, not a drag. */
const DRAG_SLOP = 3;

interface Shown {
  weights: Float32Array;
  /** Side of `weights`. */
  size: number;
  /** "full": the exact map; "pooled": max-pooled full map; "preview": a thumbnail. */
  kind: "full" | "pooled" | "preview";
  layer: number;
  head: number;
}

const rowMaxCache = new WeakMap<Float32Array, Float32Array>();
const maxCache = new WeakMap<Float32Array, number>();

function maxOf(weights: Float32Array): number {
  let max = maxCache.get(weights);
  if (max === undefined) {
    max = 0;
    for (let i = 0; i < weights.length; i++) if (weights[i] > max) max = weights[i];
    maxCache.set(weights, max);
  }
  return max;
}

export function createHeatmap(ctx: ViewContext): View {
  const { model, selection, theme } = ctx;
  const info = data.info(model);
  const texts = data.tokens(model);
  const seq = info.seq_len;
  // CompareWidget panels and older exported states have no map_window: zoom works, detail is not requested.
  const canRequest = Array.isArray(model.get("map_window")) && !("isStatic" in model);

  const root = el("section", "aw-panel aw-heatmap-panel");
  const header = el("div", "aw-panel-header");
  const title = el("h3", "aw-title");
  const status = el("span", "aw-hint");
  const zoomOut = el("button", "aw-button", "−", { type: "button", title: "zoom out (−)", "aria-label": "zoom out" });
  const zoomIn = el("button", "aw-button", "+", { type: "button", title: "zoom in (+, or the mouse wheel)", "aria-label": "zoom in" });
  const reset = el("button", "aw-button", "reset", { type: "button", title: "show every token (0)", "aria-label": "reset zoom" });
  const zoomGroup = el("span", "aw-zoom", undefined, { "data-testid": "heatmap-zoom" });
  zoomGroup.append(zoomOut, zoomIn, reset);
  const scaleSelect = el("select", "aw-select", undefined, { "aria-label": "colour scale", title: "colour scale" });
  for (const scale of COLOR_SCALES) scaleSelect.append(el("option", undefined, scale, { value: scale }));
  const scaleLabel = el("label", "aw-control", "scale ");
  scaleLabel.append(scaleSelect);
  header.append(title, status, zoomGroup, scaleLabel);

  const frame = el("div", "aw-heatmap-frame");
  frame.style.gridTemplateColumns = `${Y_AXIS}px minmax(0, 1fr)`;
  const yAxis = canvas("aw-axis aw-y-axis");
  const box = el("div", "aw-box aw-heatmap-box", undefined, {
    "data-testid": "heatmap", tabindex: "0", role: "img",
    "aria-label": "attention map: wheel or + − zoom, drag or arrow keys pan, 0 resets",
  });
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
  let hover: { query: number; key: number } | null = null;
  let cached: { key: string; weights: Float32Array; detail: Float32Array | null; levels: Float32Array } | null = null;
  let win: MapWindow = windowFromBounds(model.get("map_window"), seq);
  /** The map_window value this view wrote last (its echo from Python is not a new zoom). */
  let written = JSON.stringify(model.get("map_window") ?? []);
  let requestTimer: ReturnType<typeof setTimeout> | null = null;

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

  const overviewPatch = (s: Shown): MapPatch => ({ weights: s.weights, rows: s.size, cols: s.size, q0: 0, q1: seq, k0: 0, k1: seq });

  /** The full-resolution window Python sent, when it belongs to the shown head. */
  const detailPatch = (s: Shown): MapPatch | null => {
    if (s.kind !== "pooled") return null;
    const detail = data.mapWindow(model);
    if (!detail || detail.info.layer !== s.layer || detail.info.head !== s.head) return null;
    const i = detail.info;
    return { weights: detail.weights, rows: i.rows, cols: i.cols, q0: i.q0, q1: i.q1, k0: i.k0, k1: i.k1 };
  };

  const covers = (p: MapPatch | null, w: MapWindow) =>
    !!p && p.q0 <= w.q0 && w.q0 + w.span <= p.q1 && p.k0 <= w.k0 && w.k0 + w.span <= p.k1;

  const levelsOf = (s: Shown, scale: ColorScale, target: number): Float32Array => {
    const detail = isZoomed(win, seq) ? detailPatch(s) : null;
    const key = `${scale} ${target} ${win.q0} ${win.k0} ${win.span}`;
    if (cached && cached.key === key && cached.weights === s.weights && cached.detail === (detail?.weights ?? null)) {
      return cached.levels;
    }
    let levels: Float32Array;
    if (!isZoomed(win, seq)) {
      levels = levelsAt(s.weights, s.size, target, scale, info.is_causal);
    } else {
      const overview = overviewPatch(s);
      let rowMax = rowMaxCache.get(s.weights);
      if (scale === "row" && !rowMax) rowMaxCache.set(s.weights, (rowMax = patchRowMax(overview)));
      const patches = detail ? [overview, detail] : [overview];
      levels = windowLevels(patches, win.q0, win.k0, win.span, target, scale, info.is_causal, maxOf(s.weights), overview, rowMax);
    }
    cached = { key, weights: s.weights, detail: detail?.weights ?? null, levels };
    return levels;
  };

  const measure = (): number => Math.floor(box.getBoundingClientRect().width);

  const describeWindow = (s: Shown): string => {
    const range = `queries ${win.q0}–${win.q0 + win.span - 1} · keys ${win.k0}–${win.k0 + win.span - 1} of ${seq}`;
    if (s.kind !== "pooled") return `${range}${s.kind === "full" ? "" : " (thumbnail)"}`;
    const detail = detailPatch(s);
    if (covers(detail, win)) return `${range}${detail && (detail.rows < detail.q1 - detail.q0 || detail.cols < detail.k1 - detail.k0) ? " (max-pooled)" : " (exact)"}`;
    return `${range} · max-pooled${canRequest ? " (loading detail…)" : ""}`;
  };

  const updateControls = () => {
    const zoomed = isZoomed(win, seq);
    zoomOut.disabled = !zoomed;
    reset.disabled = !zoomed;
    zoomIn.disabled = win.span <= Math.min(seq, 8);
    box.dataset.window = windowBounds(win).join(" ");
    box.classList.toggle("is-zoomed", zoomed);
  };

  const paintBase = () => {
    const s = shown();
    const scale = model.get("color_scale");
    scaleSelect.value = scale;
    updateControls();
    if (!s) return;
    title.textContent = `Layer ${s.layer} · head ${s.head}`;
    status.textContent = isZoomed(win, seq)
      ? describeWindow(s)
      : s.kind === "preview"
        ? `preview: ${s.size}² thumbnail${selection.isPreview ? " (click to select)" : "isStatic" in model ? " (full map not in this page)" : " (loading…)"}`
        : s.kind === "pooled"
          ? `${seq} tokens max-pooled to ${s.size}² (zoom in for detail)`
          : `${seq} × ${seq}`;
    status.classList.toggle("is-preview", s.kind === "preview");
    // A box measured 0 wide (detached, or mid theme switch) keeps the last size it had.
    boxSize = measure() || boxSize;
    legend.paint(theme(), scale, maxOf(s.weights));
    if (boxSize <= 0) return;
    const t = theme();
    // Never more pixels than the screen shows, nor than tokens in view; the canvas is enlarged with crisp pixels.
    const target = isZoomed(win, seq) ? Math.min(win.span, devicePixels(boxSize)) : Math.min(s.size, devicePixels(boxSize));
    const pixels = colorize(levelsOf(s, scale, target), t.sequential, t.masked);
    putPixels(base, pixels, target, target);
    // What the box shows now ("full 3 5", "pooled 3 5", "preview 3 5"): a stable hook for tests and
    // benchmarks to know that a head's full-resolution map has been painted.
    box.dataset.shown = `${s.kind} ${s.layer} ${s.head}`;
    box.dataset.detail = isZoomed(win, seq) && covers(detailPatch(s), win) ? "window" : "overview";
    paintAxes();
  };

  const paintAxes = () => {
    if (boxSize <= 0) return;
    const t = theme();
    const perToken = boxSize / win.span;
    const step = labelStep(perToken, LABEL_GAP);
    const label = (i: number) => clipLabel(step > 1 ? `${i} ${texts[i]}` : texts[i], 12);
    // Labels longer than the axis is deep lose their end (the index, first, always stays).
    const fit = (c: CanvasRenderingContext2D, text: string, room: number) => {
      let chars = [...text];
      while (chars.length > 2 && c.measureText(chars.join("")).width > room) chars = [...chars.slice(0, -2), "…"];
      return chars.join("");
    };
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
    const inside = (i: number, start: number) => i >= start && i < start + win.span;
    const at = (i: number, start: number) =>
      Math.min(boxSize - 6, Math.max(6, tokenOffset(i + 0.5, start, win.span, boxSize)));
    const style = (c: CanvasRenderingContext2D, i: number, strong: boolean) => {
      c.fillStyle = strong ? cssColor(i === selection.token ? t.pin : t.fg) : cssColor(t.muted);
      c.font = `${strong ? "bold " : ""}11px ${t.font}`;
    };
    const drawY = (i: number, strong: boolean) => {
      style(y, i, strong);
      y.fillText(fit(y, label(i), Y_AXIS - 8), Y_AXIS - 4, at(i, win.q0));
    };
    const drawX = (i: number, strong: boolean) => {
      style(x, i, strong);
      x.save();
      x.translate(at(i, win.k0), 4);
      x.rotate(-Math.PI / 2);
      x.fillText(fit(x, label(i), X_AXIS - 8), 0, 0);
      x.restore();
    };
    const near = (i: number) => emphasis.some((e) => e >= 0 && Math.abs(e - i) * perToken < LABEL_GAP);
    for (const i of windowLabels(win.q0, win.span, boxSize, LABEL_GAP)) if (!near(i)) drawY(i, false);
    for (const i of windowLabels(win.k0, win.span, boxSize, LABEL_GAP)) if (!near(i)) drawX(i, false);
    for (const i of emphasis) {
      if (i >= 0 && inside(i, win.q0)) drawY(i, true);
      if (i >= 0 && inside(i, win.k0)) drawX(i, true);
    }
  };

  /** The data under a token pair: the detail window when it holds it, else the map (or thumbnail). */
  const lookup = (s: Shown, query: number, key: number) => {
    const detail = isZoomed(win, seq) ? detailPatch(s) : null;
    for (const [patch, source] of [[detail, "window"], [overviewPatch(s), s.kind]] as const) {
      const cell = patch && patchCellAt(patch, query, key);
      if (patch && cell) return { ...cell, weight: patch.weights[cell.row * patch.cols + cell.col], source };
    }
    return null;
  };

  const paintOverlay = () => {
    if (boxSize <= 0) return;
    const c = fitCanvas(overlay, boxSize, boxSize);
    if (!c) return;
    const t = theme();
    c.clearRect(0, 0, boxSize, boxSize);
    const perToken = boxSize / win.span;
    const w = Math.max(1, perToken);
    const band = (i: number, fill: string) => {
      if (i < 0) return;
      c.fillStyle = fill;
      if (i >= win.q0 && i < win.q0 + win.span) c.fillRect(0, tokenOffset(i, win.q0, win.span, boxSize), boxSize, w);
      if (i >= win.k0 && i < win.k0 + win.span) c.fillRect(tokenOffset(i, win.k0, win.span, boxSize), 0, w, boxSize);
    };
    band(selection.hovered, cssColor(t.fg, 0.22));
    const pin = selection.token;
    if (pin >= 0) {
      c.strokeStyle = cssColor(t.pin);
      c.lineWidth = 1.5;
      if (pin >= win.q0 && pin < win.q0 + win.span) c.strokeRect(0.75, tokenOffset(pin, win.q0, win.span, boxSize), boxSize - 1.5, w);
      if (pin >= win.k0 && pin < win.k0 + win.span) c.strokeRect(tokenOffset(pin, win.k0, win.span, boxSize), 0.75, w, boxSize - 1.5);
    }
    const s = shown();
    const cell = hover && s ? lookup(s, hover.query, hover.key) : null;
    if (cell) {
      // The cell of the data shown (a pooled bin covers several tokens), clipped to the window.
      const x0 = Math.max(0, tokenOffset(cell.k0, win.k0, win.span, boxSize));
      const x1 = Math.min(boxSize, tokenOffset(cell.k1, win.k0, win.span, boxSize));
      const y0 = Math.max(0, tokenOffset(cell.q0, win.q0, win.span, boxSize));
      const y1 = Math.min(boxSize, tokenOffset(cell.q1, win.q0, win.span, boxSize));
      c.strokeStyle = cssColor(t.accent);
      c.lineWidth = 2;
      c.strokeRect(x0 - 1, y0 - 1, Math.max(2, x1 - x0) + 2, Math.max(2, y1 - y0) + 2);
    }
  };

  const describe = (s: Shown, query: number, key: number): string[] => {
    const lines = [`query ${tokenLabel(query, texts[query])}`, `key ${tokenLabel(key, texts[key])}`];
    if (info.is_causal && key > query) return [...lines, "masked (a causal query cannot see later keys)"];
    const cell = lookup(s, query, key);
    if (!cell) return lines;
    const exact = cell.q1 - cell.q0 === 1 && cell.k1 - cell.k0 === 1;
    if (exact && cell.source !== "preview") return [...lines, `weight ${cell.weight.toPrecision(4)}`];
    const tokens = (a: number, b: number) => (b - a === 1 ? `${a}` : `${a}–${b - 1}`);
    const what = cell.source === "preview" ? "thumbnail" : cell.source === "window" ? "window max-pooled" : "map max-pooled";
    return [
      ...lines,
      `max ${formatWeight(cell.weight)} over queries ${tokens(cell.q0, cell.q1)} × keys ${tokens(cell.k0, cell.k1)}`,
      `(${what}${canRequest || cell.source === "window" ? "; zoom in for exact weights" : ""})`,
    ];
  };

  // ---- pointer: hover, click, drag to pan, wheel to zoom -------------------------------------------------
  let drag: { x: number; y: number; start: MapWindow; moved: boolean } | null = null;
  let suppressClick = false;

  const hitAt = (event: MouseEvent) => {
    const rect = box.getBoundingClientRect();
    return windowCellAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, win);
  };

  const onMove = (event: MouseEvent) => {
    if (drag) return;
    const s = shown();
    const hit = s && hitAt(event);
    if (!s || !hit) return onLeave();
    hover = hit;
    if (hit.query === selection.hovered) paintOverlay();
    else selection.hover(hit.query);
    const frameRect = frame.getBoundingClientRect();
    tooltip.show(describe(s, hit.query, hit.key), event.clientX - frameRect.left, event.clientY - frameRect.top,
      frameRect.width);
  };
  const onLeave = () => {
    if (drag) return;
    hover = null;
    tooltip.hide();
    if (selection.hovered >= 0) selection.hover(-1);
    else paintOverlay();
  };
  const onClick = (event: MouseEvent) => {
    if (suppressClick) {
      suppressClick = false;
      return;
    }
    const hit = shown() && hitAt(event);
    if (!hit) return;
    selection.pin(hit.query === selection.token ? -1 : hit.query, "heatmap");
  };

  const onDragMove = (event: MouseEvent) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < DRAG_SLOP) return;
    if (!drag.moved) {
      drag.moved = true;
      tooltip.hide();
      box.classList.add("is-dragging");
    }
    setWindow(panWindow(drag.start, seq, dx, dy, boxSize || 1));
  };
  const onDragEnd = () => {
    window.removeEventListener("mousemove", onDragMove);
    window.removeEventListener("mouseup", onDragEnd);
    box.classList.remove("is-dragging");
    // The click that ends a drag does not pin a token.
    suppressClick = !!drag?.moved;
    drag = null;
  };
  const onDown = (event: MouseEvent) => {
    if (event.button !== 0 || !isZoomed(win, seq)) return;
    event.preventDefault(); // no text selection while dragging
    box.focus({ preventScroll: true });
    drag = { x: event.clientX, y: event.clientY, start: win, moved: false };
    window.addEventListener("mousemove", onDragMove);
    window.addEventListener("mouseup", onDragEnd);
  };

  const onWheel = (event: WheelEvent) => {
    const rect = box.getBoundingClientRect();
    const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? rect.height : 1;
    const factor = Math.min(2, Math.max(0.5, Math.exp(event.deltaY * unit * 0.002)));
    // Zooming out of the whole map scrolls the page as usual.
    if (factor >= 1 && !isZoomed(win, seq)) return;
    event.preventDefault();
    const fx = (event.clientX - rect.left) / rect.width;
    const fy = (event.clientY - rect.top) / rect.height;
    setWindow(zoomWindow(win, seq, factor, Math.min(1, Math.max(0, fx)), Math.min(1, Math.max(0, fy))));
    const hit = hitAt(event);
    const s = shown();
    if (hit && s) {
      hover = hit;
      const frameRect = frame.getBoundingClientRect();
      tooltip.show(describe(s, hit.query, hit.key), event.clientX - frameRect.left, event.clientY - frameRect.top, frameRect.width);
      paintOverlay();
    }
  };

  const onKey = (event: KeyboardEvent) => {
    const move = Math.max(1, Math.round(win.span / 8));
    const next: Record<string, () => MapWindow> = {
      "+": () => zoomWindow(win, seq, 1 / STEP),
      "=": () => zoomWindow(win, seq, 1 / STEP),
      "-": () => zoomWindow(win, seq, STEP),
      "0": () => fullWindow(seq),
      ArrowLeft: () => clampWindow({ ...win, k0: win.k0 - move }, seq),
      ArrowRight: () => clampWindow({ ...win, k0: win.k0 + move }, seq),
      ArrowUp: () => clampWindow({ ...win, q0: win.q0 - move }, seq),
      ArrowDown: () => clampWindow({ ...win, q0: win.q0 + move }, seq),
    };
    const make = next[event.key] ?? (event.key === "Escape" && isZoomed(win, seq) ? () => fullWindow(seq) : null);
    if (!make || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    setWindow(make());
  };

  // ---- the window: local state, written to map_window (debounced) when detail is needed --------------------
  const request = () => {
    requestTimer = null;
    if (!canRequest) return;
    // Detail is needed when the selected head's map was max-pooled (a long prompt).
    const pooled = data.attentionMap(model)?.info.pooled ?? false;
    const bounds = isZoomed(win, seq) && pooled ? windowBounds(win) : [];
    const text = JSON.stringify(bounds);
    if (text === JSON.stringify(model.get("map_window") ?? [])) return;
    written = text;
    model.set("map_window", bounds);
    model.save_changes();
  };

  const setWindow = (next: MapWindow) => {
    if (next.q0 === win.q0 && next.k0 === win.k0 && next.span === win.span) return;
    win = next;
    repaint();
    if (canRequest) {
      if (requestTimer !== null) clearTimeout(requestTimer);
      requestTimer = setTimeout(request, REQUEST_DELAY_MS);
    }
  };

  const onWindowTrait = () => {
    const value = model.get("map_window") ?? [];
    const text = JSON.stringify(value);
    if (text === written) return;
    // Set from Python (or another display of this widget): follow it.
    written = text;
    win = windowFromBounds(value, seq);
    repaint();
  };

  const zoomBy = (factor: number) => () => setWindow(zoomWindow(win, seq, factor));
  const onZoomIn = zoomBy(1 / STEP);
  const onZoomOut = zoomBy(STEP);
  const onReset = () => setWindow(fullWindow(seq));
  const onScale = () => selection.setTrait("color_scale", scaleSelect.value as ColorScale);
  box.addEventListener("mousemove", onMove);
  box.addEventListener("mouseleave", onLeave);
  box.addEventListener("click", onClick);
  box.addEventListener("mousedown", onDown);
  box.addEventListener("wheel", onWheel, { passive: false });
  box.addEventListener("keydown", onKey);
  zoomIn.addEventListener("click", onZoomIn);
  zoomOut.addEventListener("click", onZoomOut);
  reset.addEventListener("click", onReset);
  scaleSelect.addEventListener("change", onScale);

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["layer", "head", "_attention_map", "_attention_map_info", "color_scale"], repaint);
  selection.on(["_map_window", "_map_window_info"], () => {
    if (isZoomed(win, seq)) repaint();
  });
  selection.on(["map_window"], onWindowTrait);
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
      if (requestTimer !== null) clearTimeout(requestTimer);
      onDragEnd();
      box.removeEventListener("mousemove", onMove);
      box.removeEventListener("mouseleave", onLeave);
      box.removeEventListener("click", onClick);
      box.removeEventListener("mousedown", onDown);
      box.removeEventListener("wheel", onWheel);
      box.removeEventListener("keydown", onKey);
      zoomIn.removeEventListener("click", onZoomIn);
      zoomOut.removeEventListener("click", onZoomOut);
      reset.removeEventListener("click", onReset);
      scaleSelect.removeEventListener("change", onScale);
    },
  };
}
