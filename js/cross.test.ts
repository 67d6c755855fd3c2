import { describe, expect, it } from "vitest";
import {
  crossColumn, crossRow, describeCrossCell, fitRect, kindForKey, rectAspect, rectLevels, rectWindowLevels,
  tintAlphas,
} from "./cross";
import { decodeAttentionMap, decodeThumbnails, mapShape } from "./decode";
import type { AttentionMapInfo } from "./model";

// 3 decoder tokens × 4 source tokens, each row a distribution.
const map = Float32Array.from([0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25]);

describe("cross hover", () => {
  it("a decoder token highlights the source tokens by its row", () => {
    expect(Array.from(crossRow({ weights: map, rows: 3, cols: 4, seqLen: 3, keyLen: 4 }, 0))).toEqual(Array.from(map.subarray(0, 4)));
  });
  it("a source token highlights the decoder tokens by its column", () => {
    expect(Array.from(crossColumn({ weights: map, rows: 3, cols: 4, seqLen: 3, keyLen: 4 }, 0))).toEqual([
      Math.fround(0.1), 1, 0.25,
    ]);
  });
  it("reads a pooled map's bins and ignores tokens out of range", () => {
    // 6 source tokens pooled to 3 columns: tokens 0-1, 2-3, 4-5.
    const pooled = { weights: Float32Array.from([0.5, 0.3, 0.2]), rows: 1, cols: 3, seqLen: 1, keyLen: 6 };
    expect(Array.from(crossRow(pooled, 0))).toEqual([0.5, 0.5, 0.3, 0.3, 0.2, 0.2].map(Math.fround));
    expect(Array.from(crossRow(pooled, 5))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(crossColumn(pooled, -1))).toEqual([0]);
  });
  it("tints by the square root of the weight over the largest", () => {
    const a = tintAlphas(Float32Array.from([0, 0.25, 1]), 0.8);
    expect(a[0]).toBe(0);
    expect(a[1]).toBeCloseTo(0.4);
    expect(a[2]).toBeCloseTo(0.8);
    expect(Array.from(tintAlphas(new Float32Array(2), 0.8))).toEqual([0, 0]);
  });
  it("names both tokens and the exact weight", () => {
    expect(describeCrossCell(2, "chat", 3, "cat", 0.12344, true)).toEqual([
      "decoder token #2 “chat”", "reads source token #3 “cat”", "weight 0.1234",
    ]);
    // Weights far below 0.0001 (a log-scale map shows them) keep their digits.
    expect(describeCrossCell(0, "a", 1, "b", 0.0000123456, true)[2]).toBe("weight 0.00001235");
    expect(describeCrossCell(0, "a", 1, "b", 0.5, false)[2]).toBe("max 0.5 (max-pooled)");
  });
});

describe("kind switch keys", () => {
  const kinds = ["encoder", "decoder", "cross"];
  it("moves with the arrows, wrapping, and jumps with Home / End", () => {
    expect(kindForKey(kinds, "cross", "ArrowRight")).toBe("encoder");
    expect(kindForKey(kinds, "encoder", "ArrowLeft")).toBe("cross");
    expect(kindForKey(kinds, "decoder", "ArrowDown")).toBe("cross");
    expect(kindForKey(kinds, "decoder", "Home")).toBe("encoder");
    expect(kindForKey(kinds, "encoder", "End")).toBe("cross");
    expect(kindForKey(kinds, "encoder", "a")).toBeNull();
    expect(kindForKey([], "", "ArrowRight")).toBeNull();
  });
});

