// Colour lookup tables and the scales that turn attention weights into LUT positions.
import type { ColorScale } from "./model";

export type RGB = [number, number, number];

/** Viridis at 9 evenly spaced stops; dark for 0, yellow for 1; readable on light and dark pages. */
const VIRIDIS: RGB[] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];
const NEGATIVE: RGB = [33, 102, 172];
const POSITIVE: RGB = [178, 24, 43];

/** Pack a colour as the Uint32 an ImageData buffer holds on little-endian machines (ABGR). */
export function packRGBA([r, g, b]: RGB, alpha = 255): number {
  return ((alpha << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export function unpackRGBA(packed: number): [number, number, number, number] {
  return [packed & 255, (packed >>> 8) & 255, (packed >>> 16) & 255, packed >>> 24];
}

function mix(a: RGB, b: RGB, t: number): RGB {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)) as RGB;
}

/** 256 packed colours interpolated through `stops`. */
export function lutFromStops(stops: RGB[]): Uint32Array {
  const lut = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (stops.length - 1);
    const k = Math.min(stops.length - 2, Math.floor(x));
    lut[i] = packRGBA(mix(stops[k], stops[k + 1], x - k));
  }
  return lut;
}

export const sequentialLut = (): Uint32Array => lutFromStops(VIRIDIS);

/** Blue (negative) → `middle` (the page background, so zero disappears into it) → red (positive). */
export function divergingLut(middle: RGB): Uint32Array {
  const lut = lutFromStops([NEGATIVE, mix(NEGATIVE, middle, 0.55), middle, mix(POSITIVE, middle, 0.55), POSITIVE]);
  // 0.5 rounds to index 128 and the true middle falls between 127 and 128: both are exactly the background.
  lut[127] = lut[128] = packRGBA(middle);
  return lut;
}

/** What `color` laid over `background` at opacities 0..maxAlpha looks like (a translucent tint), as a LUT. */
export function tintLut(color: RGB, background: RGB, maxAlpha: number): Uint32Array {
  return lutFromStops([background, mix(background, color, maxAlpha)]);
}

