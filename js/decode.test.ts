import { describe, expect, it } from "vitest";
import {
  asUint8, binOf, binRange, decodeAttentionMap, decodeFloat16, decodeFloat32, decodeThumbnails, expandSqrtUint8,
  halfToFloat, poolEdges, unpackLower,
} from "./decode";

const halves = (...bits: number[]) => new DataView(new Uint16Array(bits).buffer);

describe("float16", () => {
  it("decodes normal, subnormal, zero, infinity and NaN halves", () => {
    const out = decodeFloat16(halves(0x3c00, 0x3800, 0xc000, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7bff, 0x3555));
    expect(out[0]).toBe(1);
    expect(out[1]).toBe(0.5);
    expect(out[2]).toBe(-2);
    expect(out[3]).toBe(2 ** -24);
    expect(Object.is(out[4], -0)).toBe(true);
    expect(out[5]).toBe(Infinity);
    expect(out[6]).toBe(-Infinity);
    expect(out[7]).toBeNaN();
    expect(out[8]).toBe(65504);
    expect(out[9]).toBeCloseTo(1 / 3, 3);
  });

  it("agrees with the scalar decoder on every bit pattern", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const out = decodeFloat16(new DataView(all.buffer));
    for (let i = 0; i < 65536; i++) {
      const expected = halfToFloat(i);
      if (Number.isNaN(expected)) expect(out[i]).toBeNaN();
      else expect(out[i]).toBe(Math.fround(expected));
    }
  });

  it("reads from an odd byte offset", () => {
    const buffer = new Uint8Array(5);
    buffer.set([0x00, 0x3c], 1); // 1.0 at offset 1
    buffer.set([0x00, 0xc0], 3); // -2.0
    expect([...decodeFloat16(new DataView(buffer.buffer, 1, 4))]).toEqual([1, -2]);
  });
});

describe("other encodings", () => {
  it("float32 copies, so any alignment works", () => {
    const src = new Uint8Array(9);
    src.set(new Uint8Array(new Float32Array([1.5, -2]).buffer), 1);
    expect([...decodeFloat32(new DataView(src.buffer, 1, 8))]).toEqual([1.5, -2]);
  });

  it("square-root companded bytes expand to (q/255)²", () => {
    expect([...expandSqrtUint8(new Uint8Array([0, 255, 51]))].map((v) => +v.toFixed(6))).toEqual([0, 1, 0.04]);
  });

  it("asUint8 shares memory with any view", () => {
    const dv = new DataView(new ArrayBuffer(8), 2, 4);
    const u = asUint8(dv);
    expect(u.byteOffset).toBe(2);
    expect(u.length).toBe(4);
  });

  it("unpacks a lower triangle row by row", () => {
    const full = unpackLower(new Float32Array([1, 2, 3, 4, 5, 6]), 3);
    expect([...full]).toEqual([1, 0, 0, 2, 3, 0, 4, 5, 6]);
    expect(() => unpackLower(new Float32Array(5), 3)).toThrow(/6 values/);
  });

  it("decodes a full and a lower attention map", () => {
    const info = { layer: 0, head: 0, dtype: "float16" as const, size: 2, seq_len: 2, pooled: false };
    const lower = decodeAttentionMap(halves(0x3c00, 0x3800, 0x3800), { ...info, layout: "lower" });
    expect([...lower]).toEqual([1, 0, 0.5, 0.5]);
    const full = decodeAttentionMap(halves(0x3800, 0x3800, 0x3c00, 0), { ...info, layout: "full" });
    expect([...full]).toEqual([0.5, 0.5, 1, 0]);
    expect(() => decodeAttentionMap(halves(0x3800), { ...info, layout: "full" })).toThrow(/needs 4/);
  });

  it("splits thumbnails per head", () => {
    const codes = new Uint8Array(2 * 3 * 4).map((_, i) => i);
    const thumbs = decodeThumbnails(codes, 2, 3, 2);
    expect(thumbs.length).toBe(6);
    expect(thumbs[5].length).toBe(4);
    expect(thumbs[5][0]).toBeCloseTo((20 / 255) ** 2);
    expect(() => decodeThumbnails(codes, 2, 3, 3)).toThrow(/54 bytes/);
  });
});

describe("pooling bins (same formula as encode.pool_edges)", () => {
  it("edges are floor(i·n/bins)", () => {
    expect([...poolEdges(10, 4)]).toEqual([0, 2, 5, 7, 10]);
    expect([...poolEdges(5, 5)]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("binOf inverts binRange for every position", () => {
    for (const [n, bins] of [[10, 4], [1024, 64], [1000, 1000], [4097, 1024], [7, 3]]) {
      for (let b = 0; b < bins; b++) {
        const [start, end] = binRange(b, n, bins);
        expect(end).toBeGreaterThan(start);
        for (let i = start; i < end; i++) expect(binOf(i, n, bins)).toBe(b);
      }
    }
  });
});
