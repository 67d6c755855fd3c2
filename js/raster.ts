// Pixel work on plain arrays: resampling that keeps thin stripes, and colouring through a LUT.
import { MASKED, intensities } from "./color";
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
