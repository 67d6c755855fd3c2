import { describe, expect, it } from "vitest";
import { rankHeads } from "./ranking";

describe("rankHeads (the mirror of top_heads)", () => {
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

  it("ranks the compare widget's distances as Python's ranking does: largest first, ties by (layer, head)", () => {
    const distances = Float32Array.from([0.1, 0.5, 0.2, 0.5, 0.0, 0.3]);
    expect(rankHeads(distances, 3, false, 4).map((e) => [e.layer, e.head])).toEqual([[0, 1], [1, 0], [1, 2], [0, 2]]);
  });
});