export function cssColor([r, g, b]: RGB, alpha = 1): string {
  return alpha >= 1 ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${alpha})`;
}

const cssOfPacked = new Map<number, string>();

/** A packed LUT colour as CSS (for fills of single cells and swatches); a LUT has 256, each made once. */
export function packedCss(packed: number): string {
  let css = cssOfPacked.get(packed);
  if (css === undefined) {
    const [r, g, b] = unpackRGBA(packed);
    css = cssColor([r, g, b]);
    if (cssOfPacked.size < 4096) cssOfPacked.set(packed, css);
  }
  return css;
}

/** "rgb(1, 2, 3)" / "#abc" / "#aabbcc" → RGB; `fallback` for anything else. */
export function parseColor(text: string, fallback: RGB): RGB {
  const value = text.trim();
  const rgb = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(value);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])].map((c) => Math.round(c)) as RGB;
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value);
  if (hex) {
    const h = hex[1].length === 3 ? [...hex[1]].map((c) => c + c).join("") : hex[1];
    return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as RGB;
  }
  return fallback;
}

/** Decades shown by the log scale below the map's maximum. */
export const LOG_DECADES = 4;
/** Marks masked cells (above the diagonal of a causal map); painted in the mask colour. */
export const MASKED = -1;

/** What a colour scale needs to know about the map it colours: its largest weight. */
export interface ScaleParams {
  inv: number;
  logMax: number;
}

export function scaleParams(max: number): ScaleParams {
  return { inv: max > 0 ? 1 / max : 0, logMax: Math.log10(max || 1) };
}

/**
 * The one colour-scale computation: weights[start, end) → their levels in [0, 1] (LUT position / 255),
 * written to out[at, ...). linear: w / max; gamma: √(w / max); row: w / (its row's max, given as `rowInv` =
 * 1 / row max); log: LOG_DECADES decades below max. Zero, negative and NaN (no data) give 0. A run of
 * weights at a time, so that painting a map (every pixel of every head) makes one call per row.
 */
export function weightLevels(
  weights: Float32Array, start: number, end: number, scale: ColorScale, p: ScaleParams, rowInv: number,
  out: Float32Array, at: number,
): void {
  if (scale === "log") {
    for (let i = start, o = at; i < end; i++, o++) {
      const w = weights[i];
      const v = w > 0 ? (Math.log10(w) - p.logMax) / LOG_DECADES + 1 : 0;
      out[o] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  } else if (scale === "gamma") {
    for (let i = start, o = at; i < end; i++, o++) {
      const w = weights[i];
      const v = w > 0 ? Math.sqrt(w * p.inv) : 0;
      out[o] = v > 1 ? 1 : v;
    }
  } else {
    const k = scale === "row" ? rowInv : p.inv;
    for (let i = start, o = at; i < end; i++, o++) {
      const w = weights[i];
      const v = w > 0 ? w * k : 0;
      out[o] = v > 1 ? 1 : v;
    }
  }
}

/**
 * Weights (rows × cols, a whole map, maybe max-pooled) → levels, or MASKED where `causal` hides a key.
 */
export function intensities(
  weights: Float32Array, rows: number, cols: number, scale: ColorScale, causal: boolean,
): Float32Array {
  const out = new Float32Array(rows * cols);
  let max = 0;
  for (let i = 0; i < weights.length; i++) if (weights[i] > max) max = weights[i];
  const params = scaleParams(max);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    // Causal maps keep keys 0..q; at pooled resolution the last visible key bin is the diagonal one.
    const last = causal ? Math.min(cols - 1, Math.floor(((r + 1) * cols - 1) / rows)) : cols - 1;
    let rowMax = 0;
    if (scale === "row") for (let c = 0; c <= last; c++) if (weights[base + c] > rowMax) rowMax = weights[base + c];
    const rowInv = rowMax > 0 ? 1 / rowMax : 0;
    weightLevels(weights, base, base + last + 1, scale, params, rowInv, out, base);
    out.fill(MASKED, base + last + 1, base + cols);
  }
  return out;
}

export interface DivergingOptions {
  /** One symmetric scale over the whole grid: ±range are the ends (colours compare between cells).
   * Without it, each row is scaled to its own largest |value|. */
  range?: number;
  /** With per-row scales, leave the first column out of each row's largest |value| (it saturates instead):
   * the first token of most language models carries activations orders of magnitude larger than the rest
   * (an attention sink), which would otherwise leave every other cell the colour of zero. */
  skipFirstColumn?: boolean;
  /** Square grids of a causal model: cells above the diagonal are MASKED. */
  causal?: boolean;
}

/** Each row's largest |value| (the per-row diverging scale), leaving the first column out if asked. */
export function rowMaxAbs(values: Float32Array, rows: number, cols: number, skipFirstColumn = false): Float32Array {
  const out = new Float32Array(rows);
  const from = skipFirstColumn && cols > 2 ? 1 : 0;
  for (let r = 0; r < rows; r++) out[r] = maxAbs(values.subarray(r * cols + from, (r + 1) * cols));
  return out;
}

/** Signed values (rows × cols) → levels in [0, 1]: 0.5 for zero, 0 and 1 for the ends of the scale. */
export function divergingLevels(
  values: Float32Array, rows: number, cols: number, options: DivergingOptions = {},
): Float32Array {
  const out = new Float32Array(rows * cols);
  const perRow = options.range === undefined ? rowMaxAbs(values, rows, cols, options.skipFirstColumn) : null;
  for (let r = 0; r < rows; r++) {
    const range = perRow ? perRow[r] : (options.range ?? 0);
    const half = range > 0 ? 0.5 / range : 0;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      out[i] = options.causal && c > r ? MASKED : Math.min(1, Math.max(0, 0.5 + values[i] * half));
    }
  }
  return out;
}

/** The largest |value| (a diverging scale's end). */
export function maxAbs(values: Float32Array): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]);
    if (v > max) max = v;
  }
  return max;
}

/** A LUT index for an intensity. */
export function lutIndex(intensity: number): number {
  return Math.max(0, Math.min(255, Math.round(intensity * 255)));
}

export interface Tick {
  /** Position along the legend, 0..1. */
  at: number;
  label: string;
}

/** Short text for a weight: 3 significant digits, exponent form below 0.001. */
export function formatWeight(value: number, digits = 3): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1000 || abs < 0.001) return value.toExponential(digits - 1).replace("e-", "e−");
  return value.toPrecision(digits).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/** What each colour scale of the attention maps means (the legend's note). */
export const SCALE_NOTES: Record<ColorScale, string> = {
  linear: "attention weight, linear",
  gamma: "attention weight, square root: small weights visible",
  row: "each query row scaled to its own max",
  log: `attention weight, log scale: ${LOG_DECADES} decades below the max`,
};

/** What each colour scale means for value-weighted maps (αᵢⱼ·‖W_O vⱼ‖: not probabilities, rows do not sum to 1). */
export const VALUE_WEIGHTED_NOTES: Record<ColorScale, string> = {
  linear: "α·‖W_O v‖ (attention × norm of what the key's value writes; not a probability), linear",
  gamma: "α·‖W_O v‖ (attention × norm of what the key's value writes; not a probability), square root",
  row: "α·‖W_O v‖ (attention × norm of what the key's value writes), each query row scaled to its own max",
  log: `α·‖W_O v‖ (attention × norm of what the key's value writes; not a probability), log: ${LOG_DECADES} decades below the max`,
};

/** Legend ticks for a colour scale over weights 0..max. */
export function legendTicks(scale: ColorScale, max: number): Tick[] {
  if (scale === "row") return [{ at: 0, label: "0" }, { at: 0.5, label: "½ row max" }, { at: 1, label: "row max" }];
  if (scale === "linear") return [0, 0.5, 1].map((at) => ({ at, label: formatWeight(at * max) }));
  if (scale === "gamma") return [0, 0.01, 0.1, 0.5, 1].map((f) => ({ at: Math.sqrt(f), label: formatWeight(f * max) }));
  const ticks: Tick[] = [];
  for (let d = LOG_DECADES; d >= 0; d--) ticks.push({ at: 1 - d / LOG_DECADES, label: formatWeight(max * 10 ** -d) });
  return ticks;
}

/** Ticks for a linear scale from `lo` (left) to `hi` (right): both ends and the middle. */
export function rangeTicks(lo: number, hi: number): Tick[] {
  const values = [0, 0.5, 1].map((at) => lo + (hi - lo) * at);
  // A narrow range needs more digits to tell its ends apart ("1.2204 1.2206", not "1.22 1.22").
  let digits = 3;
  while (digits < 6 && hi !== lo && new Set(values.map((v) => formatWeight(v, digits))).size < values.length) digits++;
  return values.map((v, i) => ({ at: i / 2, label: formatWeight(v, digits) }));
}

/** Ticks for a diverging scale over ±range, with what each end means. */
export function divergingTicks(range: number, negative = "", positive = ""): Tick[] {
  const end = formatWeight(range);
  return [
    { at: 0, label: `−${end}${negative ? ` ${negative}` : ""}` },
    { at: 0.5, label: "0" },
    { at: 1, label: `+${end}${positive ? ` ${positive}` : ""}` },
  ];
}
