import { describe, expect, it } from "vitest";
import { comparablePairs, decodePatch, differenceMap, fractionBar, headStat, metricScores, orderedPairs, patchIsFor } from "./logic";
import type { CompareInfo, EncodedPatch, PatchInfo } from "./model";

const stat = (name: string) => ({ name, title: name, label: name });
const info = (over: Partial<CompareInfo> = {}): CompareInfo => ({
  model_name: "m", num_layers: 2, num_heads: 3, num_kv_heads: 3, is_causal: true,
  prompts: ["a", "b"], labels: ["A", "B"], seq_lens: [4, 4], thumbnail_sizes: [4, 4],
  metrics: ["js", "tv", "stats"], metric_labels: ["", "", ""],
  stats: ["peak", "normalized_entropy", "first_token", "previous_token"].map(stat), ranking_size: 10, ...over,
});

describe("metricScores and headStat", () => {
  it("pick one metric's block and one statistic", () => {
    const all = Float32Array.from({ length: 18 }, (_, i) => i);
    expect([...metricScores(all, info(), "tv")]).toEqual([6, 7, 8, 9, 10, 11]);
    expect([...metricScores(all.subarray(0, 6), info({ metrics: ["stats"] }), "stats")]).toEqual([0, 1, 2, 3, 4, 5]);
    // [prompts 2, stats 4, layers 2, heads 3]: prompt 1, stat 2, layer 1, head 2 → ((1·4 + 2)·2 + 1)·3 + 2.
    const stats = Float32Array.from({ length: 48 }, (_, i) => i);
    expect(headStat(stats, info(), 1, 2, 1, 2)).toBe(41);
  });
});

describe("differenceMap", () => {
  it("subtracts a from b", () => {
    const a = Float32Array.from([1, 0, 0.5, 0.5]);
    const b = Float32Array.from([1, 0, 0.25, 0.75]);
    expect([...differenceMap(a, b)]).toEqual([0, 0, -0.25, 0.25]);
  });
  it("refuses maps of different sizes", () => {
    expect(() => differenceMap(new Float32Array(4), new Float32Array(9))).toThrow(/differ in size/);
  });
});

describe("comparablePairs", () => {
  it("lists the pairs of equal length", () => {
    expect(comparablePairs([5, 3, 5, 3])).toEqual([[0, 2], [1, 3]]);
    expect(comparablePairs([1, 2])).toEqual([]);
  });
});

describe("patch A → B", () => {
  const patchInfo = (over: Partial<PatchInfo> = {}): PatchInfo => ({
    pair: [0, 1], layer: 1, head: 2, positions: "all", source_position: 3, target_position: 3,
    source_top: " Paris", target_top: " Rome", source_top_id: 10, target_top_id: 20, same_top: false,
    ids: [10, 20, 30], before: [1, 2, 0], after: [0, 1, 2], k: 3, unavailable: null, ...over,
  });
  const encoded = (info: PatchInfo, values: number[]): EncodedPatch => ({
    info, tokens: info.ids.map((id) => `t${id}`), data: new DataView(Float32Array.from(values).buffer),
  });

  it("lists every ordered pair", () => {
    expect(orderedPairs(2)).toEqual([[0, 1], [1, 0]]);
    expect(orderedPairs(3)).toHaveLength(6);
  });

  it("decodes the summary and the rows", () => {
    // fraction, LD in A, B, patched, delta; then rows (A, B, patched)
    const values = [0.25, 2, -2, -1, -0.5, -1, -3, -2, -3, -1, -1.5, -4, -2, -2.5];
    const n = decodePatch(encoded(patchInfo(), values));
    expect(n).not.toBeNull();
    expect(n!.fraction).toBe(0.25);
    expect(n!.ld).toEqual({ source: 2, target: -2, patched: -1 });
    expect(n!.delta).toBe(-0.5);
    expect(n!.sourceTop).toMatchObject({ id: 10, token: "t10", source: -1, target: -3, patched: -2 });
    expect(n!.targetTop).toMatchObject({ id: 20, source: -3, target: -1, patched: -1.5 });
    expect(n!.before.map((r) => r.id)).toEqual([20, 30, 10]);
    expect(n!.after.map((r) => r.id)).toEqual([10, 20, 30]);
    // Same tops: the fraction is NaN (undefined) and A's top is B's.
    const same = decodePatch(encoded(patchInfo({ same_top: true, target_top_id: 10, ids: [10, 30], before: [0, 1], after: [1, 0] }),
      [NaN, NaN, NaN, NaN, 0.1, -1, -2, -1.9, -3, -2.5, -1.5]));
    expect(Number.isNaN(same!.fraction)).toBe(true);
    expect(same!.targetTop).toBe(same!.sourceTop);
  });

  it("holds nothing when off, unavailable or the wrong size", () => {
    expect(decodePatch({})).toBeNull();
    expect(decodePatch(encoded(patchInfo({ unavailable: "an encoder", ids: [] }), []))).toBeNull();
    expect(decodePatch(encoded(patchInfo(), [0.25, 1, 2]))).toBeNull();
  });

  it("knows which head and pair it is for", () => {
    expect(patchIsFor(patchInfo(), [0, 1], 1, 2)).toBe(true);
    expect(patchIsFor(patchInfo(), [1, 0], 1, 2)).toBe(false);
    expect(patchIsFor(patchInfo(), [0, 1], 1, 3)).toBe(false);
    expect(patchIsFor(undefined, [0, 1], 1, 2)).toBe(false);
  });

  it("puts the fraction on a 0..1 bar, saying when it leaves it", () => {
    expect(fractionBar(0.4)).toEqual({ fill: 0.4, beyond: null });
    expect(fractionBar(-0.2)).toEqual({ fill: 0, beyond: "below" });
    expect(fractionBar(1.3)).toEqual({ fill: 1, beyond: "above" });
    expect(fractionBar(NaN)).toEqual({ fill: 0, beyond: null });
  });
});
