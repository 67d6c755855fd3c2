// The heatmap as SVG: the map shown (its zoom window), max-pooled to at most SVG_MAX_CELLS cells per side,
// the token labels the axes show, and the legend. The document itself is built by snapshot.heatmapSvg.
import { cssColor } from "../color";
import { type RectMap, rectWindowLevels } from "../cross";
import type { MapWindow } from "../layout";
import type { ColorScale } from "../model";
import { colorize } from "../raster";
import { type SvgLabel, type SvgLegend, heatmapSvg, svgCells } from "../snapshot";
import type { Theme } from "../theme";
import { HeatmapLevels, type Shown } from "./heatmapData";
import type { LegendDrawn } from "./legend";
import { X_AXIS, Y_AXIS, axisLabels, fitLabel } from "./mapFrame";
import type { MapPatch } from "../raster";

export interface HeatmapSvgInput {
  title: string;
  shown: Shown;
  /** The full-resolution window Python sent, used where it covers `win`. */
  detail: MapPatch | null;
  win: MapWindow;
  seq: number;
  causal: boolean;
  scale: ColorScale;
  texts: string[];
  hovered: number;
  pinned: number;
  /** The map's side on the page (px). */
  side: number;
  theme: Theme;
  legend: LegendDrawn | null;
}

let measurer: CanvasRenderingContext2D | null = null;

export function heatmapSvgText(input: HeatmapSvgInput): string {
  const { shown, win, theme: t } = input;
  const zoomed = win.span < input.seq;
  const n = svgCells(zoomed ? win.span : shown.size);
  // A levels cache of its own: the view's keeps what the screen shows.
  const levels = new HeatmapLevels(input.seq, input.causal).levels(shown, input.detail, win, input.scale, n);
  const cells = colorize(levels, t.sequential, t.masked);
  const text = (i: number) => input.texts[i] ?? "";
  const labels = [
    ...svgAxisLabels("y", input.side, win.q0, win.span, text, input.hovered, input.pinned, t),
    ...svgAxisLabels("x", input.side, win.k0, win.span, text, input.hovered, input.pinned, t),
  ];
  return heatmapSvg({
    title: input.title,
    cells, n, masked: t.masked,
    side: input.side, yAxis: Y_AXIS, xAxis: X_AXIS,
    labels, legend: svgLegend(input.legend),
    font: t.font, fg: cssColor(t.fg), muted: cssColor(t.muted), background: cssColor(t.bg),
  });
}

export interface RectHeatmapSvgInput {
  title: string;
  /** The map shown (max-pooled from seqLen × keyLen where smaller). */
  map: RectMap;
  /** The source tokens shown, [k0, k0 + span) (the page's zoom). */
  k0: number;
  span: number;
  scale: ColorScale;
  /** Row (decoder) and column (source) token texts. */
  queries: string[];
  keys: string[];
  hovered: number;
  pinned: number;
  /** The map's size on the page (px). */
  width: number;
  height: number;
  theme: Theme;
  legend: LegendDrawn | null;
}

/** A cross-attention heatmap as SVG: decoder tokens down, source tokens across, the rectangle it is. */
export function rectHeatmapSvgText(input: RectHeatmapSvgInput): string {
  const { theme: t, map, k0, span } = input;
  const rows = svgCells(map.rows);
  const cols = svgCells(Math.min(span, map.cols));
  const cells = colorize(rectWindowLevels(map, k0, span, rows, cols, input.scale), t.sequential, t.masked);
  const labels = [
    ...svgAxisLabels("y", input.height, 0, map.seqLen, (i) => input.queries[i] ?? "", input.hovered, input.pinned, t),
    ...svgAxisLabels("x", input.width, k0, span, (j) => input.keys[j] ?? "", -1, -1, t),
  ];
  return heatmapSvg({
    title: input.title,
    cells, n: rows, cols, masked: t.masked,
    side: input.width, height: input.height, yAxis: Y_AXIS, xAxis: X_AXIS,
    labels, legend: svgLegend(input.legend),
    font: t.font, fg: cssColor(t.fg), muted: cssColor(t.muted), background: cssColor(t.bg),
  });
}

/** The token labels an axis of `px` pixels shows for tokens start..start + span, as the page draws them. */
function svgAxisLabels(
  axis: "x" | "y", px: number, start: number, span: number, text: (i: number) => string,
  hovered: number, pinned: number, t: Theme,
): SvgLabel[] {
  measurer ??= document.createElement("canvas").getContext("2d");
  const depth = axis === "y" ? Y_AXIS : X_AXIS;
  const fit = (label: string, strong: boolean) => {
    if (!measurer) return label;
    measurer.font = `${strong ? "bold " : ""}11px ${t.font}`;
    return fitLabel(measurer, label, depth - 8);
  };
  return axisLabels(px, start, span, text, hovered, pinned, fit).map((label) => {
    const fill = label.strong ? (label.index === pinned ? t.pin : t.fg) : t.muted;
    return { axis, at: label.at, text: label.text, bold: label.strong, fill: cssColor(fill) };
  });
}

function svgLegend(legend: LegendDrawn | null): SvgLegend | null {
  return legend && {
    width: legend.width,
    pad: legend.pad,
    colours: legend.colours,
    ticks: legend.labels.map((l) => ({ x: l.x, label: l.shown ? l.label : undefined, align: l.align, textX: l.textX })),
    note: legend.note,
  };
}
