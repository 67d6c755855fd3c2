import { describe, expect, it } from "vitest";
import { comparablePairs, differenceMap, headStat, metricScores } from "./logic";
import type { CompareInfo } from "./model";

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
