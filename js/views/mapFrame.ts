// What every token × token map shares (the heatmap, the compare difference map): the frame with a box that
// is exactly the map, token labels along both axes outside it, and the hover / pin bands over it.
import { cssColor } from "../color";
import { canvas, el, fitCanvas, layeredBox } from "../dom";
import { clipLabel, labelStep, tokenOffset, windowLabels } from "../layout";
import type { Theme } from "../theme";

export const Y_AXIS = 92;
export const X_AXIS = 66;
/** Labels closer than this (px) are thinned out. */
export const LABEL_GAP = 12;

/** The tokens an axis pair shows: queries [q0, q0 + span) down, keys [k0, k0 + span) across. */
export interface TokenWindow {
  q0: number;
  k0: number;
  span: number;
}

export interface MapFrame {
  frame: HTMLDivElement;
  /** Exactly the map (data-testid), with a base and an overlay canvas. */
  box: HTMLDivElement;
  base: HTMLCanvasElement;
  overlay: HTMLCanvasElement;
  yAxis: HTMLCanvasElement;
  xAxis: HTMLCanvasElement;
}

export function createMapFrame(testid: string, attrs: Record<string, string> = {}): MapFrame {
  const frame = el("div", "aw-heatmap-frame");
  frame.style.gridTemplateColumns = `${Y_AXIS}px minmax(0, 1fr)`;
  const yAxis = canvas("aw-axis aw-y-axis");
  const { box, base, overlay } = layeredBox("aw-heatmap-box", testid, attrs);
  const xAxis = canvas("aw-axis aw-x-axis");
  frame.append(yAxis, box, el("span", "aw-axis-note", "query ↓  key →"), xAxis);
  return { frame, box, base, overlay, yAxis, xAxis };
}

/** The label of token `i` on an axis ("12 cat" when labels are thinned, so the index is readable). */
type LabelOf = (i: number) => string;

/**
 * Token labels along both axes of a `boxSize`-pixel map showing `win`: every few tokens (no closer than
 * LABEL_GAP px), and the hovered and pinned tokens in bold on top (the pinned one in the pin colour).
 */
export function paintTokenAxes(
  f: MapFrame, boxSize: number, win: TokenWindow, text: LabelOf, hovered: number, pinned: number, t: Theme,
): void {
  if (boxSize <= 0) return;
  const perToken = boxSize / win.span;
  const step = labelStep(perToken, LABEL_GAP);
  const label = (i: number) => clipLabel(step > 1 ? `${i} ${text(i)}` : text(i), 12);
  // Labels longer than the axis is deep lose their end (the index, first, always stays).
  const fit = (c: CanvasRenderingContext2D, s: string, room: number) => {
    let chars = [...s];
    while (chars.length > 2 && c.measureText(chars.join("")).width > room) chars = [...chars.slice(0, -2), "…"];
    return chars.join("");
  };
  f.yAxis.style.height = `${boxSize}px`;
  f.xAxis.style.width = `${boxSize}px`;
  const y = fitCanvas(f.yAxis, Y_AXIS, boxSize);
  const x = fitCanvas(f.xAxis, boxSize, X_AXIS);
  if (!y || !x) return;
  for (const c of [y, x]) {
    c.clearRect(0, 0, Math.max(Y_AXIS, boxSize), Math.max(X_AXIS, boxSize));
    c.font = `11px ${t.font}`;
    c.textBaseline = "middle";
    c.textAlign = "right";
  }
  const inside = (i: number, start: number) => i >= start && i < start + win.span;
  const at = (i: number, start: number) => Math.min(boxSize - 6, Math.max(6, tokenOffset(i + 0.5, start, win.span, boxSize)));
  const style = (c: CanvasRenderingContext2D, i: number, strong: boolean) => {
    c.fillStyle = strong ? cssColor(i === pinned ? t.pin : t.fg) : cssColor(t.muted);
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
  const emphasis = [hovered, pinned];
  const near = (i: number) => emphasis.some((e) => e >= 0 && Math.abs(e - i) * perToken < LABEL_GAP);
  for (const i of windowLabels(win.q0, win.span, boxSize, LABEL_GAP)) if (!near(i)) drawY(i, false);
  for (const i of windowLabels(win.k0, win.span, boxSize, LABEL_GAP)) if (!near(i)) drawX(i, false);
  for (const i of emphasis) {
    if (i >= 0 && inside(i, win.q0)) drawY(i, true);
    if (i >= 0 && inside(i, win.k0)) drawX(i, true);
  }
}

/** The hovered token as a translucent row and column band, the pinned one outlined, over a map. */
export function paintTokenBands(
  c: CanvasRenderingContext2D, boxSize: number, win: TokenWindow, hovered: number, pinned: number, t: Theme,
): void {
  const w = Math.max(1, boxSize / win.span);
  const rowAt = (i: number) => (i >= win.q0 && i < win.q0 + win.span ? tokenOffset(i, win.q0, win.span, boxSize) : null);
  const colAt = (i: number) => (i >= win.k0 && i < win.k0 + win.span ? tokenOffset(i, win.k0, win.span, boxSize) : null);
  if (hovered >= 0) {
    c.fillStyle = cssColor(t.fg, 0.2);
    const r = rowAt(hovered);
    const k = colAt(hovered);
    if (r !== null) c.fillRect(0, r, boxSize, w);
    if (k !== null) c.fillRect(k, 0, w, boxSize);
  }
  if (pinned >= 0) {
    c.strokeStyle = cssColor(t.pin);
    c.lineWidth = 1.5;
    const r = rowAt(pinned);
    const k = colAt(pinned);
    if (r !== null) c.strokeRect(0.75, r, boxSize - 1.5, w);
    if (k !== null) c.strokeRect(k, 0.75, w, boxSize - 1.5);
  }
}

/** A fresh, cleared overlay context of the map's size (null while the box has none). */
export function clearOverlay(f: MapFrame, boxSize: number): CanvasRenderingContext2D | null {
  if (boxSize <= 0) return null;
  const c = fitCanvas(f.overlay, boxSize, boxSize);
  c?.clearRect(0, 0, boxSize, boxSize);
  return c;
}
