import { describe, expect, it } from "vitest";
import { MASKED } from "../color";
import { fullWindow } from "../layout";
import type { Model } from "../model";
import { HeatmapLevels, cellAtTokens, covers, describeCell, detailPatch, maxOf, overviewPatch, shownMap } from "./heatmapData";

/** float16 bytes of zeros and powers of two (exponent bits only). */
const half = (values: number[]) =>
  new DataView(Uint16Array.from(values, (v) => (v === 0 ? 0 : (Math.log2(v) + 15) << 10)).buffer);

/** A 4-token causal model, 1 layer × 2 heads, with head 1's map sent (lower triangle, powers of two). */
function model(overrides: Record<string, unknown> = {}): Model {
  const traits: Record<string, unknown> = {
    _info: { num_layers: 1, num_heads: 2, seq_len: 4, thumbnail_size: 2, is_causal: true },
    _thumbnails: new DataView(new Uint8Array([255, 0, 128, 128, 255, 0, 0, 255]).buffer),
    _attention_map: {
      info: { layer: 0, head: 1, dtype: "float16", size: 4, seq_len: 4, layout: "lower", pooled: false },
      data: half([1, 0.5, 0.5, 0.25, 0.25, 0.5, 0.125, 0.125, 0.25, 0.5]),
    },
    _map_window: {},
    ...overrides,
  };
  return { get: (k: string) => traits[k] } as unknown as Model;
}

describe("shownMap", () => {
  it("is the sent map for its head, else the head's thumbnail (a preview)", () => {
    const full = shownMap(model(), { layer: 0, head: 1 });
    expect([full?.kind, full?.size]).toEqual(["full", 4]);
    expect(Array.from(full?.weights.subarray(4, 8) ?? [])).toEqual([0.5, 0.5, 0, 0]);
    const preview = shownMap(model(), { layer: 0, head: 0 });
    expect([preview?.kind, preview?.size]).toEqual(["preview", 2]);
    expect(maxOf(preview?.weights ?? new Float32Array())).toBe(1);
  });
});

describe("cells and their tooltips", () => {
  const s = shownMap(model(), { layer: 0, head: 1 });
  if (!s) throw new Error("no map");
  const texts = ["a", "b", "c", "d"];

  it("gives the exact weight of a token pair of a full map", () => {
    const cell = cellAtTokens(s, null, 4, 3, 1);
    expect(cell).toMatchObject({ weight: 0.125, source: "full", q0: 3, q1: 4, k0: 1, k1: 2 });
    expect(describeCell(texts, true, cell, 3, 1, false)).toEqual(["query #3 “d”", "key #1 “b”", "weight 0.1250"]);
    expect(describeCell(texts, true, cellAtTokens(s, null, 4, 1, 2), 1, 2, false).at(-1)).toMatch(/^masked/);
  });

  it("says a thumbnail cell is a maximum over the tokens it covers", () => {
    const preview = shownMap(model(), { layer: 0, head: 0 });
    if (!preview) throw new Error("no thumbnail");
    const cell = cellAtTokens(preview, null, 4, 3, 0);
    expect(cell).toMatchObject({ source: "preview", q0: 2, q1: 4, k0: 0, k1: 2 });
    const lines = describeCell(texts, true, cell, 3, 0, true);
    expect(lines[2]).toMatch(/^max .* over queries 2–3 × keys 0–1$/);
    expect(lines[3]).toBe("(thumbnail; zoom in for exact weights)");
  });

  it("uses the window Python sent for a max-pooled head when it covers the pair", () => {
    const pooled = { ...s, kind: "pooled" as const };
    const window = {
      info: { layer: 0, head: 1, dtype: "float16", layout: "full", q0: 2, q1: 4, k0: 0, k1: 2, rows: 2, cols: 2, seq_len: 4, pooled: false },
      data: half([0.25, 0.5, 0.125, 0.125]),
    };
    const detail = detailPatch(model({ _map_window: window }), pooled);
    expect(detail).toMatchObject({ q0: 2, q1: 4, rows: 2 });
    expect(covers(detail, { q0: 2, k0: 0, span: 2 })).toBe(true);
    expect(covers(detail, fullWindow(4))).toBe(false);
    expect(cellAtTokens(pooled, detail, 4, 3, 1)).toMatchObject({ weight: 0.125, source: "window" });
    // Another head's window is not used.
    expect(detailPatch(model({ _map_window: { ...window, info: { ...window.info, head: 0 } } }), pooled)).toBeNull();
    expect(detailPatch(model({ _map_window: window }), s)).toBeNull();
  });
});

