// Heatmap zoom/pan geometry (layout.ts), drawing a window from patches of weights (raster.ts), and the
// token strip's "scroll to the nearest edge" rule.
import { describe, expect, it } from "vitest";
import { intensities } from "./color";
import {
  MIN_SPAN, clampWindow, fullWindow, isZoomed, nearestScroll, panWindow, tokenAtOffset, tokenOffset,
  windowBounds, windowCellAt, windowFromBounds, windowLabels, zoomWindow,
} from "./layout";
import { type MapPatch, levelsAt, patchCellAt, pixelTokenRanges, windowLevels, windowWeights } from "./raster";

const SEQ = 4096;

describe("zoom window", () => {
  it("starts unzoomed and clamps span, bounds and integers", () => {
    expect(fullWindow(SEQ)).toEqual({ q0: 0, k0: 0, span: SEQ });
    expect(isZoomed(fullWindow(SEQ), SEQ)).toBe(false);
    expect(clampWindow({ q0: -5, k0: 5000, span: 100.4 }, SEQ)).toEqual({ q0: 0, k0: SEQ - 100, span: 100 });
    expect(clampWindow({ q0: 10, k0: 10, span: 2 }, SEQ).span).toBe(MIN_SPAN);
    expect(clampWindow({ q0: 10, k0: 10, span: 9999 }, SEQ)).toEqual(fullWindow(SEQ));
    // A prompt shorter than the minimum span shows all of it.
    expect(clampWindow({ q0: 1, k0: 1, span: 2 }, 5)).toEqual({ q0: 0, k0: 0, span: 5 });
  });

  it("zooms about the pointer: the token pair under it stays under it", () => {
    const w = zoomWindow(fullWindow(SEQ), SEQ, 0.25, 0.5, 0.75);
    expect(w.span).toBe(1024);
    // Before: fx 0.5 → key 2048, fy 0.75 → query 3072. After: the same tokens at the same fractions.
    expect(w.k0 + 0.5 * w.span).toBe(2048);
    expect(w.q0 + 0.75 * w.span).toBe(3072);
    const back = zoomWindow(w, SEQ, 4, 0.5, 0.75);
    expect(back).toEqual(fullWindow(SEQ));
  });

  it("zooms at a corner without leaving the map", () => {
    const w = zoomWindow(fullWindow(SEQ), SEQ, 0.1, 1, 0);
    expect(w.q0).toBe(0);
    expect(w.k0 + w.span).toBe(SEQ);
    const tiny = zoomWindow(w, SEQ, 1e-6, 0.5, 0.5);
    expect(tiny.span).toBe(MIN_SPAN);
  });

  it("pans with the pointer and stops at the edges", () => {
    const start = { q0: 1000, k0: 1000, span: 512 };
    // Dragging right by 100 px of a 512 px box moves the view 100 tokens left (the map follows the pointer).
    expect(panWindow(start, SEQ, 100, 0, 512)).toEqual({ q0: 1000, k0: 900, span: 512 });
    expect(panWindow(start, SEQ, 0, -256, 512)).toEqual({ q0: 1256, k0: 1000, span: 512 });
    expect(panWindow(start, SEQ, 1e6, -1e6, 512)).toEqual({ q0: SEQ - 512, k0: 0, span: 512 });
  });

  it("maps pixels to tokens and back under zoom", () => {
    const w = { q0: 512, k0: 100, span: 64 };
    const box = 640; // 10 px per token
    expect(windowCellAt(0, 0, box, w)).toEqual({ query: 512, key: 100 });
    expect(windowCellAt(9.99, 10, box, w)).toEqual({ query: 513, key: 100 });
    expect(windowCellAt(639.9, 639.9, box, w)).toEqual({ query: 575, key: 163 });
    expect(windowCellAt(640, 5, box, w)).toBeNull();
    expect(windowCellAt(-1, 5, box, w)).toBeNull();
    expect(tokenOffset(513, 512, 64, box)).toBe(10);
    for (let x = 0; x < box; x += 7) {
      const t = tokenAtOffset(x, 100, 64, box);
      expect(tokenOffset(t, 100, 64, box)).toBeLessThanOrEqual(x);
      expect(tokenOffset(t + 1, 100, 64, box)).toBeGreaterThan(x);
    }
    // Unzoomed, many tokens per pixel: still inside [0, seq).
    expect(windowCellAt(599.99, 599.99, 600, fullWindow(SEQ))).toEqual({ query: SEQ - 1, key: SEQ - 1 });
  });

  it("round-trips through map_window bounds, centring non-square ones", () => {
    const w = { q0: 512, k0: 100, span: 64 };
    expect(windowBounds(w)).toEqual([512, 576, 100, 164]);
    expect(windowFromBounds(windowBounds(w), SEQ)).toEqual(w);
    expect(windowFromBounds([], SEQ)).toEqual(fullWindow(SEQ));
    expect(windowFromBounds(undefined, SEQ)).toEqual(fullWindow(SEQ));
    expect(windowFromBounds([0, 100, 50, 70], SEQ)).toEqual({ q0: 0, k0: 10, span: 100 });
  });

  it("thins axis labels to nice multiples inside the window", () => {
    expect(windowLabels(512, 64, 640, 12)).toEqual(Array.from({ length: 32 }, (_, i) => 512 + 2 * i));
    const coarse = windowLabels(3, 4093, 600, 12);
    expect(coarse[0]).toBe(100);
    expect(coarse.every((v, i) => i === 0 || v - coarse[i - 1] === 100)).toBe(true);
  });
});

