// The one colour legend: a bar of the LUT a view paints with, ticks in the view's own values, and a note
// that says what the colours mean. Every coloured view has one; where its labels go: layout.legendLabels.
import { type Tick, cssColor } from "../color";
import { canvas, el, fitCanvas } from "../dom";
import { legendLabels, legendPad } from "../layout";
import { putPixels } from "../raster";
import type { Theme } from "../theme";

const HEIGHT = 30;
const BAR = 10;

const strips = new WeakMap<Uint32Array, HTMLCanvasElement>();

/** A LUT as a 256 × 1 canvas, drawn stretched into each legend's bar (made once per LUT). */
function lutStrip(lut: Uint32Array): HTMLCanvasElement | null {
  let strip = strips.get(lut);
  if (!strip) {
    strip = document.createElement("canvas");
    putPixels(strip, lut, lut.length, 1);
    strips.set(lut, strip);
  }
  return strip;
}

export interface LegendContent {
  /** The colours, left to right (a LUT of 256). */
  lut: Uint32Array;
  /** Positions 0..1 along the bar with their labels. */
  ticks: Tick[];
  /** What the colours mean. */
  note?: string;
}

export interface Legend {
  root: HTMLElement;
  paint(theme: Theme, content: LegendContent): void;
  /** No colours to explain for a moment (another head previewed): the legend goes blank but keeps its
   * room, so that nothing below moves under the pointer. `paint` shows it again; to take the legend away
   * altogether (nothing coloured at all), hide its root. */
  blank(): void;
}

export interface LegendOptions {
  /** CSS pixels. */
  width?: number;
  /** Narrower than `width` when the legend's own box is (a CompareWidget panel), but at least `minWidth`.
   * Only legends that ask measure their box: a measurement forces a layout. */
  fit?: boolean;
  minWidth?: number;
  testid?: string;
}

export function createLegend({ width = 260, fit = false, minWidth = 120, testid }: LegendOptions = {}): Legend {
  const root = el("div", "aw-legend", undefined, testid ? { "data-testid": testid } : undefined);
  const bar = canvas("aw-legend-bar");
  bar.style.width = `${width}px`;
  bar.style.height = `${HEIGHT}px`;
  const note = el("span", "aw-hint");
  root.append(bar, note);

  const paint = (theme: Theme, content: LegendContent) => {
    root.style.visibility = "";
    note.textContent = content.note ?? "";
    note.hidden = !content.note;
    // The ticks' labels, for tests and for reading without a canvas.
    root.dataset.ticks = content.ticks.map((t) => t.label).join(" | ");
    // The legend's own box is 0 wide while detached.
    const room = fit ? root.clientWidth - (parseFloat(getComputedStyle(root).paddingLeft) || 0) : 0;
    const w = room > 0 ? Math.max(minWidth, Math.min(width, Math.floor(room))) : width;
    if (bar.style.width !== `${w}px`) bar.style.width = `${w}px`;
    const ctx = fitCanvas(bar, w, HEIGHT);
    if (!ctx) return;
    ctx.clearRect(0, 0, w, HEIGHT);
    const pad = legendPad(w);
    const span = w - 2 * pad;
    const strip = lutStrip(content.lut);
    if (strip) {
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(strip, pad, 0, span, BAR);
    }
    ctx.strokeStyle = cssColor(theme.border);
    ctx.strokeRect(pad - 0.5, -0.5, span + 1, BAR + 1);
    ctx.font = `10px ${theme.font}`;
    ctx.textBaseline = "top";
    ctx.fillStyle = cssColor(theme.fg);
    ctx.strokeStyle = cssColor(theme.muted);
    for (const label of legendLabels(content.ticks, w, (text) => ctx.measureText(text).width)) {
      ctx.beginPath();
      ctx.moveTo(label.x, BAR);
      ctx.lineTo(label.x, BAR + 3);
      ctx.stroke();
      if (!label.shown) continue;
      ctx.textAlign = label.align;
      ctx.fillText(label.label, label.textX, BAR + 5);
    }
  };
  const blank = () => {
    root.style.visibility = "hidden";
    root.dataset.ticks = "";
  };
  return { root, paint, blank };
}
