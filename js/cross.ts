// The pure part of an encoder-decoder run's views (no DOM): the kind switch's keys, which tokens a hover in
// one token strip highlights in the other through the selected cross-attention head, and rectangular maps
// (rows: the decoder's tokens, columns: the source's) at a given pixel size.
import { formatWeight, intensities } from "./color";
import { binOf } from "./decode";
import { tokenLabel } from "./layout";
import type { ColorScale } from "./model";
import { resampleMax } from "./raster";

/** The flattest a rectangular map is drawn (width : height, or height : width for a thumbnail). */
const MAX_ASPECT = 4;

/** A rectangular map as sent: `rows` × `cols` weights (row-major) over `seqLen` queries × `keyLen` keys, each
 * axis max-pooled (bins floor(i·len/n)) when longer than it has values. */
export interface RectMap {
  weights: Float32Array;
  rows: number;
  cols: number;
  seqLen: number;
  keyLen: number;
}

/** What decoder token `query` reads: one weight per source token (its bin's, when the map is pooled). */
export function crossRow(m: RectMap, query: number): Float32Array {
  const out = new Float32Array(m.keyLen);
  if (query < 0 || query >= m.seqLen) return out;
  const base = binOf(query, m.seqLen, m.rows) * m.cols;
  for (let j = 0; j < m.keyLen; j++) out[j] = m.weights[base + binOf(j, m.keyLen, m.cols)];
  return out;
}

/** How much each decoder token reads source token `key`: one weight per decoder token (its bin's). */
export function crossColumn(m: RectMap, key: number): Float32Array {
  const out = new Float32Array(m.seqLen);
  if (key < 0 || key >= m.keyLen) return out;
  const col = binOf(key, m.keyLen, m.cols);
  for (let i = 0; i < m.seqLen; i++) out[i] = m.weights[binOf(i, m.seqLen, m.rows) * m.cols + col];
  return out;
}

/** A strip's tint for weights: opacity √(w / max) · `strongest` (0 where w is 0, or every weight is). */
export function tintAlphas(weights: Float32Array, strongest: number): Float32Array {
  let max = 0;
  for (const w of weights) if (w > max) max = w;
  const out = new Float32Array(weights.length);
  if (max > 0) for (let i = 0; i < weights.length; i++) out[i] = weights[i] > 0 ? Math.sqrt(weights[i] / max) * strongest : 0;
  return out;
}

/** The kind the kind switch moves to on a key (arrows move and wrap, Home / End the first / last), or null. */
export function kindForKey(kinds: readonly string[], current: string, key: string): string | null {
  if (!kinds.length) return null;
  const at = Math.max(0, kinds.indexOf(current));
  const step: Record<string, number> = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  if (key in step) return kinds[(at + step[key] + kinds.length) % kinds.length];
  if (key === "Home") return kinds[0];
  if (key === "End") return kinds[kinds.length - 1];
  return null;
}

/** Levels (LUT positions / 255) of a rows × cols map at targetRows × targetCols pixels: max-pooled where a side
 * shrinks, nearest cell where it grows (as `levelsAt` does for square maps). Never causal. */
export function rectLevels(
  weights: Float32Array, rows: number, cols: number, targetRows: number, targetCols: number, scale: ColorScale,
): Float32Array {
  const r = Math.min(rows, targetRows);
  const c = Math.min(cols, targetCols);
  const pooled = resampleMax(weights, rows, cols, r, c);
  return resampleMax(intensities(pooled, r, c, scale, false), r, c, targetRows, targetCols);
}

/** Levels of source tokens [k0, k0 + span) of a map (the heatmap zoomed along the source) at targetRows ×
 * targetCols pixels. The colours are the whole map's (its largest weight sets the scale, as the legend
 * says), so zooming never recolours a cell; max-pooled where a side shrinks, nearest cell where it grows. */
export function rectWindowLevels(
  m: RectMap, k0: number, span: number, targetRows: number, targetCols: number, scale: ColorScale,
): Float32Array {
  const all = intensities(m.weights, m.rows, m.cols, scale, false);
  const window = new Float32Array(m.rows * span);
  for (let r = 0; r < m.rows; r++) {
    for (let j = 0; j < span; j++) window[r * span + j] = all[r * m.cols + binOf(k0 + j, m.keyLen, m.cols)];
  }
  const r = Math.min(m.rows, targetRows);
  const c = Math.min(span, targetCols);
  return resampleMax(resampleMax(window, m.rows, span, r, c), r, c, targetRows, targetCols);
}

/** Where a rows × cols thumbnail sits in a square tile of `side` pixels: as large as fits, centred, with its
 * aspect kept up to 4:1 either way (a long source would leave a hairline: its cells stretch instead, as the
 * heatmap's do). */
export function fitRect(rows: number, cols: number, side: number): { x: number; y: number; w: number; h: number } {
  if (rows <= 0 || cols <= 0) return { x: 0, y: 0, w: side, h: side };
  const ratio = Math.min(MAX_ASPECT, Math.max(1 / MAX_ASPECT, cols / rows));
  const w = ratio >= 1 ? side : Math.max(1, Math.round(side * ratio));
  const h = ratio <= 1 ? side : Math.max(1, Math.round(side / ratio));
  return { x: Math.floor((side - w) / 2), y: Math.floor((side - h) / 2), w, h };
}

/** The heatmap box's width / height for a rows × cols map: the map's own aspect, but never taller than wide
 * nor flatter than 4:1 (cells then stretch). */
export function rectAspect(rows: number, cols: number): number {
  return Math.min(MAX_ASPECT, Math.max(1, cols / Math.max(1, rows)));
}

/** A cross-attention cell's tooltip, one line each: the decoder token (the row), the source token it reads
 * (the column), and the weight: exact to 4 significant digits (a log-scale map shows weights far below
 * 0.0001), or the bin's max where the map is max-pooled. */
export function describeCrossCell(
  query: number, queryText: string, key: number, keyText: string, weight: number, exact: boolean,
): string[] {
  const value = exact ? `weight ${weight.toPrecision(4)}` : `max ${formatWeight(weight)} (max-pooled)`;
  return [`decoder token ${tokenLabel(query, queryText)}`, `reads source token ${tokenLabel(key, keyText)}`, value];
}
