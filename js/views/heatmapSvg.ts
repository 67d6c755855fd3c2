// The heatmap as SVG: the map shown (its zoom window), max-pooled to at most SVG_MAX_CELLS cells per side,
// the token labels the axes show, and the legend. The document itself is built by snapshot.heatmapSvg.
import { cssColor } from "../color";
import type { MapWindow } from "../layout";
import type { ColorScale } from "../model";
import { colorize } from "../raster";
import { type SvgLabel, heatmapSvg, svgCells } from "../snapshot";
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
  measurer ??= document.createElement("canvas").getContext("2d");
  const labels: SvgLabel[] = [];
  for (const [axis, start, depth] of [["y", win.q0, Y_AXIS], ["x", win.k0, X_AXIS]] as const) {
    const fit = (label: string, strong: boolean) => {
      if (!measurer) return label;
      measurer.font = `${strong ? "bold " : ""}11px ${t.font}`;
      return fitLabel(measurer, label, depth - 8);
    };
    for (const label of axisLabels(input.side, start, win.span, (i) => input.texts[i] ?? "", input.hovered, input.pinned, fit)) {
      const fill = label.strong ? (label.index === input.pinned ? t.pin : t.fg) : t.muted;
      labels.push({ axis, at: label.at, text: label.text, bold: label.strong, fill: cssColor(fill) });
    }
  }
  const legend = input.legend && {
    width: input.legend.width,
    pad: input.legend.pad,
    colours: input.legend.colours,
    ticks: input.legend.labels.map((l) => ({ x: l.x, label: l.shown ? l.label : undefined, align: l.align, textX: l.textX })),
    note: input.legend.note,
  };
  return heatmapSvg({
    title: input.title,
    cells, n, masked: t.masked,
    side: input.side, yAxis: Y_AXIS, xAxis: X_AXIS,
    labels, legend,
    font: t.font, fg: cssColor(t.fg), muted: cssColor(t.muted), background: cssColor(t.bg),
  });
}