/** A causal map with A[i, j] = (j + 1) / (i + 1)² for j ≤ i: distinct weights, easy to check. */
function exactMap(n: number): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) out[i * n + j] = (j + 1) / (i + 1) ** 2;
  return out;
}

function maxPool(src: Float32Array, n: number, bins: number): Float32Array {
  const out = new Float32Array(bins * bins);
  const edge = (i: number) => Math.floor((i * n) / bins);
  for (let r = 0; r < bins; r++)
    for (let c = 0; c < bins; c++) {
      let m = -Infinity;
      for (let i = edge(r); i < edge(r + 1); i++) for (let j = edge(c); j < edge(c + 1); j++) m = Math.max(m, src[i * n + j]);
      out[r * bins + c] = m;
    }
  return out;
}

function slice(src: Float32Array, n: number, q0: number, q1: number, k0: number, k1: number): Float32Array {
  const out = new Float32Array((q1 - q0) * (k1 - k0));
  for (let i = q0; i < q1; i++) out.set(src.subarray(i * n + k0, i * n + k1), (i - q0) * (k1 - k0));
  return out;
}

describe("drawing a window", () => {
  const n = 64;
  const exact = exactMap(n);
  const full: MapPatch = { weights: exact, rows: n, cols: n, q0: 0, q1: n, k0: 0, k1: n };
  const pooled: MapPatch = { weights: maxPool(exact, n, 16), rows: 16, cols: 16, q0: 0, q1: n, k0: 0, k1: n };

  it("gives each pixel a token range covering the window once", () => {
    const r = pixelTokenRanges(10, 7, 3);
    expect([...r]).toEqual([10, 12, 12, 14, 14, 17]);
    const one = pixelTokenRanges(10, 7, 7);
    expect([...one]).toEqual([10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17]);
  });

  it("equals the exact slice when each pixel is one token", () => {
    const w = windowWeights([full], 20, 4, 16, 16);
    expect([...w]).toEqual([...slice(exact, n, 20, 36, 4, 20)]);
  });

  it("max-pools when pixels hold several tokens, like the unzoomed path", () => {
    const w = windowWeights([full], 0, 0, n, 16);
    expect([...w]).toEqual([...pooled.weights]);
    const levels = windowLevels([full], 0, 0, n, 16, "linear", true, 1);
    expect([...levels]).toEqual([...levelsAt(exact, n, 16, "linear", true)]);
  });

  it("enlarges a pooled map bin by bin and masks at token level", () => {
    // Tokens 8..15 in 8 pixels: two pooled bins of 4 tokens per axis.
    const w = windowWeights([pooled], 8, 8, 8, 8);
    expect(w[0]).toBe(pooled.weights[2 * 16 + 2]);
    expect(w[7 * 8 + 4]).toBe(pooled.weights[3 * 16 + 3]);
    const levels = windowLevels([pooled], 8, 8, 8, 8, "linear", true, 1);
    expect(levels[0 * 8 + 1]).toBe(-1); // query 8, key 9: later key, masked though the bin has weight
    expect(levels[1 * 8 + 1]).toBeGreaterThan(0);
  });

  it("draws the detail patch where it covers the window, the overview elsewhere", () => {
    const detail: MapPatch = { weights: slice(exact, n, 16, 32, 0, 16), rows: 16, cols: 16, q0: 16, q1: 32, k0: 0, k1: 16 };
    const w = windowWeights([pooled, detail], 0, 0, 32, 32);
    // Covered by the detail: rows 16..31 × cols 0..15, exact.
    for (let r = 16; r < 32; r++) for (let c = 0; c < 16; c++) expect(w[r * 32 + c]).toBe(exact[r * n + c]);
    // Outside it: the overview's pooled bins.
    expect(w[0]).toBe(pooled.weights[0]);
    expect(w[20 * 32 + 20]).toBe(pooled.weights[5 * 16 + 5]);
  });

  it("reads a pooled detail patch with its own bins", () => {
    // 32 queries × 32 keys sent as 8 × 8.
    const detail: MapPatch = { weights: maxPool(slice(exact, n, 32, 64, 32, 64), 32, 8), rows: 8, cols: 8, q0: 32, q1: 64, k0: 32, k1: 64 };
    const cell = patchCellAt(detail, 40, 33);
    expect(cell).toEqual({ row: 2, col: 0, q0: 40, q1: 44, k0: 32, k1: 36 });
    expect(patchCellAt(detail, 31, 40)).toBeNull();
    expect(patchCellAt(full, 5, 3)).toEqual({ row: 5, col: 3, q0: 5, q1: 6, k0: 3, k1: 4 });
  });

  it("colours relative to the whole map's max, and row scale from the overview's row maxima", () => {
    // Log scale, four decades below the map's max (1 here, at A[0, 0], outside the window).
    const log = windowLevels([full], 32, 0, 8, 8, "log", true, 1);
    const part = slice(exact, n, 32, 40, 0, 8);
    const reference = intensities(part, 8, 8, "log", false);
    let partMax = 0;
    for (const v of part) partMax = Math.max(partMax, v);
    // intensities() scales to the slice's own max; the window keeps the whole map's.
    for (let i = 0; i < 64; i++) expect(log[i]).toBeCloseTo(Math.max(0, reference[i] + Math.log10(partMax) / 4), 5);
    const rowMax = new Float32Array(n);
    for (let i = 0; i < n; i++) rowMax[i] = 1 / (i + 1); // A[i, i]
    const row = windowLevels([full], 32, 0, 8, 8, "row", true, 1, full, rowMax);
    // Query 32, key 0: (1 / 33²) / (1 / 33) = 1 / 33.
    expect(row[0]).toBeCloseTo(1 / 33, 5);
  });
});

describe("token strip scrolling (nearest edge)", () => {
  it("leaves a visible item alone", () => {
    expect(nearestScroll(100, 20, 90, 100)).toBe(90);
  });
  it("brings an item above to the top edge and one below to the bottom edge", () => {
    expect(nearestScroll(40, 20, 90, 100)).toBe(40);
    expect(nearestScroll(300, 20, 90, 100)).toBe(220);
    expect(nearestScroll(185, 20, 90, 100)).toBe(105);
  });
  it("puts an item taller than the view at its top edge", () => {
    expect(nearestScroll(300, 200, 0, 100)).toBe(300);
  });
});
