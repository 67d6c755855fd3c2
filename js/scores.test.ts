import { describe, expect, it } from "vitest";
import { MASKED } from "./color";
import type { Model } from "./model";
import { chosenScore, scoreIntensity, scoreRange } from "./scores";

describe("score colours", () => {
  it("uses 0..1 for scores in the unit interval and min..max otherwise, ignoring NaN", () => {
    expect(scoreRange(true, [0.2, 0.3])).toEqual([0, 1]);
    expect(scoreRange(false, [2, Number.NaN, 0.5, 1])).toEqual([0.5, 2]);
    expect(scoreRange(false, [Number.NaN])).toEqual([0, 1]);
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
  const score = (name: string, ascending: boolean, unit: boolean) => ({
    name, title: name.toUpperCase(), label: `${name} label`, ascending, unit_interval: unit,
  });
  const traits: Record<string, unknown> = {
    head_score: "entropy",
    _info: { num_layers: 2, num_heads: 2, scores: [score("first_token", false, true), score("entropy", true, false)] },
    _head_scores: new DataView(values.buffer),
  };
  const model = { get: (k: string) => traits[k] } as unknown as Model;

  it("reads the chosen score's block of _head_scores, with the labels Python sent", () => {
    const chosen = chosenScore(model);
    expect(chosen?.ascending).toBe(true);
    expect([chosen?.title, chosen?.label]).toEqual(["ENTROPY", "entropy label"]);
    expect(Array.from(chosen?.values ?? [])).toEqual([10, 11, 12, 13]);
    expect(chosen?.range).toEqual([10, 13]);
    const first = chosenScore(model, "first_token");
    expect(Array.from(first?.values ?? [])).toEqual([0, 1, 2, 3]);
    expect(first?.range).toEqual([0, 1]);
  });

  it("is null for none or an unknown name", () => {
    expect(chosenScore(model, "none")).toBeNull();
    expect(chosenScore(model, "nope")).toBeNull();
  });
});
