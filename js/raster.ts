// Pixel work on plain arrays: resampling that keeps thin stripes, and colouring through a LUT.
import { MASKED, intensities, scaleParams, weightLevels } from "./color";
import type { ColorScale } from "./model";

function spans(src: number, dst: number): Int32Array {
  // Source range [starts[i], ends[i]) for destination i: a pooling bin when shrinking, one pixel when enlarging.
  const out = new Int32Array(dst * 2);
  for (let i = 0; i < dst; i++) {
    const start = Math.floor((i * src) / dst);
    out[2 * i] = start;
    out[2 * i + 1] = Math.max(start + 1, Math.floor(((i + 1) * src) / dst));
  }
  return out;
}

/**
 * Resample a rows × cols grid to dstRows × dstCols: max over each source block when shrinking (so a
 * one-cell diagonal survives), nearest cell when enlarging. Works on intensities, where MASKED (-1) loses
 * to any real value.
 */
export function resampleMax(
  src: Float32Array, rows: number, cols: number, dstRows: number, dstCols: number,
): Float32Array {
  if (rows === dstRows && cols === dstCols) return src;
  const colSpan = spans(cols, dstCols);
  const rowSpan = spans(rows, dstRows);
  const wide = new Float32Array(rows * dstCols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < dstCols; c++) {
      let best = -Infinity;
      for (let k = colSpan[2 * c]; k < colSpan[2 * c + 1]; k++) if (src[base + k] > best) best = src[base + k];
      wide[r * dstCols + c] = best;
    }
  }
  const out = new Float32Array(dstRows * dstCols);
  for (let r = 0; r < dstRows; r++) {
    const o = r * dstCols;
    out.set(wide.subarray(rowSpan[2 * r] * dstCols, rowSpan[2 * r] * dstCols + dstCols), o);
    for (let k = rowSpan[2 * r] + 1; k < rowSpan[2 * r + 1]; k++) {
      const s = k * dstCols;
      for (let c = 0; c < dstCols; c++) if (wide[s + c] > out[o + c]) out[o + c] = wide[s + c];
    }
  }
  return out;
}

/** Signed resampling for diverging data: keeps the value of largest magnitude in each block. */
export function resampleMaxAbs(
  src: Float32Array, rows: number, cols: number, dstRows: number, dstCols: number,
): Float32Array {
  if (rows === dstRows && cols === dstCols) return src;
  const colSpan = spans(cols, dstCols);
  const rowSpan = spans(rows, dstRows);
  const out = new Float32Array(dstRows * dstCols);
  for (let r = 0; r < dstRows; r++) {
    for (let c = 0; c < dstCols; c++) {
      let best = 0;
      for (let i = rowSpan[2 * r]; i < rowSpan[2 * r + 1]; i++) {
        for (let k = colSpan[2 * c]; k < colSpan[2 * c + 1]; k++) {
          const v = src[i * cols + k];
          if (Math.abs(v) > Math.abs(best)) best = v;
        }
      }
      out[r * dstCols + c] = best;
    }
  }
  return out;
}

/** Intensities → packed colours (for an ImageData's Uint32 view); MASKED cells get `masked`. */
export function colorize(intensity: Float32Array, lut: Uint32Array, masked: number, out?: Uint32Array): Uint32Array {
  const pixels = out ?? new Uint32Array(intensity.length);
  for (let i = 0; i < intensity.length; i++) {
    const v = intensity[i];
    // Inlined lutIndex: this loop runs once per pixel.
    const k = (v * 255 + 0.5) | 0;
    pixels[i] = v === MASKED ? masked : lut[k < 0 ? 0 : k > 255 ? 255 : k];
  }
  return pixels;
}

/** Write packed pixels into a canvas of exactly width × height through putImageData. */
export function putPixels(canvas: HTMLCanvasElement, pixels: Uint32Array, width: number, height: number): void {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const image = ctx.createImageData(width, height);
  new Uint32Array(image.data.buffer).set(pixels);
  ctx.putImageData(image, 0, 0);
}

