import { describe, expect, it } from "vitest";
import { MASKED, lutFromStops } from "./color";
import { colorize, levelsAt, resampleMax, resampleMaxAbs } from "./raster";

describe("resampleMax", () => {
  it("keeps a one-cell diagonal when shrinking 8 → 3", () => {
    const n = 8;
    const eye = new Float32Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    const out = resampleMax(eye, n, n, 3, 3);
    for (let i = 0; i < 3; i++) expect(out[i * 3 + i]).toBe(1);
  });

  it("keeps a previous-token stripe at 1024 → 64", () => {
    const n = 1024;
    const m = new Float32Array(n * n);
    for (let i = 1; i < n; i++) m[i * n + i - 1] = 0.9;
    const out = resampleMax(m, n, n, 64, 64);
    for (let i = 1; i < 64; i++) expect(out[i * 64 + i]).toBeCloseTo(0.9);
  });

  it("enlarges by repeating cells", () => {
    const out = resampleMax(new Float32Array([1, 2, 3, 4]), 2, 2, 4, 4);
    expect([...out]).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it("lets a real value win over MASKED", () => {
    expect([...resampleMax(new Float32Array([MASKED, 0, MASKED, MASKED]), 2, 2, 1, 1)]).toEqual([0]);
  });

  it("is the identity at the same size", () => {
    const src = new Float32Array([1, 2, 3]);
    expect(resampleMax(src, 1, 3, 1, 3)).toBe(src);
  });
});

describe("resampleMaxAbs", () => {
  it("keeps the signed value of largest magnitude", () => {
    expect([...resampleMaxAbs(new Float32Array([1, -5, 2, 4]), 1, 4, 1, 2)]).toEqual([-5, 4]);
  });
});

describe("levelsAt", () => {
  it("pools then scales when shrinking, and masks above the diagonal", () => {
    const n = 4;
    const m = new Float32Array(n * n);
    for (let r = 0; r < n; r++) for (let c = 0; c <= r; c++) m[r * n + c] = 1 / (r + 1);
    const out = levelsAt(m, n, 2, "linear", true);
    expect(out[1]).toBe(MASKED);
    expect(out[0]).toBeCloseTo(1);
  });

  it("scales then enlarges, so a causal diagonal cell stays whole", () => {
    const out = levelsAt(new Float32Array([1, 0, 0.5, 0.5]), 2, 4, "linear", true);
    // the source cell (0, 0) covers output rows 0-1, columns 0-1: none of it masked
    expect([out[0], out[1], out[4], out[5]]).toEqual([1, 1, 1, 1]);
    expect(out[2]).toBe(MASKED);
  });
});

describe("colorize", () => {
  it("looks up the LUT and paints masked cells", () => {
    const lut = lutFromStops([[0, 0, 0], [255, 255, 255]]);
    const out = colorize(new Float32Array([0, 1, MASKED, 0.5]), lut, 7);
    expect(out[0]).toBe(lut[0]);
    expect(out[1]).toBe(lut[255]);
    expect(out[2]).toBe(7);
    expect(out[3]).toBe(lut[128]);
  });
});
