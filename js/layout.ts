// Geometry shared by the views: sizes, which cell is under a point, which axis labels to draw.

/** CSS pixels per head-grid cell: the grid stays within about 300 × 510 px (so that the widget fits one
 * screen beside the heatmap), cells 10..56 px. */
export function gridCellSize(layers: number, heads: number): number {
  return Math.max(10, Math.min(56, Math.floor(Math.min(300 / heads, 510 / layers))));
}

export interface Cell {
  row: number;
  col: number;
}

/**
 * The cell of a rows × cols grid drawn over a width × height box that holds the point (x, y) given
 * relative to the box's top-left corner; null outside the box.
 */
export function cellAt(x: number, y: number, width: number, height: number, rows: number, cols: number): Cell | null {
  if (!(x >= 0 && y >= 0 && x < width && y < height) || rows < 1 || cols < 1) return null;
  return {
    row: Math.min(rows - 1, Math.floor((y * rows) / height)),
    col: Math.min(cols - 1, Math.floor((x * cols) / width)),
  };
}

/** Top-left corner and size of a cell in the same box. */
export function cellRect(
  cell: Cell, width: number, height: number, rows: number, cols: number,
): { x: number; y: number; w: number; h: number } {
  const w = width / cols;
  const h = height / rows;
  return { x: cell.col * w, y: cell.row * h, w, h };
}

const NICE_STEPS = [1, 2, 5];

/** Smallest "nice" step (1, 2, 5, 10, 20, 50, ...) such that labels `step` items apart are ≥ minGap px apart. */
export function labelStep(pixelsPerItem: number, minGap: number): number {
  if (pixelsPerItem <= 0) return Infinity;
  for (let scale = 1; ; scale *= 10) {
    for (const s of NICE_STEPS) if (s * scale * pixelsPerItem >= minGap) return s * scale;
  }
}

/** Indices 0, step, 2·step, ... below count. */
export function thinnedIndices(count: number, pixelsPerItem: number, minGap: number): number[] {
  const step = labelStep(pixelsPerItem, minGap);
  const out: number[] = [];
  for (let i = 0; i < count; i += step) out.push(i);
  return out;
}

/** A token as tooltips and read-outs name it: `#12 “cat”` (the text as Python made it visible). */
export function tokenLabel(index: number, text: string): string {
  return `#${index} “${text}”`;
}

