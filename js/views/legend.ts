// The one colour legend: a bar of the LUT a view paints with, ticks in the view's own values, and a note
// that says what the colours mean. Every coloured view has one; where its labels go: layout.legendLabels.
// Plain elements (a CSS gradient, text through textContent), no canvas: nine legends cost next to nothing
// on the first paint.
import { type Tick, packedCss } from "../color";
import { el } from "../dom";
import { type LegendLabel, legendLabels, legendPad } from "../layout";
import type { Theme } from "../theme";

/** LUT samples in the gradient: every LUT here interpolates linearly between at most 9 stops that fall on
 * these samples (or close), so the bar shows the LUT's colours. */
const GRADIENT_STOPS = 33;

const gradients = new WeakMap<Uint32Array, { css: string; colours: string[] }>();

/** A LUT as a CSS gradient, left to right, and its colours at the gradient's stops (made once per LUT). */
function gradient(lut: Uint32Array): { css: string; colours: string[] } {
  let made = gradients.get(lut);
  if (made === undefined) {
    const colours = Array.from({ length: GRADIENT_STOPS }, (_, i) => packedCss(lut[Math.round((i / (GRADIENT_STOPS - 1)) * (lut.length - 1))]));
    const stops = colours.map((colour, i) => `${colour} ${((i / (GRADIENT_STOPS - 1)) * 100).toFixed(2)}%`);
    made = { css: `linear-gradient(to right, ${stops.join(", ")})`, colours };
    gradients.set(lut, made);
  }
  return made;
}

// The colours of each legend bar on the page, for saving a view as an image (views/save.ts).
const barColours = new WeakMap<Element, string[]>();

/** The colours (left to right) of a legend's bar element, or undefined for any other element. */
export function legendBarColours(element: Element): string[] | undefined {
  return barColours.get(element);
}

/** What a legend shows, in its own pixels: for drawing it again elsewhere (a saved SVG). */
export interface LegendDrawn {
  width: number;
  /** The bar spans [pad, width − pad]. */
  pad: number;
  colours: string[];
  labels: LegendLabel[];
  note: string;
}

let measurer: CanvasRenderingContext2D | null = null;

/** Width (px) of a label in the legend's font. */
function measure(text: string, font: string): number {
  measurer ??= document.createElement("canvas").getContext("2d");
  if (!measurer) return text.length * 6;
  measurer.font = font;
  return measurer.measureText(text).width;
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
  /** What it shows now (null before its first paint). */
  drawn(): LegendDrawn | null;
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
  const scale = el("div", "aw-legend-scale");
  const bar = el("div", "aw-legend-bar");
  const marks = el("div", "aw-legend-ticks");
  scale.append(bar, marks);
  const note = el("span", "aw-hint");
  root.append(scale, note);
  let shown = "";
  let drawn: LegendDrawn | null = null;

  // Each write happens only when the value changes: a repaint of every view (a theme switch, a head
  // switch) must not invalidate the page's layout for nothing.
  const paint = (theme: Theme, content: LegendContent) => {
    if (root.style.visibility) root.style.visibility = "";
    const text = content.note ?? "";
    if (note.textContent !== text) note.textContent = text;
    if (note.hidden !== !text) note.hidden = !text;
    // The legend's own box is 0 wide while detached.
    const room = fit ? root.clientWidth - (parseFloat(getComputedStyle(root).paddingLeft) || 0) : 0;
    const w = room > 0 ? Math.max(minWidth, Math.min(width, Math.floor(room))) : width;
    const font = `10px ${theme.font}`;
    const labels = legendLabels(content.ticks, w, (label) => measure(label, font));
    const colours = gradient(content.lut);
    const pad = legendPad(w);
    drawn = { width: w, pad, colours: colours.colours, labels, note: text };
    const key = `${w} ${colours.css} ${labels.map((l) => `${l.x}:${l.shown ? l.label : ""}`).join("|")}`;
    if (key === shown) return;
    shown = key;
    scale.style.width = `${w}px`;
    bar.style.margin = `0 ${pad}px`;
    bar.style.background = colours.css;
    barColours.set(bar, colours.colours);
    marks.replaceChildren(
      ...labels.flatMap((label) => {
        const tick = el("span", "aw-legend-tick");
        tick.style.left = `${label.x}px`;
        if (!label.shown) return [tick];
        const text = el("span", `aw-legend-label is-${label.align}`, label.label);
        text.style.left = `${label.textX}px`;
        return [tick, text];
      }),
    );
    // The ticks' labels, for tests and for reading without looking.
    root.dataset.ticks = content.ticks.map((t) => t.label).join(" | ");
  };
  const blank = () => {
    root.style.visibility = "hidden";
  };
  return { root, paint, blank, drawn: () => (root.style.visibility ? null : drawn) };
}
