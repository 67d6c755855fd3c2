// The one colour legend: a bar of the LUT a view paints with, ticks in the view's own values, and a note
// that says what the colours mean. Every coloured view has one; where its labels go: layout.legendLabels.
import { type Tick, cssColor, packedCss } from "../color";
import { canvas, el, fitCanvas } from "../dom";
import { legendLabels, legendPad } from "../layout";
import type { Theme } from "../theme";

const HEIGHT = 30;
const BAR = 10;

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
}

/** A legend at most `width` CSS pixels wide (narrower when its box is), at least `minWidth`. */
export function createLegend(
  { width = 260, minWidth = 120, testid }: { width?: number; minWidth?: number; testid?: string } = {},
): Legend {
  const root = el("div", "aw-legend", undefined, testid ? { "data-testid": testid } : undefined);
  const bar = canvas("aw-legend-bar");
  bar.style.width = `${width}px`;
  bar.style.height = `${HEIGHT}px`;
  const note = el("span", "aw-hint");
  root.append(bar, note);

  const paint = (theme: Theme, content: LegendContent) => {
    note.textContent = content.note ?? "";
    note.hidden = !content.note;
    // The ticks' labels, for tests and for reading without a canvas.
    root.dataset.ticks = content.ticks.map((t) => t.label).join(" | ");
    // Narrower than `width` only when the legend's own box is; 0 while detached.
    const room = root.clientWidth - (parseFloat(getComputedStyle(root).paddingLeft) || 0);
    const w = room > 0 ? Math.max(minWidth, Math.min(width, Math.floor(room))) : width;
    bar.style.width = `${w}px`;
    const ctx = fitCanvas(bar, w, HEIGHT);
    if (!ctx) return;
    ctx.clearRect(0, 0, w, HEIGHT);
    const pad = legendPad(w);
    const span = w - 2 * pad;
    for (let i = 0; i < 256; i++) {
      ctx.fillStyle = packedCss(content.lut[i]);
      ctx.fillRect(pad + (i / 256) * span, 0, span / 256 + 0.5, BAR);
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
  return { root, paint };
}