/** Clip a label to `max` characters with an ellipsis. */
export function clipLabel(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join("")}…`;
}

export interface StatsCell {
  layer: number;
  /** Which statistic's matrix, or -1 in a gap. */
  panel: number;
  /** The head, or -1 in a gap between matrices. */
  head: number;
}

/**
 * Layer-stats geometry: `panels` matrices side by side, each `heads` cells of `cellWidth` px, `gap` px
 * apart; rows are layers of equal height over the whole box. Null outside the box.
 */
export function statsCellAt(
  x: number, y: number, height: number, layers: number, heads: number, panels: number, cellWidth: number, gap: number,
): StatsCell | null {
  const panelWidth = heads * cellWidth;
  const width = panels * panelWidth + (panels - 1) * gap;
  if (!(x >= 0 && y >= 0 && x < width && y < height)) return null;
  const layer = Math.min(layers - 1, Math.floor((y * layers) / height));
  const panel = Math.floor(x / (panelWidth + gap));
  const offset = x - panel * (panelWidth + gap);
  if (panel >= panels || offset >= panelWidth) return { layer, panel: -1, head: -1 };
  return { layer, panel, head: Math.min(heads - 1, Math.floor(offset / cellWidth)) };
}

/** Layer-stats sizes: matrices cells cellWidth × rowHeight, `gap` px between matrices, as wide as `room`
 * allows (cells 6..28 px wide: narrower than 6, the matrices stay 6 px a cell wide and overflow). */
export function statsGeometry(layers: number, heads: number, panels: number, room = 600): {
  cellWidth: number; rowHeight: number; gap: number; width: number; height: number;
} {
  const gap = room < 400 ? 8 : 16;
  const cellWidth = Math.max(6, Math.min(28, Math.floor((room - (panels - 1) * gap) / (panels * heads))));
  const rowHeight = Math.max(6, Math.min(16, Math.floor(360 / layers)));
  return {
    cellWidth, rowHeight, gap,
    width: panels * heads * cellWidth + (panels - 1) * gap,
    height: layers * rowHeight,
  };
}

// ---- heatmap zoom: a square window of `span` tokens, starting at query q0 and key k0 -------------------

export interface MapWindow {
  /** First query (row) and first key (column) shown; integers. */
  q0: number;
  k0: number;
  /** Tokens shown along each axis (the box is square); an integer in [min(minSpan, seq), seq]. */
  span: number;
}

/** Smallest window the heatmap zooms to, in tokens. */
export const MIN_SPAN = 8;

export function fullWindow(seq: number): MapWindow {
  return { q0: 0, k0: 0, span: seq };
}

export function isZoomed(w: MapWindow, seq: number): boolean {
  return w.span < seq;
}

/** The window made valid: integer bounds, span in [min(minSpan, seq), seq], both ranges inside 0..seq. */
export function clampWindow(w: MapWindow, seq: number, minSpan = MIN_SPAN): MapWindow {
  const span = Math.max(Math.min(minSpan, seq), Math.min(seq, Math.round(w.span)));
  const clamp = (start: number) => Math.max(0, Math.min(seq - span, Math.round(start)));
  return { q0: clamp(w.q0), k0: clamp(w.k0), span };
}

/**
 * Zoom by `factor` (< 1 zooms in) about the point at fractions (fx, fy) of the box: the token pair under
 * that point stays under it (as nearly as integer bounds allow).
 */
export function zoomWindow(w: MapWindow, seq: number, factor: number, fx = 0.5, fy = 0.5, minSpan = MIN_SPAN): MapWindow {
  const span = Math.max(Math.min(minSpan, seq), Math.min(seq, Math.round(w.span * factor)));
  if (span === w.span) return clampWindow(w, seq, minSpan);
  const keyAt = w.k0 + fx * w.span;
  const queryAt = w.q0 + fy * w.span;
  return clampWindow({ q0: queryAt - fy * span, k0: keyAt - fx * span, span }, seq, minSpan);
}

/** `start` moved by a drag of (dx, dy) CSS pixels over a box `box` px wide: the map follows the pointer. */
export function panWindow(start: MapWindow, seq: number, dx: number, dy: number, box: number): MapWindow {
  const perPixel = start.span / box;
  return clampWindow({ q0: start.q0 - dy * perPixel, k0: start.k0 - dx * perPixel, span: start.span }, seq, start.span);
}

/** The token at `offset` px along an axis that shows [start, start + span) over `box` px (clamped inside). */
export function tokenAtOffset(offset: number, start: number, span: number, box: number): number {
  return start + Math.max(0, Math.min(span - 1, Math.floor((offset * span) / box)));
}

/** The (query, key) token pair under (x, y) px of the box, or null outside it. */
export function windowCellAt(x: number, y: number, box: number, w: MapWindow): { query: number; key: number } | null {
  if (!(x >= 0 && y >= 0 && x < box && y < box)) return null;
  return { query: tokenAtOffset(y, w.q0, w.span, box), key: tokenAtOffset(x, w.k0, w.span, box) };
}

/** Pixel offset of the start of token `index` along an axis that shows [start, start + span) over `box` px. */
export function tokenOffset(index: number, start: number, span: number, box: number): number {
  return ((index - start) * box) / span;
}

/** The window as the `map_window` trait wants it: [q0, q1, k0, k1], half-open. */
export function windowBounds(w: MapWindow): [number, number, number, number] {
  return [w.q0, w.q0 + w.span, w.k0, w.k0 + w.span];
}

/** A `map_window` value ([q0, q1, k0, k1]; anything else: not zoomed) → the square window that shows it. */
export function windowFromBounds(bounds: unknown, seq: number, minSpan = MIN_SPAN): MapWindow {
  if (!Array.isArray(bounds) || bounds.length !== 4 || !bounds.every((v) => Number.isFinite(v))) return fullWindow(seq);
  const [q0, q1, k0, k1] = bounds as number[];
  const span = Math.max(q1 - q0, k1 - k0);
  // A non-square window is shown whole, centred in a square one.
  return clampWindow({ q0: (q0 + q1 - span) / 2, k0: (k0 + k1 - span) / 2, span }, seq, minSpan);
}

/** Label positions for the tokens of [start, start + span): multiples of a nice step ≥ minGap px apart. */
export function windowLabels(start: number, span: number, box: number, minGap: number): number[] {
  const step = labelStep(box / span, minGap);
  const out: number[] = [];
  for (let i = Math.ceil(start / step) * step; i < start + span; i += step) out.push(i);
  return out;
}

// ---- the token strip: scroll a list so an item is visible ("nearest", like scrollIntoView) ------------

/**
 * The scrollTop that makes an item (top and height in the content's coordinates) visible in a viewport
 * of `viewHeight` px scrolled to `scrollTop`: unchanged when it already is; otherwise the least movement
 * (item at the top edge when above, at the bottom edge when below; top edge when taller than the view).
 */
export function nearestScroll(itemTop: number, itemHeight: number, scrollTop: number, viewHeight: number): number {
  const itemBottom = itemTop + itemHeight;
  if (itemTop >= scrollTop && itemBottom <= scrollTop + viewHeight) return scrollTop;
  if (itemTop < scrollTop || itemHeight > viewHeight) return Math.max(0, itemTop);
  return Math.max(0, itemBottom - viewHeight);
}

// ---- the legend: where its tick labels go ---------------------------------------------------------------

export interface LegendLabel {
  /** The tick's position on the canvas (px). */
  x: number;
  label: string;
  /** How the label is anchored at `textX`: the end labels align inwards so they stay on the canvas. */
  align: "left" | "center" | "right";
  textX: number;
  /** Whether the label is drawn: both ends always, the others where they touch no label already drawn. */
  shown: boolean;
}

/** Room (px) left at both ends of a legend bar `width` px wide, for the end labels. */
export function legendPad(width: number): number {
  return Math.min(30, Math.max(14, Math.round(width / 10)));
}

/**
 * Tick labels of a legend `width` px wide whose bar spans [pad, width − pad]: `ticks` at positions 0..1,
 * `measure(text)` the width of a label in px. Labels keep 3 px apart.
 */
export function legendLabels(
  ticks: { at: number; label: string }[], width: number, measure: (text: string) => number,
): LegendLabel[] {
  const pad = legendPad(width);
  const span = width - 2 * pad;
  const isEnd = (at: number) => at <= 0 || at >= 1;
  const placed = ticks.map((tick) => {
    const x = pad + tick.at * span;
    const w = measure(tick.label);
    const align: LegendLabel["align"] = tick.at <= 0 ? "left" : tick.at >= 1 ? "right" : "center";
    const left = align === "left" ? Math.max(0, x - 2) : align === "right" ? Math.min(width, x + 2) - w : x - w / 2;
    const textX = align === "left" ? left : align === "right" ? left + w : x;
    return { x, label: tick.label, align, textX, left, right: left + w, shown: false };
  });
  const drawn: { left: number; right: number }[] = [];
  const order = placed.map((_, i) => i).sort((a, b) => Number(isEnd(ticks[b].at)) - Number(isEnd(ticks[a].at)) || a - b);
  for (const i of order) {
    const p = placed[i];
    if (!isEnd(ticks[i].at) && drawn.some((d) => p.left < d.right + 3 && p.right > d.left - 3)) continue;
    p.shown = true;
    drawn.push(p);
  }
  return placed.map(({ x, label, align, textX, shown }) => ({ x, label, align, textX, shown }));
}
