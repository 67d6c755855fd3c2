import { describe, expect, it } from "vitest";
import { MASKED, lutIndex } from "./color";
import * as data from "./data";
import {
  axisX, barSpan, decodeEffects, decodeNeuronEffects, effectParts, formatSigned, logitName, niceAxis, partLabel, rowAt,
  rowHeightFor, rowLayout, strongestHead, symmetricRange, waterfall, waterfallAxis, writingHeads,
} from "./effects";
import type { Model } from "./model";
import { ATTRIBUTION, attributionScore, chosenScore, scoreIntensity } from "./scores";

// 2 layers × 3 heads: [logit, total, embeddings, biases, mlp0, mlp1, heads (layer-major)].
const VALUES = [1.5, 1.5, 1, -0.5, 0.25, -0.75, 0.5, -1, 0.25, 2, 0, -0.25];
const INFO = { layers: 2, heads: 3, mlp: true };

function bytesOf(values: number[]): DataView {
  return new DataView(Float32Array.from(values).buffer);
}

describe("decodeEffects (the `_effects` layout)", () => {
  it("reads logit, total, embeddings, biases, each MLP and each head, summing each layer's heads", () => {
    const e = decodeEffects(INFO, Float32Array.from(VALUES));
    expect(e).not.toBeNull();
    if (!e) return;
    expect([e.logit, e.total, e.embeddings, e.biases]).toEqual([1.5, 1.5, 1, -0.5]);
    expect(Array.from(e.mlp ?? [])).toEqual([0.25, -0.75]);
    expect(Array.from(e.perHead)).toEqual([0.5, -1, 0.25, 2, 0, -0.25]);
    expect(Array.from(e.layerHeads)).toEqual([-0.25, 1.75]);
  });

  it("takes a model without MLP parts with or without the MLP block, and refuses lengths that do not fit", () => {
    const without = decodeEffects({ ...INFO, mlp: false }, Float32Array.from([1, 1, 0.5, 0.5, 1, 2, 3, 4, 5, 6]));
    expect(without?.mlp).toBeNull();
    expect(Array.from(without?.perHead ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
    const withBlock = decodeEffects({ ...INFO, mlp: false }, Float32Array.from(VALUES));
    expect(withBlock?.mlp).toBeNull();
    expect(Array.from(withBlock?.perHead ?? [])).toEqual([0.5, -1, 0.25, 2, 0, -0.25]);
    expect(decodeEffects(INFO, Float32Array.from(VALUES.slice(1)))).toBeNull();
    expect(decodeEffects(INFO, Float32Array.from([...VALUES, 0]))).toBeNull();
    expect(decodeEffects({ ...INFO, layers: 0 }, new Float32Array(4))).toBeNull();
  });

  it("is what data.effects gives for the trait, little-endian float32 bytes; nothing for {} or empty data", () => {
    const traits: Record<string, unknown> = {
      _effects: { info: { ...INFO, position: 4, target: "␣Paris", target_id: 7, contrast: null, contrast_id: null, error: null, unavailable: null }, data: bytesOf(VALUES) },
    };
    const model = { get: (k: string) => traits[k] } as unknown as Model;
    const found = data.effects(model);
    expect(found.info?.target).toBe("␣Paris");
    expect(found.parts?.logit).toBe(1.5);
    expect(data.effects(model).parts).toBe(found.parts); // decoded once per bytes
    traits._effects = {};
    expect(data.effects(model)).toEqual({ info: null, parts: null });
    traits._effects = { info: { ...INFO, unavailable: "an encoder has no unembedding" }, data: new DataView(new ArrayBuffer(0)) };
    expect(data.effects(model).info?.unavailable).toMatch(/encoder/);
    expect(data.effects(model).parts).toBeNull();
    traits._effects = undefined;
    expect(data.effects(model)).toEqual({ info: null, parts: null });
  });
});

describe("the waterfall", () => {
  const e = decodeEffects(INFO, Float32Array.from(VALUES));
  if (!e) throw new Error("fixture");
  const parts = effectParts(e);

  it("lists embeddings, biases, then each layer's heads and MLP, in the order of the residual stream", () => {
    expect(parts.map((p) => `${p.kind}${p.layer}`)).toEqual(["embeddings-1", "biases-1", "heads0", "mlp0", "heads1", "mlp1"]);
    expect(parts.map((p) => p.value)).toEqual([1, -0.5, -0.25, 0.25, 1.75, -0.75]);
  });

  it("starts each step where the last one ended and ends at the sum of the parts (= the logit)", () => {
    const { steps, sum } = waterfall(parts);
    expect(steps[0].start).toBe(0);
    for (let i = 1; i < steps.length; i++) expect(steps[i].start).toBe(steps[i - 1].end);
    for (const s of steps) expect(s.end - s.start).toBeCloseTo(s.value, 12);
    expect(sum).toBeCloseTo(e.total, 6);
    expect(steps.at(-1)?.end).toBeCloseTo(e.logit, 6);
  });

  it("draws on an axis that holds 0, every running total and the logit", () => {
    const { steps } = waterfall(parts);
    const axis = waterfallAxis(steps, e.logit);
    for (const s of steps) {
      expect(axis.lo).toBeLessThanOrEqual(Math.min(s.start, s.end));
      expect(axis.hi).toBeGreaterThanOrEqual(Math.max(s.start, s.end));
    }
    expect(axis.lo).toBeLessThanOrEqual(0);
    expect(axis.ticks).toContain(0);
  });

  it("places bars by value, at least a hairline wide, left to right whatever their sign", () => {
    const axis = niceAxis(-2, 8);
    expect(axis).toMatchObject({ lo: -2, hi: 8, step: 2 });
    expect(axisX(-2, axis, 40, 100)).toBe(40);
    expect(axisX(8, axis, 40, 100)).toBe(140);
    expect(barSpan(0, 3, axis, 40, 100)).toEqual({ x: 60, w: 30 });
    expect(barSpan(3, 0, axis, 40, 100)).toEqual({ x: 60, w: 30 });
    const tiny = barSpan(1, 1.0001, axis, 40, 100);
    expect(tiny.w).toBe(1);
    expect(tiny.x).toBeCloseTo(69.5, 2);
  });

  it("keeps layer rows 4..14 px, labelled rows tall enough for a label, and finds the row under a point", () => {
    expect(rowHeightFor(60, 294)).toBe(4);
    expect(rowHeightFor(6, 294)).toBe(14);
    // SmolLM2: 30 layers of heads and MLP rows between embeddings, biases and the sum.
    const kinds = ["embeddings", "biases", ...Array.from({ length: 30 }, () => ["heads", "mlp"] as const).flat(), "sum"] as const;
    const big = rowLayout([...kinds], 330);
    expect(big.layerRow).toBe(4);
    expect(big.tops.slice(0, 4)).toEqual([0, 12, 24, 28]);
    expect(big.tops.at(-1)).toBe(3 * 12 + 60 * 4);
    const small = rowLayout(["embeddings", "biases", "heads", "mlp", "sum"], 330);
    expect(small.layerRow).toBe(14);
    expect(small.tops).toEqual([0, 14, 28, 42, 56, 70]);
    expect(rowAt(0, big.tops)).toBe(0);
    expect(rowAt(25, big.tops)).toBe(2);
    expect(rowAt(big.tops.at(-1) ?? 0, big.tops)).toBe(-1);
    expect(rowAt(-1, big.tops)).toBe(-1);
  });

  it("labels embeddings, biases and every `step`-th layer", () => {
    expect(parts.map((p) => partLabel(p, 1))).toEqual(["embed", "biases", "L0", "", "L1", ""]);
    expect(parts.map((p) => partLabel(p, 2))).toEqual(["embed", "biases", "L0", "", "", ""]);
  });
});

describe("nice axes", () => {
  it("steps by 1, 2 or 5 × 10ⁿ, widened to whole steps, 0 included", () => {
    expect(niceAxis(0.3, 9.2)).toMatchObject({ lo: 0, hi: 10, step: 2, ticks: [0, 2, 4, 6, 8, 10] });
    expect(niceAxis(-0.013, 0.042).ticks).toEqual([-0.02, 0, 0.02, 0.04, 0.06]);
    expect(niceAxis(-0.013, 0.042, 10).ticks).toEqual([-0.02, -0.01, 0, 0.01, 0.02, 0.03, 0.04, 0.05]);
    expect(niceAxis(3, 3)).toMatchObject({ lo: 0, step: 1 });
    expect(niceAxis(0, 0)).toMatchObject({ lo: 0, hi: 1 });
    expect(niceAxis(Number.NaN, 1)).toMatchObject({ lo: 0, hi: 1 });
  });
});

describe("heads for and against the target", () => {
  const heads = Float32Array.from([0.5, -1, 0.25, 2, 0, -0.25]);

  it("lists the largest positive first and the most negative first, leaving out zeros", () => {
    const { promote, suppress } = writingHeads(heads, 3, 5);
    expect(promote.map((h) => [h.layer, h.head, h.value])).toEqual([[1, 0, 2], [0, 0, 0.5], [0, 2, 0.25]]);
    expect(suppress.map((h) => [h.layer, h.head, h.value])).toEqual([[0, 1, -1], [1, 2, -0.25]]);
    expect(writingHeads(heads, 3, 1).promote).toHaveLength(1);
  });

  it("picks a layer's strongest head by |value| (a click on the layer's bar)", () => {
    expect(strongestHead(heads, 3, 0)).toBe(1);
    expect(strongestHead(heads, 3, 1)).toBe(0);
  });
});

describe("the diverging scale of attribution", () => {
  it("spans ±the largest finite |value|, 0 in the middle (the page background)", () => {
    expect(symmetricRange([0.5, -2, Number.NaN, 1])).toBe(2);
    expect(symmetricRange([0, 0])).toBe(1);
    const m = symmetricRange([0.5, -2]);
    expect(scoreIntensity(0, [-m, m], false)).toBe(0.5);
    expect(scoreIntensity(-2, [-m, m], false)).toBe(0);
    expect(scoreIntensity(2, [-m, m], false)).toBe(1);
    expect(scoreIntensity(1, [-m, m], false)).toBe(0.75);
    expect(lutIndex(scoreIntensity(0, [-m, m], false))).toBe(128);
  });

  it("is the head grid's score when head_score is attribution: the heads of `_effects`, NaN while there are none", () => {
    const traits: Record<string, unknown> = {
      head_score: ATTRIBUTION,
      _info: { num_layers: 2, num_heads: 3, scores: [] },
      _effects: {
        info: { ...INFO, position: 3, target: "<b>x</b>", target_id: 1, contrast: "y", contrast_id: 2, error: null, unavailable: null },
        data: bytesOf(VALUES),
      },
    };
    const model = { get: (k: string) => traits[k] } as unknown as Model;
    const chosen = chosenScore(model);
    expect(chosen?.diverging).toBe(true);
    expect(Array.from(chosen?.values ?? [])).toEqual([0.5, -1, 0.25, 2, 0, -0.25]);
    expect(chosen?.range).toEqual([-2, 2]);
    expect(chosen?.label).toContain("logit “<b>x</b>” − logit “y” at #3");
    traits._effects = {};
    const none = attributionScore(model);
    expect(none.values).toHaveLength(6);
    expect(Array.from(none.values).every(Number.isNaN)).toBe(true);
    expect(scoreIntensity(none.values[0], none.range, false)).toBe(MASKED);
  });
});

describe("texts", () => {
  it("prints signed values with a real minus sign", () => {
    expect(formatSigned(1.234)).toBe("+1.23");
    expect(formatSigned(-0.04567)).toBe("−0.0457");
    expect(formatSigned(0)).toBe("0");
    expect(formatSigned(Number.NaN)).toBe("undefined");
  });

  it("names the logit, or the difference with a contrast", () => {
    expect(logitName({ target: "␣Paris", contrast: null })).toBe("logit “␣Paris”");
    expect(logitName({ target: "␣Paris", contrast: "␣London" })).toBe("logit “␣Paris” − logit “␣London”");
  });
});

describe("decodeNeuronEffects (the `_neuron_effects` layout)", () => {
  it("pairs the promoted values, then the suppressed ones, with their texts", () => {
    const info = { promoted: ["a", "<img>"], suppressed: ["c", "d"] };
    const out = decodeNeuronEffects(info, Float32Array.from([2, 1, -1, -3]));
    expect(out).toEqual({
      promoted: [{ text: "a", value: 2 }, { text: "<img>", value: 1 }],
      suppressed: [{ text: "c", value: -1 }, { text: "d", value: -3 }],
    });
    expect(decodeNeuronEffects(info, Float32Array.from([2, 1, -1]))).toBeNull();
  });

  it("is null from data.neuronEffects when no neuron is chosen ({}), its info with no effects while unavailable", () => {
    const traits: Record<string, unknown> = { _neuron_effects: {} };
    const model = { get: (k: string) => traits[k] } as unknown as Model;
    expect(data.neuronEffects(model)).toBeNull();
    traits._neuron_effects = {
      info: { layer: 1, kind: "residual", neuron: 4, k: 0, promoted: [], suppressed: [], unavailable: "residual neurons have no output direction" },
      data: new DataView(new ArrayBuffer(0)),
    };
    expect(data.neuronEffects(model)?.effects).toBeNull();
    expect(data.neuronEffects(model)?.info.unavailable).toMatch(/residual/);
  });
});