/**
 * A square map of weights (side `size`) → intensities at side `target`. Shrinking pools the weights first:
 * every scale is increasing in the weight, so pooling then scaling equals scaling then pooling, on fewer
 * cells. Enlarging scales first, so a causal map's diagonal stays one source cell wide.
 */
export function levelsAt(
  weights: Float32Array, size: number, target: number, scale: ColorScale, causal: boolean,
): Float32Array {
  if (target < size) return intensities(resampleMax(weights, size, size, target, target), target, target, scale, causal);
  return resampleMax(intensities(weights, size, size, scale, causal), size, size, target, target);
}

// ---- zoomed heatmap: a window of tokens drawn from one or more patches of weights -------------------

/**
 * Weights over a rectangle of tokens: queries [q0, q1) in `rows` bins and keys [k0, k1) in `cols` bins,
 * bin i covering [floor(i·len/n), floor((i+1)·len/n)) from the start (encode.pool_edges); one token per
 * bin when not pooled. The whole map is the patch [0, seq) × [0, seq).
 */
export interface MapPatch {
  weights: Float32Array;
  rows: number;
  cols: number;
  q0: number;
  q1: number;
  k0: number;
  k1: number;
}

/** Token range [start, end) of each of `target` pixels over tokens [start, start + span), as pairs. */
export function pixelTokenRanges(start: number, span: number, target: number): Int32Array {
  const out = new Int32Array(target * 2);
  for (let p = 0; p < target; p++) {
    const a = start + Math.floor((p * span) / target);
    out[2 * p] = a;
    out[2 * p + 1] = Math.max(a + 1, start + Math.floor(((p + 1) * span) / target));
  }
  return out;
}

/** The bin of token `t` on an axis of `bins` bins over [a, b) (decode.binOf shifted). */
function bin(t: number, a: number, b: number, bins: number): number {
  return Math.floor(((t - a + 1) * bins - 1) / (b - a));
}

/** Pixels [first, end) whose token ranges lie inside [a, b) (pixel ranges increase, so they are contiguous). */
function coveredPixels(ranges: Int32Array, a: number, b: number): [number, number] {
  const n = ranges.length / 2;
  let first = 0;
  while (first < n && ranges[2 * first] < a) first++;
  let end = first;
  while (end < n && ranges[2 * end + 1] <= b) end++;
  return [first, end];
}

/**
 * Max weight per pixel of the window (target × target pixels over queries [q0, q0 + span) × keys
 * [k0, k0 + span)), each pixel taken from the last patch that covers its tokens; NaN where none does.
 */
export function windowWeights(patches: MapPatch[], q0: number, k0: number, span: number, target: number): Float32Array {
  const rowTokens = pixelTokenRanges(q0, span, target);
  const colTokens = pixelTokenRanges(k0, span, target);
  const out = new Float32Array(target * target).fill(NaN);
  for (const p of patches) {
    const [r0, r1] = coveredPixels(rowTokens, p.q0, p.q1);
    const [c0, c1] = coveredPixels(colTokens, p.k0, p.k1);
    if (r0 >= r1 || c0 >= c1) continue;
    const cols = c1 - c0;
    const colCells = new Int32Array(cols * 2);
    for (let c = c0; c < c1; c++) {
      colCells[2 * (c - c0)] = bin(colTokens[2 * c], p.k0, p.k1, p.cols);
      colCells[2 * (c - c0) + 1] = bin(colTokens[2 * c + 1] - 1, p.k0, p.k1, p.cols) + 1;
    }
    const firstRow = bin(rowTokens[2 * r0], p.q0, p.q1, p.rows);
    const endRow = bin(rowTokens[2 * (r1 - 1) + 1] - 1, p.q0, p.q1, p.rows) + 1;
    // Max over each pixel's key cells, for every source row in view; then over each pixel's rows.
    const wide = new Float32Array((endRow - firstRow) * cols);
    for (let s = firstRow; s < endRow; s++) {
      const base = s * p.cols;
      const o = (s - firstRow) * cols;
      for (let c = 0; c < cols; c++) {
        let best = -Infinity;
        for (let k = colCells[2 * c]; k < colCells[2 * c + 1]; k++) if (p.weights[base + k] > best) best = p.weights[base + k];
        wide[o + c] = best;
      }
    }
    for (let r = r0; r < r1; r++) {
      const a = bin(rowTokens[2 * r], p.q0, p.q1, p.rows) - firstRow;
      const b = bin(rowTokens[2 * r + 1] - 1, p.q0, p.q1, p.rows) + 1 - firstRow;
      const o = r * target + c0;
      out.set(wide.subarray(a * cols, a * cols + cols), o);
      for (let s = a + 1; s < b; s++) {
        const w = s * cols;
        for (let c = 0; c < cols; c++) if (wide[w + c] > out[o + c]) out[o + c] = wide[w + c];
      }
    }
  }
  return out;
}

