// What every token × token map shares (the heatmap, the compare difference map): the frame with a box that
// is exactly the map, token labels along both axes outside it, and the hover / pin bands over it.
import { cssColor } from "../color";
import { canvas, el, fitCanvas, layeredBox } from "../dom";
import { clipLabel, labelStep, tokenOffset, windowLabels } from "../layout";
import { COLOR_SCALES } from "../model";
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

/** A token label along an axis: `at` px from the axis's start (the token's centre, kept 6 px inside). */
export interface AxisLabel {
  index: number;
  at: number;
  text: string;
  /** The hovered or pinned token: drawn bold, on top of the others. */
  strong: boolean;
}

/**
 * The token labels of an axis `box` px long that shows tokens [start, start + span): every few tokens (no
 * closer than LABEL_GAP px), then the hovered and pinned tokens (strong, last so that they are drawn on
 * top; the thinned labels next to them are left out). `fit(text, strong)` may shorten a label to its room.
 */
export function axisLabels(
  box: number, start: number, span: number, text: LabelOf, hovered: number, pinned: number,
  fit: (label: string, strong: boolean) => string = (label) => label,
): AxisLabel[] {
  if (box <= 0 || span <= 0) return [];
  const perToken = box / span;
  const step = labelStep(perToken, LABEL_GAP);
  const label = (i: number, strong: boolean) => fit(clipLabel(step > 1 ? `${i} ${text(i)}` : text(i), 12), strong);
  const at = (i: number) => Math.min(box - 6, Math.max(6, tokenOffset(i + 0.5, start, span, box)));
  const emphasis = [hovered, pinned].filter((i) => i >= start && i < start + span);
  const near = (i: number) => emphasis.some((e) => Math.abs(e - i) * perToken < LABEL_GAP);
  const labels = windowLabels(start, span, box, LABEL_GAP)
    .filter((i) => !near(i))
    .map((i) => ({ index: i, at: at(i), text: label(i, false), strong: false }));
  for (const i of emphasis) labels.push({ index: i, at: at(i), text: label(i, true), strong: true });
  return labels;
}

/** A label cut at its end (with "…") to fit `room` px in the context's font; its index, first, stays. */
export function fitLabel(c: CanvasRenderingContext2D, s: string, room: number): string {
  let chars = [...s];
  while (chars.length > 2 && c.measureText(chars.join("")).width > room) chars = [...chars.slice(0, -2), "…"];
  return chars.join("");
}

/**
 * Token labels along one axis of a view, on its own canvas: "y" (a column `depth` px wide left of the data,
 * labels right-aligned) or "x" (a row `depth` px deep below it, labels rotated). The hovered token's
 * label is bold; the pinned one's bold in the pin colour.
 */
export function paintTokenAxis(
  axis: HTMLCanvasElement, direction: "x" | "y", box: number, depth: number, start: number, span: number,
  text: LabelOf, hovered: number, pinned: number, t: Theme,
): void {
  if (box <= 0) return;
  if (direction === "y") axis.style.height = `${box}px`;
  else axis.style.width = `${box}px`;
  const c = direction === "y" ? fitCanvas(axis, depth, box) : fitCanvas(axis, box, depth);
  if (!c) return;
  c.clearRect(0, 0, Math.max(depth, box), Math.max(depth, box));
  c.textBaseline = "middle";
  c.textAlign = "right";
  const font = (strong: boolean) => `${strong ? "bold " : ""}11px ${t.font}`;
  const fit = (label: string, strong: boolean) => {
    c.font = font(strong);
    return fitLabel(c, label, depth - 8);
  };
  for (const label of axisLabels(box, start, span, text, hovered, pinned, fit)) {
    c.fillStyle = label.strong ? cssColor(label.index === pinned ? t.pin : t.fg) : cssColor(t.muted);
    c.font = font(label.strong);
    if (direction === "y") {
      c.fillText(label.text, depth - 4, label.at);
    } else {
      c.save();
      c.translate(label.at, 4);
      c.rotate(-Math.PI / 2);
      c.fillText(label.text, 0, 0);
      c.restore();
    }
  }
}

/**
 * Token labels along both axes of a `boxSize`-pixel map showing `win`: every few tokens (no closer than
 * LABEL_GAP px), and the hovered and pinned tokens in bold on top (the pinned one in the pin colour).
 */
export function paintTokenAxes(
  f: MapFrame, boxSize: number, win: TokenWindow, text: LabelOf, hovered: number, pinned: number, t: Theme,
): void {
  paintTokenAxis(f.yAxis, "y", boxSize, Y_AXIS, win.q0, win.span, text, hovered, pinned, t);
  paintTokenAxis(f.xAxis, "x", boxSize, X_AXIS, win.k0, win.span, text, hovered, pinned, t);
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

/** A heatmap panel's shell, the same for square and cross-attention maps: the section, its header with the
 * title, the live status and the colour-scale select (each view appends its own controls and map). */
export function createHeatmapPanel(): {
  root: HTMLElement; header: HTMLElement; title: HTMLElement; status: HTMLElement;
  scaleSelect: HTMLSelectElement; scaleLabel: HTMLElement;
} {
  const root = el("section", "aw-panel aw-heatmap-panel");
  const header = el("div", "aw-panel-header");
  const title = el("h3", "aw-title");
  const status = el("span", "aw-hint aw-live");
  const scaleSelect = el("select", "aw-select", undefined, { "aria-label": "colour scale", title: "colour scale" });
  for (const scale of COLOR_SCALES) scaleSelect.append(el("option", undefined, scale, { value: scale }));
  const scaleLabel = el("label", "aw-control", "scale ");
  scaleLabel.append(scaleSelect);
  return { root, header, title, status, scaleSelect, scaleLabel };
}
