import { describe, expect, it } from "vitest";
import { MASKED } from "./color";
import { chosenScore, headRanks, rankHeads, scoreIntensity, scoreRange } from "./scores";
import type { Model } from "./model";

describe("rankHeads", () => {
  const values = new Float32Array([0.1, 0.9, Number.NaN, 0.5, 0.9, 0]); // 2 layers × 3 heads

  it("ranks highest first, ties by (layer, head), NaN last", () => {
    expect(rankHeads(values, 3, false).map((e) => [e.layer, e.head])).toEqual([
      [0, 1], [1, 1], [1, 0], [0, 0], [1, 2], [0, 2],
    ]);
    expect(rankHeads(values, 3, false, 2)[0].value).toBeCloseTo(0.9);
  });

  it("ranks lowest first when ascending (entropy), NaN still last", () => {
    expect(rankHeads(values, 3, true).map((e) => [e.layer, e.head])).toEqual([
      [1, 2], [0, 0], [1, 0], [0, 1], [1, 1], [0, 2],
    ]);
  });

  it("limits to k and handles k ≤ 0", () => {
    expect(rankHeads(values, 3, false, 3)).toHaveLength(3);
    expect(rankHeads(values, 3, false, 0)).toEqual([]);
    expect(rankHeads(values, 3, false, -1)).toEqual([]);
  });

  it("gives every head its rank", () => {
    expect(Array.from(headRanks(values, 3, false))).toEqual([3, 0, 5, 2, 1, 4]);
  });
});

describe("score colours", () => {
  it("uses 0..1 for fractions and min..max for entropy, ignoring NaN", () => {
    expect(scoreRange("induction", [0.2, 0.3])).toEqual([0, 1]);
    expect(scoreRange("entropy", [2, Number.NaN, 0.5, 1])).toEqual([0.5, 2]);
    expect(scoreRange("entropy", [Number.NaN])).toEqual([0, 1]);
  });

  it("maps values into [0, 1], bright for the top of the ranking, MASKED for NaN", () => {
    expect(scoreIntensity(0.25, [0, 1], false)).toBe(0.25);
    expect(scoreIntensity(1.5, [0, 1], false)).toBe(1);
    expect(scoreIntensity(0.5, [0.5, 2], true)).toBe(1); // lowest entropy: brightest
    expect(scoreIntensity(2, [0.5, 2], true)).toBe(0);
    expect(scoreIntensity(1, [1, 1], false)).toBe(0.5);
    expect(scoreIntensity(Number.NaN, [0, 1], false)).toBe(MASKED);
  });
});

describe("chosenScore", () => {
  const values = new Float32Array([0, 1, 2, 3, 10, 11, 12, 13]); // 2 scores × 2 layers × 2 heads
  const traits: Record<string, unknown> = {
    head_score: "entropy",
    _info: { num_layers: 2, num_heads: 2, score_names: ["bos", "entropy"], score_labels: ["b", "e"], score_ascending: [false, true] },
    _head_scores: new DataView(values.buffer),
  };
  const model = { get: (k: string) => traits[k] } as unknown as Model;

  it("reads the chosen score's block of _head_scores", () => {
    const chosen = chosenScore(model);
    expect(chosen?.ascending).toBe(true);
    expect(chosen?.label).toBe("e");
    expect(Array.from(chosen?.values ?? [])).toEqual([10, 11, 12, 13]);
    expect(chosen?.range).toEqual([10, 13]);
    expect(Array.from(chosenScore(model, "bos")?.values ?? [])).toEqual([0, 1, 2, 3]);
  });

  it("is null for none or an unknown name", () => {
    expect(chosenScore(model, "none")).toBeNull();
    expect(chosenScore(model, "nope")).toBeNull();
  });
});
