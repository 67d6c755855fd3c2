import { describe, expect, it } from "vitest";
import {
  MASKED, divergingLevels, divergingLut, divergingTicks, formatWeight, intensities, legendTicks, lutFromStops,
  lutIndex, maxAbs, packRGBA, packedCss, parseColor, rangeTicks, rowMaxAbs, scaleParams, sequentialLut, tintLut,
  unpackRGBA, weightLevels,
} from "./color";
import type { ColorScale } from "./model";

describe("LUTs", () => {
  it("packs RGBA the way a little-endian ImageData Uint32 view reads it", () => {
    const packed = packRGBA([1, 2, 3], 255);
    const bytes = new Uint8Array(new Uint32Array([packed]).buffer);
    expect([...bytes]).toEqual([1, 2, 3, 255]);
    expect(unpackRGBA(packed)).toEqual([1, 2, 3, 255]);
  });

  it("has 256 opaque entries that run from the first stop to the last", () => {
    const lut = lutFromStops([[0, 0, 0], [255, 255, 255]]);
    expect(lut.length).toBe(256);
    expect(unpackRGBA(lut[0])).toEqual([0, 0, 0, 255]);
    expect(unpackRGBA(lut[255])).toEqual([255, 255, 255, 255]);
    expect(unpackRGBA(lut[128])[0]).toBe(128);
  });

  it("sequential LUT gets lighter from 0 to 1 (viridis)", () => {
    const lum = (p: number) => {
      const [r, g, b] = unpackRGBA(p);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const lut = sequentialLut();
    for (let i = 16; i < 256; i += 16) expect(lum(lut[i])).toBeGreaterThan(lum(lut[i - 16]));
  });

  it("a tint LUT runs from the background to the colour at its largest opacity", () => {
    const lut = tintLut([200, 0, 100], [0, 0, 0], 0.5);
    expect(unpackRGBA(lut[0]).slice(0, 3)).toEqual([0, 0, 0]);
    expect(unpackRGBA(lut[255]).slice(0, 3)).toEqual([100, 0, 50]);
    expect(packedCss(lut[255])).toBe("rgb(100,0,50)");
  });

  it("diverging LUT puts the page background at zero", () => {
    const lut = divergingLut([30, 30, 30]);
    expect(unpackRGBA(lut[lutIndex(0.5)]).slice(0, 3)).toEqual([30, 30, 30]);
    const [r0, , b0] = unpackRGBA(lut[0]);
    const [r1, , b1] = unpackRGBA(lut[255]);
    expect(b0).toBeGreaterThan(r0);
    expect(r1).toBeGreaterThan(b1);
  });
});

describe("intensities", () => {
  const map = new Float32Array([1, 0, 0, 0.5, 0.5, 0, 0.01, 0.09, 0.9]); // causal 3 × 3

  it("linear divides by the map's max and masks keys after the query", () => {
    const v = intensities(map, 3, 3, "linear", true);
    expect([...v]).toEqual([1, MASKED, MASKED, 0.5, 0.5, MASKED, expect.closeTo(0.01, 6), expect.closeTo(0.09, 6), expect.closeTo(0.9, 6)]);
  });

  it("gamma is the square root, so small weights become visible", () => {
    const v = intensities(map, 3, 3, "gamma", true);
    expect(v[6]).toBeCloseTo(0.1, 6);
    expect(v[7]).toBeCloseTo(0.3, 6);
  });

  it("row scales each row to its own max", () => {
    const v = intensities(map, 3, 3, "row", true);
    expect(v[3]).toBeCloseTo(1);
    expect(v[7]).toBeCloseTo(0.1);
    expect(v[8]).toBeCloseTo(1);
  });

  it("log spans 4 decades below the max; zero stays zero", () => {
    const v = intensities(new Float32Array([1, 0.1, 1e-4, 1e-6]), 2, 2, "log", false);
    expect(v[0]).toBeCloseTo(1);
    expect(v[1]).toBeCloseTo(0.75);
    expect(v[2]).toBeCloseTo(0);
    expect(v[3]).toBe(0);
  });

  it("an all-zero map gives zeros, not NaN", () => {
    const v = intensities(new Float32Array(4), 2, 2, "gamma", false);
    expect([...v]).toEqual([0, 0, 0, 0]);
    expect([...intensities(new Float32Array(4), 2, 2, "row", false)]).toEqual([0, 0, 0, 0]);
  });

  it("masks at a pooled resolution by bins (square bins: key bin > query bin)", () => {
    const v = intensities(new Float32Array(16).fill(0.1), 4, 4, "linear", true);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(v[r * 4 + c] === MASKED).toBe(c > r);
  });

  it("one level function: every scale, and 0 for zero, negative and NaN", () => {
    const p = scaleParams(0.5);
    const level = (w: number, scale: ColorScale, rowInv = 0) => {
      const out = new Float32Array(3);
      weightLevels(Float32Array.of(9, w), 1, 2, scale, p, rowInv, out, 1);
      expect([out[0], out[2]]).toEqual([0, 0]); // only [start, end) is read, only `at` on is written
      return out[1];
    };
    expect(level(0.25, "linear")).toBeCloseTo(0.5);
    expect(level(0.125, "gamma")).toBeCloseTo(0.5);
    expect(level(0.25, "row", 2)).toBeCloseTo(0.5);
    expect(level(0.005, "log")).toBeCloseTo(0.5);
    expect(level(1e-9, "log")).toBe(0);
    expect(level(2, "linear")).toBe(1);
    for (const w of [0, -1, Number.NaN]) for (const scale of ["linear", "gamma", "row", "log"] as const) expect(level(w, scale, 1)).toBe(0);
  });
});

describe("divergingLevels", () => {
  it("per row: zero → 0.5, each row's largest |value| → 0 or 1", () => {
    const v = divergingLevels(new Float32Array([-2, 0, 1, 4, -1, 0]), 2, 3);
    expect([...v]).toEqual([0, 0.5, 0.75, 1, 0.375, 0.5]);
  });

  it("one symmetric range over the grid, masked above a causal diagonal", () => {
    const d = new Float32Array([0, 0, -0.25, 0.25]);
    expect(maxAbs(d)).toBe(0.25);
    expect([...divergingLevels(d, 2, 2, { range: 0.25, causal: true })]).toEqual([0.5, MASKED, 0, 1]);
    expect([...divergingLevels(d, 2, 2, { range: 0.5 })]).toEqual([0.5, 0.5, 0.25, 0.75]);
    expect([...divergingLevels(new Float32Array(4), 2, 2, { range: 0 })]).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it("each row's largest |value|, with or without the first column", () => {
    const v = new Float32Array([100, 1, -2, -50, 0.5, 0.25]);
    expect([...rowMaxAbs(v, 2, 3)]).toEqual([100, 50]);
    expect([...rowMaxAbs(v, 2, 3, true)]).toEqual([2, 0.5]);
  });

  it("can leave the first column out of each row's scale, saturating it", () => {
    const v = divergingLevels(new Float32Array([100, 1, -2, -50, 0.5, 0.25]), 2, 3, { skipFirstColumn: true });
    expect(v[0]).toBe(1);
    expect(v[1]).toBeCloseTo(0.75);
    expect(v[2]).toBeCloseTo(0);
    expect(v[3]).toBe(0);
    expect(v[4]).toBeCloseTo(1);
    expect(v[5]).toBeCloseTo(0.75);
  });
});

describe("legend and labels", () => {
  it("formats weights with 3 significant digits", () => {
    expect(formatWeight(0)).toBe("0");
    expect(formatWeight(0.12345)).toBe("0.123");
    expect(formatWeight(0.5)).toBe("0.5");
    expect(formatWeight(1)).toBe("1");
    expect(formatWeight(0.00001234)).toBe("1.23e−5");
  });

  it("places gamma ticks at the square root of their fraction", () => {
    const ticks = legendTicks("gamma", 1);
    expect(ticks.find((t) => t.label === "0.01")?.at).toBeCloseTo(0.1);
    expect(ticks.at(-1)).toEqual({ at: 1, label: "1" });
  });

  it("log ticks are decades ending at the max", () => {
    const ticks = legendTicks("log", 0.5);
    expect(ticks.map((t) => t.at)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(ticks.at(-1)?.label).toBe("0.5");
    expect(ticks[0].label).toBe("5.00e−5");
  });

  it("range and diverging ticks: both ends and the middle", () => {
    expect(rangeTicks(0.5, 2).map((t) => t.label)).toEqual(["0.5", "1.25", "2"]);
    expect(rangeTicks(1.2204, 1.2212).map((t) => t.label)).toEqual(["1.2204", "1.2208", "1.2212"]);
    expect(rangeTicks(0.3, 0.3).map((t) => t.label)).toEqual(["0.3", "0.3", "0.3"]);
    expect(divergingTicks(0.25, "A", "B").map((t) => [t.at, t.label])).toEqual([[0, "−0.25 A"], [0.5, "0"], [1, "+0.25 B"]]);
  });

  it("parses rgb() and hex colours", () => {
    expect(parseColor("rgb(1, 2, 3)", [0, 0, 0])).toEqual([1, 2, 3]);
    expect(parseColor("rgba(10,20,30,0.5)", [0, 0, 0])).toEqual([10, 20, 30]);
    expect(parseColor("#abc", [0, 0, 0])).toEqual([170, 187, 204]);
    expect(parseColor("#0a0B0c", [0, 0, 0])).toEqual([10, 11, 12]);
    expect(parseColor("white", [9, 9, 9])).toEqual([9, 9, 9]);
  });
});