describe("rectangular maps", () => {
  it("decodes a rows × cols map and its shape", () => {
    const info = { layer: 0, head: 0, dtype: "float16", size: 2, rows: 2, cols: 3, seq_len: 2, key_len: 3, layout: "full", pooled: false } as AttentionMapInfo;
    const bytes = new Uint16Array([0x3c00, 0, 0x3800, 0, 0x3c00, 0]);
    expect(mapShape(info)).toEqual({ rows: 2, cols: 3 });
    expect(Array.from(decodeAttentionMap(new DataView(bytes.buffer), info))).toEqual([1, 0, 0.5, 0, 1, 0]);
    expect(() => decodeAttentionMap(new DataView(bytes.buffer, 0, 8), info)).toThrow(/2 × 3/);
    const square = { ...info, rows: undefined, cols: undefined, size: 3 } as AttentionMapInfo;
    expect(mapShape(square)).toEqual({ rows: 3, cols: 3 });
  });
  it("decodes rectangular thumbnails [layers, heads, rows, cols]", () => {
    const codes = new Uint8Array(2 * 1 * 2 * 3).fill(255);
    const thumbs = decodeThumbnails(codes, 2, 1, 2, 3);
    expect(thumbs).toHaveLength(2);
    expect(thumbs[1]).toHaveLength(6);
    expect(() => decodeThumbnails(codes, 2, 1, 3, 3)).toThrow();
  });
  it("draws levels at any pixel size, max-pooling a shrinking side", () => {
    const levels = rectLevels(map, 3, 4, 6, 2, "linear");
    expect(levels).toHaveLength(12);
    // Pixel rows 0-1 are decoder token 0 (max 0.2 over keys 0-1, 0.4 over keys 2-3), rows 2-3 token 1.
    expect(levels[0]).toBeCloseTo(0.2);
    expect(levels[1]).toBeCloseTo(0.4);
    expect(levels[2]).toBeCloseTo(0.2);
    expect(levels[4]).toBeCloseTo(1);
    expect(levels[5]).toBe(0);
  });
  it("draws a window of source tokens in the whole map's colours", () => {
    const m = { weights: map, rows: 3, cols: 4, seqLen: 3, keyLen: 4 };
    const whole = rectWindowLevels(m, 0, 4, 3, 4, "linear");
    expect(Array.from(whole)).toEqual(Array.from(rectLevels(map, 3, 4, 3, 4, "linear")));
    // Source tokens 1-2, one pixel each: the same levels as in the whole map (zoom never recolours).
    const window = rectWindowLevels(m, 1, 2, 3, 2, "linear");
    expect(Array.from(window)).toEqual([whole[1], whole[2], whole[5], whole[6], whole[9], whole[10]]);
    // Grown to 4 pixels across: each token's cell twice.
    expect(Array.from(rectWindowLevels(m, 1, 2, 3, 4, "linear")).slice(0, 4)).toEqual([whole[1], whole[1], whole[2], whole[2]]);
    // A map sent max-pooled (8 source tokens in 4 bins): tokens 2-3 share bin 1.
    const pooled = { weights: map, rows: 3, cols: 4, seqLen: 3, keyLen: 8 };
    expect(Array.from(rectWindowLevels(pooled, 2, 2, 3, 2, "linear")).slice(0, 2)).toEqual([whole[1], whole[1]]);
  });
  it("fits a thumbnail into its tile, aspect kept", () => {
    expect(fitRect(6, 10, 20)).toEqual({ x: 0, y: 4, w: 20, h: 12 });
    expect(fitRect(10, 5, 20)).toEqual({ x: 5, y: 0, w: 10, h: 20 });
    expect(fitRect(4, 4, 9)).toEqual({ x: 0, y: 0, w: 9, h: 9 });
    // A long source (15 decoder × 382 source tokens) is drawn 4:1, not as a hairline.
    expect(fitRect(15, 382, 20)).toEqual({ x: 0, y: 7, w: 20, h: 5 });
    expect(fitRect(382, 15, 20)).toEqual({ x: 7, y: 0, w: 5, h: 20 });
  });
  it("keeps the heatmap between square and 4:1", () => {
    expect(rectAspect(6, 10)).toBeCloseTo(10 / 6);
    expect(rectAspect(30, 10)).toBe(1);
    expect(rectAspect(2, 100)).toBe(4);
  });
});