describe("HeatmapLevels", () => {
  it("colours the whole map through the one level function, masks later keys, and reuses the last result", () => {
    const s = shownMap(model(), { layer: 0, head: 1 });
    if (!s) throw new Error("no map");
    const levels = new HeatmapLevels(4, true);
    const first = levels.levels(s, null, fullWindow(4), "linear", 4);
    expect(Array.from(first.subarray(0, 4))).toEqual([1, MASKED, MASKED, MASKED]);
    expect(first[12 + 3]).toBeCloseTo(0.5);
    expect(levels.levels(s, null, fullWindow(4), "linear", 4)).toBe(first);
    expect(levels.levels(s, null, fullWindow(4), "gamma", 4)).not.toBe(first);
    // A zoomed window of the map: the lower-right 2 × 2 tokens.
    const zoomed = levels.levels(s, null, { q0: 2, k0: 2, span: 2 }, "linear", 2);
    expect(Array.from(zoomed)).toEqual([0.5, MASKED, 0.25, 0.5]);
    expect(overviewPatch(s, 4)).toMatchObject({ rows: 4, cols: 4, q1: 4, k1: 4 });
  });
});

describe("value-weighted maps (weighting)", () => {
  const vw = (info: Record<string, unknown>) =>
    model({
      _attention_map: {
        info: { layer: 0, head: 1, dtype: "float16", size: 4, seq_len: 4, layout: "lower", pooled: false, ...info },
        data: half([2, 1, 4, 0.5, 0.25, 8, 0.125, 0.125, 0.25, 0.5]),
      },
    });

  it("says what the sent map holds: attention unless its info says value_weighted; a thumbnail is attention", () => {
    expect(shownMap(model(), { layer: 0, head: 1 })?.weighting).toBe("attention");
    const s = shownMap(vw({ weighting: "value_weighted" }), { layer: 0, head: 1 });
    expect(s?.weighting).toBe("value_weighted");
    expect(maxOf(s?.weights ?? new Float32Array())).toBe(8); // not a probability
    expect(shownMap(vw({ weighting: "value_weighted" }), { layer: 0, head: 0 })?.weighting).toBe("attention");
  });

  it("names the value α·‖W_O v‖ in the tooltip, not a weight", () => {
    const s = shownMap(vw({ weighting: "value_weighted" }), { layer: 0, head: 1 });
    if (!s) throw new Error("no map");
    const lines = describeCell(["a", "b", "c", "d"], true, cellAtTokens(s, null, 4, 2, 2), 2, 2, false, s.weighting);
    expect(lines.at(-1)).toBe("α·‖W_O v‖ 8.000");
  });

  it("uses a detail window only when it holds the same weighting as the map", () => {
    const window = (weighting?: string) => ({
      info: { layer: 0, head: 1, dtype: "float16", layout: "full", q0: 0, q1: 2, k0: 0, k1: 2, rows: 2, cols: 2, seq_len: 4, pooled: false, weighting },
      data: half([1, 0, 0.5, 0.5]),
    });
    const m = vw({ weighting: "value_weighted", pooled: true });
    const s = shownMap(m, { layer: 0, head: 1 });
    if (!s) throw new Error("no map");
    const withWindow = (w: unknown) => model({ _attention_map: (m.get("_attention_map") as unknown), _map_window: w });
    expect(detailPatch(withWindow(window("value_weighted")), s)).not.toBeNull();
    expect(detailPatch(withWindow(window("attention")), s)).toBeNull();
    expect(detailPatch(withWindow(window()), s)).toBeNull();
  });
});
