// What the heatmap draws, without the DOM: which data shows the selected (or previewed) head, its levels
// for a window of tokens, and the exact value under a token pair.
import { formatWeight } from "../color";
import * as data from "../data";
import { type MapWindow, isZoomed, tokenLabel } from "../layout";
import type { ColorScale, Model, Weighting } from "../model";
import { type MapPatch, levelsAt, patchCellAt, patchRowMax, windowLevels } from "../raster";
import type { HeadRef } from "../selection";

export interface Shown {
  weights: Float32Array;
  /** Side of `weights`. */
  size: number;
  /** "full": the exact map; "pooled": max-pooled full map; "preview": a thumbnail. */
  kind: "full" | "pooled" | "preview";
  layer: number;
  head: number;
  /** What the values are: attention weights, or αᵢⱼ·‖W_O vⱼ‖ (a thumbnail is always attention). */
  weighting: Weighting;
}

/** The selected head's map when it has arrived, else its thumbnail (a preview while the map is on its way). */
export function shownMap(model: Model, want: HeadRef): Shown | null {
  const map = data.attentionMap(model);
  if (map && map.info.layer === want.layer && map.info.head === want.head) {
    const weighting = map.info.weighting ?? "attention";
    return { weights: map.weights, size: map.info.size, kind: map.info.pooled ? "pooled" : "full", weighting, ...want };
  }
  const info = data.info(model);
  const thumb = data.thumbnails(model)[want.layer * info.num_heads + want.head];
  return thumb ? { weights: thumb, size: info.thumbnail_size, kind: "preview", weighting: "attention", ...want } : null;
}

/** The whole map as a patch over [0, seq) × [0, seq). */
export function overviewPatch(s: Shown, seq: number): MapPatch {
  return { weights: s.weights, rows: s.size, cols: s.size, q0: 0, q1: seq, k0: 0, k1: seq };
}

/** The full-resolution window Python sent, when it belongs to the shown (max-pooled) head. */
export function detailPatch(model: Model, s: Shown): MapPatch | null {
  if (s.kind !== "pooled") return null;
  const detail = data.mapWindow(model);
  if (!detail || detail.info.layer !== s.layer || detail.info.head !== s.head) return null;
  if ((detail.info.weighting ?? "attention") !== s.weighting) return null;
  const i = detail.info;
  return { weights: detail.weights, rows: i.rows, cols: i.cols, q0: i.q0, q1: i.q1, k0: i.k0, k1: i.k1 };
}

/** Whether patch `p` holds every token of window `w`. */
export function covers(p: MapPatch | null, w: MapWindow): boolean {
  return !!p && p.q0 <= w.q0 && w.q0 + w.span <= p.q1 && p.k0 <= w.k0 && w.k0 + w.span <= p.k1;
}

const rowMaxCache = new WeakMap<Float32Array, Float32Array>();
const maxCache = new WeakMap<Float32Array, number>();

export function maxOf(weights: Float32Array): number {
  let max = maxCache.get(weights);
  if (max === undefined) {
    max = 0;
    for (let i = 0; i < weights.length; i++) if (weights[i] > max) max = weights[i];
    maxCache.set(weights, max);
  }
  return max;
}

/** Levels (LUT positions / 255, or MASKED) of the shown head at `target` × `target` pixels, remembering the
 * last result (a hover repaints the overlay only, but a resize or a theme switch redraws the base). */
export class HeatmapLevels {
  private last: { key: string; weights: Float32Array; detail: Float32Array | null; levels: Float32Array } | null = null;

  constructor(private readonly seq: number, private readonly causal: boolean) {}

  levels(s: Shown, detail: MapPatch | null, win: MapWindow, scale: ColorScale, target: number): Float32Array {
    const zoomed = isZoomed(win, this.seq);
    const used = zoomed ? detail : null;
    const key = `${scale} ${target} ${win.q0} ${win.k0} ${win.span}`;
    const last = this.last;
    if (last && last.key === key && last.weights === s.weights && last.detail === (used?.weights ?? null)) {
      return last.levels;
    }
    let levels: Float32Array;
    if (!zoomed) {
      levels = levelsAt(s.weights, s.size, target, scale, this.causal);
    } else {
      const overview = overviewPatch(s, this.seq);
      let rowMax = rowMaxCache.get(s.weights);
      if (scale === "row" && !rowMax) rowMaxCache.set(s.weights, (rowMax = patchRowMax(overview)));
      const patches = used ? [overview, used] : [overview];
      levels = windowLevels(patches, win.q0, win.k0, win.span, target, scale, this.causal, maxOf(s.weights), overview, rowMax);
    }
    this.last = { key, weights: s.weights, detail: used?.weights ?? null, levels };
    return levels;
  }
}

export interface Cell {
  weight: number;
  source: "window" | Shown["kind"];
  /** The tokens the cell covers: queries [q0, q1), keys [k0, k1). */
  q0: number;
  q1: number;
  k0: number;
  k1: number;
}

/** The data under a token pair: the detail window when it holds it, else the map (or thumbnail). */
export function cellAtTokens(s: Shown, detail: MapPatch | null, seq: number, query: number, key: number): Cell | null {
  for (const [patch, source] of [[detail, "window"], [overviewPatch(s, seq), s.kind]] as const) {
    const cell = patch && patchCellAt(patch, query, key);
    if (patch && cell) return { ...cell, weight: patch.weights[cell.row * patch.cols + cell.col], source };
  }
  return null;
}

/** What a heatmap value is called in tooltips. */
export const VALUE_NAMES: Record<Weighting, string> = { attention: "weight", value_weighted: "α·‖W_O v‖" };

/** The tooltip of a token pair: both tokens, then the exact value, or the max over the cell's tokens. */
export function describeCell(
  texts: string[], causal: boolean, cell: Cell | null, query: number, key: number, canZoomForDetail: boolean,
  weighting: Weighting = "attention",
): string[] {
  const name = VALUE_NAMES[weighting];
  const lines = [`query ${tokenLabel(query, texts[query])}`, `key ${tokenLabel(key, texts[key])}`];
  if (causal && key > query) return [...lines, "masked (a causal query cannot see later keys)"];
  if (!cell) return lines;
  const exact = cell.q1 - cell.q0 === 1 && cell.k1 - cell.k0 === 1;
  if (exact && cell.source !== "preview") return [...lines, `${name} ${cell.weight.toPrecision(4)}`];
  const tokens = (a: number, b: number) => (b - a === 1 ? `${a}` : `${a}–${b - 1}`);
  const what = cell.source === "preview" ? "thumbnail" : cell.source === "window" ? "window max-pooled" : "map max-pooled";
  return [
    ...lines,
    `max ${name === "weight" ? "" : `${name} `}${formatWeight(cell.weight)} over queries ${tokens(cell.q0, cell.q1)} × keys ${tokens(cell.k0, cell.k1)}`,
    `(${what}${canZoomForDetail || cell.source === "window" ? "; zoom in for exact weights" : ""})`,
  ];
}