/** Largest weight of each row of a patch (its "row" colour scale reference). */
export function patchRowMax(p: MapPatch): Float32Array {
  const out = new Float32Array(p.rows);
  for (let r = 0; r < p.rows; r++) {
    let m = 0;
    for (let c = 0; c < p.cols; c++) if (p.weights[r * p.cols + c] > m) m = p.weights[r * p.cols + c];
    out[r] = m;
  }
  return out;
}

/**
 * Intensities (LUT positions / 255, or MASKED) of a zoomed window: `windowWeights` of the patches, coloured
 * with `scale` relative to `max` (the whole map's maximum, so colours do not change while panning). For
 * "row", each pixel row is scaled to the largest `rowMax` (per row of `rowPatch`, the whole map) over its
 * queries. Causal maps mask a pixel whose first key is after its last query; pixels no patch covers get 0.
 */
export function windowLevels(
  patches: MapPatch[], q0: number, k0: number, span: number, target: number,
  scale: ColorScale, causal: boolean, max: number, rowPatch?: MapPatch, rowMax?: Float32Array,
): Float32Array {
  const weights = windowWeights(patches, q0, k0, span, target);
  const rowTokens = pixelTokenRanges(q0, span, target);
  const colTokens = pixelTokenRanges(k0, span, target);
  const params = scaleParams(max);
  for (let r = 0; r < target; r++) {
    const lastQuery = rowTokens[2 * r + 1] - 1;
    let rowInv = 0;
    if (scale === "row") {
      let m = 0;
      if (rowPatch && rowMax) {
        const a = bin(rowTokens[2 * r], rowPatch.q0, rowPatch.q1, rowPatch.rows);
        const b = bin(lastQuery, rowPatch.q0, rowPatch.q1, rowPatch.rows);
        for (let s = a; s <= b; s++) if (rowMax[s] > m) m = rowMax[s];
      } else {
        for (let c = 0; c < target; c++) if (weights[r * target + c] > m) m = weights[r * target + c];
      }
      rowInv = m > 0 ? 1 / m : 0;
    }
    // Causal: the pixels whose first key is after the row's last query (a run at the end, as pixel token
    // ranges increase) are masked. NaN (no patch covers the pixel) gives 0.
    let visible = target;
    if (causal) while (visible > 0 && colTokens[2 * (visible - 1)] > lastQuery) visible--;
    const base = r * target;
    weightLevels(weights, base, base + visible, scale, params, rowInv, weights, base);
    weights.fill(MASKED, base + visible, base + target);
  }
  return weights;
}

/** The cell of a patch that holds the token pair (query, key), with the tokens it covers; null outside. */
export function patchCellAt(
  p: MapPatch, query: number, key: number,
): { row: number; col: number; q0: number; q1: number; k0: number; k1: number } | null {
  if (query < p.q0 || query >= p.q1 || key < p.k0 || key >= p.k1) return null;
  const row = bin(query, p.q0, p.q1, p.rows);
  const col = bin(key, p.k0, p.k1, p.cols);
  const qn = p.q1 - p.q0;
  const kn = p.k1 - p.k0;
  return {
    row, col,
    q0: p.q0 + Math.floor((row * qn) / p.rows), q1: p.q0 + Math.floor(((row + 1) * qn) / p.rows),
    k0: p.k0 + Math.floor((col * kn) / p.cols), k1: p.k0 + Math.floor(((col + 1) * kn) / p.cols),
  };
}
