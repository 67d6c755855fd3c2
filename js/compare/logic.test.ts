import { describe, expect, it } from "vitest";
import { comparablePairs, differenceMap, divergingLevels, headStat, maxAbs, metricScores, rankHeads } from "./logic";
import type { CompareInfo } from "./model";

const info = (over: Partial<CompareInfo> = {}): CompareInfo => ({
  model_name: "m", num_layers: 2, num_heads: 3, num_kv_heads: 3, is_causal: true,
  prompts: ["a", "b"], labels: ["A", "B"], seq_lens: [4, 4], thumbnail_sizes: [4, 4],
  metrics: ["js", "tv", "stats"], metric_labels: ["", "", ""], stat_names: ["peak", "entropy", "first", "previous"],
  stat_labels: [], ranking_size: 10, ...over,
});

describe("rankHeads", () => {
  it("sorts largest first, ties by layer then head, and keeps k", () => {
    const scores = Float32Array.from([0.1, 0.5, 0.2, 0.5, 0.0, 0.3]);
    expect(rankHeads(scores, 2, 3, 4)).toEqual([
      { layer: 0, head: 1, score: 0.5 },
      { layer: 1, head: 0, score: 0.5 },
      { layer: 1, head: 2, score: expect.closeTo(0.3, 6) },
      { layer: 0, head: 2, score: expect.closeTo(0.2, 6) },
    ]);
    expect(rankHeads(scores, 2, 3, 100)).toHaveLength(6);
    expect(rankHeads(scores, 2, 3, 0)).toEqual([]);
  });
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

describe("differenceMap, maxAbs, divergingLevels", () => {
  it("subtracts a from b and scales symmetrically around 0.5", () => {
    const a = Float32Array.from([1, 0, 0.5, 0.5]);
    const b = Float32Array.from([1, 0, 0.25, 0.75]);
    const d = differenceMap(a, b);
    expect([...d]).toEqual([0, 0, -0.25, 0.25]);
    expect(maxAbs(d)).toBe(0.25);
    const levels = divergingLevels(d, 2, 0.25, true);
    expect([...levels]).toEqual([0.5, -1, 0, 1]);
    expect([...divergingLevels(d, 2, 0.5, false)]).toEqual([0.5, 0.5, 0.25, 0.75]);
    expect([...divergingLevels(new Float32Array(4), 2, 0, false)]).toEqual([0.5, 0.5, 0.5, 0.5]);
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
