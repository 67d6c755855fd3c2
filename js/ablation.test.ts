import { describe, expect, it } from "vitest";
import { decodeAblation, formatProbability, hasHead, headEffectsStatus, sameHeads, toggleHead } from "./ablation";
import { MASKED } from "./color";
import * as data from "./data";
import type { HeadEffectsInfo, Model } from "./model";
import { ABLATION, chosenScore, colourReversed, scoreColour, scoreIntensity } from "./scores";

describe("decodeAblation (the `_ablation` layout)", () => {
  it("reads the KL, then each row's log-probabilities before and after", () => {
    const values = new Float32Array([0.25, -0.5, -2, -1.5, -0.25]);
    const decoded = decodeAblation({ ids: [7, 9], target_id: 7 }, ["a", "b"], values);
    expect(decoded?.kl).toBe(0.25);
    expect(decoded?.rows).toEqual([
      { id: 7, text: "a", before: -0.5, after: -2, delta: -1.5, isTarget: true },
      { id: 9, text: "b", before: -1.5, after: -0.25, delta: 1.25, isTarget: false },
    ]);
    expect(decoded?.target.id).toBe(7);
  });

  it("gives nothing when the counts disagree or the target is not a row", () => {
    expect(decodeAblation({ ids: [1, 2], target_id: 1 }, ["a"], new Float32Array(5))).toBeNull();
    expect(decodeAblation({ ids: [1], target_id: 1 }, ["a"], new Float32Array(2))).toBeNull();
    expect(decodeAblation({ ids: [1], target_id: 2 }, ["a"], new Float32Array(3))).toBeNull();
  });
});

describe("the ablated set", () => {
  it("toggles a head: added at the end, removed where it is", () => {
    const once = toggleHead([[0, 1]], 2, 3);
    expect(once).toEqual([[0, 1], [2, 3]]);
    expect(toggleHead(once, 0, 1)).toEqual([[2, 3]]);
    expect(toggleHead(undefined, 1, 1)).toEqual([[1, 1]]);
  });

  it("never changes the set it was given", () => {
    const set: [number, number][] = [[0, 1]];
    toggleHead(set, 0, 1);
    toggleHead(set, 4, 4);
    expect(set).toEqual([[0, 1]]);
  });

  it("knows its heads, order aside", () => {
    expect(hasHead([[1, 2]], 1, 2)).toBe(true);
    expect(hasHead([[1, 2]], 2, 1)).toBe(false);
    expect(sameHeads([[1, 2], [0, 0]], [[0, 0], [1, 2]])).toBe(true);
    expect(sameHeads([[1, 2]], [[1, 2], [0, 0]])).toBe(false);
    expect(sameHeads(undefined, [])).toBe(true);
  });
});

describe("formatProbability", () => {
  it("prints percentages a person can compare", () => {
    expect(formatProbability(Math.log(0.421))).toBe("42.1%");
    expect(formatProbability(Math.log(0.0037))).toBe("0.37%");
    expect(formatProbability(Math.log(1e-7))).toBe("<0.01%");
    expect(formatProbability(Number.NaN)).toBe("–");
  });
});

describe("headEffectsStatus", () => {
  const info: HeadEffectsInfo = {
    position: 5, target: "␣Paris", target_id: 3, mode: "zero", layers: 30, heads: 9, done: 12, state: "running", unavailable: null,
  };
  it("says where the computation stands", () => {
    expect(headEffectsStatus(info, 30)).toBe("computing: layer 12 of 30 · Δ log p(“␣Paris”) at #5, zero ablation");
    expect(headEffectsStatus({ ...info, state: "stopped" }, 30)).toMatch(/^stopped after 12 of 30 layers/);
    expect(headEffectsStatus({ ...info, state: "done", done: 30 }, 30)).toBe("Δ log p(“␣Paris”) at #5, zero ablation");
    expect(headEffectsStatus({ ...info, state: "none" }, 30)).toBe("");
    expect(headEffectsStatus(null, 30)).toBe("");
  });
});

describe("the head grid coloured by head effects", () => {
  const info: HeadEffectsInfo = {
    position: 3, target: "x", target_id: 1, mode: "mean", layers: 2, heads: 2, done: 1, state: "running", unavailable: null,
  };
  const traits: Record<string, unknown> = {
    _info: { num_layers: 2, num_heads: 2 },
    head_score: ABLATION,
    _head_effects: { info, data: new DataView(Float32Array.from([-2, 0.5, Number.NaN, Number.NaN]).buffer) },
  };
  const model = { get: (k: string) => traits[k] } as unknown as Model;

  it("reads `_head_effects`: signed, diverging around 0, the layers not done grey", () => {
    const chosen = chosenScore(model);
    expect(chosen?.name).toBe(ABLATION);
    expect(chosen?.diverging).toBe(true);
    expect(chosen?.range).toEqual([-2, 2]);
    expect(chosen?.label).toContain("“x” at #3 (mean)");
    if (!chosen) return;
    // Ranked lowest first (the heads the target needs most), but blue stays below 0.
    expect(chosen.ascending).toBe(true);
    expect(colourReversed(chosen)).toBe(false);
    expect(scoreIntensity(chosen.values[0], chosen.range, colourReversed(chosen))).toBe(0);
    expect(scoreIntensity(chosen.values[2], chosen.range, false)).toBe(MASKED);
    const lut = Uint32Array.from({ length: 256 }, (_, i) => i);
    expect(scoreColour(chosen, 0, lut, 999)).toBe(0);
    expect(scoreColour(chosen, 3, lut, 999)).toBe(999);
  });

  it("is all grey before any were computed, and in a page saved before them", () => {
    traits._head_effects = { info: { ...info, state: "none", done: 0 }, data: new DataView(new ArrayBuffer(0)) };
    expect(data.headEffects(model).values).toBeNull();
    expect(Array.from(chosenScore(model)?.values ?? []).every(Number.isNaN)).toBe(true);
    traits._head_effects = undefined;
    expect(data.headEffects(model)).toEqual({ info: null, values: null });
  });
});
