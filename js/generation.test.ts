import { describe, expect, it } from "vitest";
import {
  ENTROPY_FULL, chosenAlternative, choosingPosition, clampStep, decodeGeneration, entropyFill, generationStatus,
  headRow, holdsStep, keyOffset, keyText, maxValue, probFill, samplingText, stepForKey, stepHeader, stepOffsets, stepRows,
  stepAfterToken, stepSize, stepToken, stepValues, stripAt, stripGeometry, tokenAfterStep,
} from "./generation";
import type { StepRowsInfo } from "./model";

/** `_generation`'s values as Python lays them out: probs, entropies, then k alternative probs per step. */
function generationValues(probs: number[], entropies: number[], alternatives: number[][], k: number): Float32Array {
  const rows = alternatives.flatMap((row) => [...row, ...Array(k - row.length).fill(NaN)]);
  return new Float32Array([...probs, ...entropies, ...rows]);
}

describe("decodeGeneration", () => {
  const f = (x: number) => Math.fround(x);

  it("splits probabilities, entropies and each step's alternatives, and marks the chosen one", () => {
    const values = generationValues([0.5, 0.25], [1.5, 2.5], [[0.5, 0.3, 0.2], [0.6, 0.25]], 3);
    const g = decodeGeneration({ steps: 2, k: 3 }, [" the", " cat"], [[" the", " a", " one"], [" dog", " cat"]], values);
    expect(g).not.toBeNull();
    expect([...g!.probs]).toEqual([0.5, 0.25]);
    expect([...g!.entropies]).toEqual([1.5, 2.5]);
    expect(g!.alternatives[0].map((a) => [a.text, a.p, a.chosen])).toEqual([
      [" the", 0.5, true], [" a", f(0.3), false], [" one", f(0.2), false],
    ]);
    // NaN (fewer alternatives than k) leaves the slot out; the chosen token is second here (sampled).
    expect(g!.alternatives[1].map((a) => [a.text, a.chosen])).toEqual([[" dog", false], [" cat", true]]);
  });

  it("marks no alternative when the chosen token is not among them", () => {
    const values = generationValues([0.01], [3], [[0.4, 0.3]], 2);
    const g = decodeGeneration({ steps: 1, k: 2 }, ["zebra"], [["a", "b"]], values);
    expect(g!.alternatives[0].some((a) => a.chosen)).toBe(false);
  });

  it("returns null when the counts disagree (a message cut short)", () => {
    const values = generationValues([0.5, 0.25], [1, 1], [[0.5], [0.25]], 1);
    expect(decodeGeneration({ steps: 2, k: 1 }, ["a"], [["a"], ["b"]], values)).toBeNull();
    expect(decodeGeneration({ steps: 2, k: 1 }, ["a", "b"], [["a"], ["b"]], values.subarray(1))).toBeNull();
    expect(decodeGeneration({ steps: 2, k: 2 }, ["a", "b"], [["a"], ["b"]], values)).toBeNull();
  });

  it("decodes an empty generation", () => {
    const g = decodeGeneration({ steps: 0, k: 5 }, [], [], new Float32Array(0));
    expect(g?.steps).toBe(0);
    expect(g?.alternatives).toEqual([]);
  });
});

describe("chosenAlternative", () => {
  it("breaks a tie of probabilities by the text", () => {
    const alts = [{ text: "a", p: 0.25 }, { text: "b", p: 0.25 }, { text: "c", p: 0.5 }];
    expect(chosenAlternative(0.25, "b", alts)).toBe(1);
    expect(chosenAlternative(0.25, "x", alts)).toBe(0);
    expect(chosenAlternative(0.5, "zzz", alts)).toBe(2);
    expect(chosenAlternative(0.1, "a", alts)).toBe(-1);
  });
});

describe("step rows", () => {
  // 2 layers × 3 heads, prompt of 4: step s has 6 rows of 4 + s keys.
  const info: StepRowsInfo = { first: 2, count: 3, prompt_length: 4, layers: 2, heads: 3, dtype: "float16" };
  const total = 6 * (6 + 7 + 8);
  const values = Float32Array.from({ length: total }, (_, i) => i);

  it("offsets add layers × heads × (prompt + step) per step", () => {
    expect(stepSize(info, 0)).toBe(24);
    expect(stepOffsets(info)).toEqual([0, 36, 78, 126]);
    expect(stepOffsets({ ...info, count: 0 })).toEqual([0]);
  });

  it("holds exactly first..first + count − 1", () => {
    expect([1, 2, 4, 5, -1].map((s) => holdsStep(info, s))).toEqual([false, true, true, false, false]);
    expect(holdsStep({ first: 0, count: 0 }, 0)).toBe(false);
    expect(holdsStep(null, 0)).toBe(false);
  });

  it("gives one step's rows and one head's row of it", () => {
    const rows = stepRows(values, info, 3);
    expect(rows?.length).toBe(42);
    expect(rows?.[0]).toBe(36);
    // Layer 1, head 2 of step 3: row 5 of 7 keys.
    const row = headRow(rows!, 3, 7, 1, 2);
    expect([...row]).toEqual([71, 72, 73, 74, 75, 76, 77]);
    expect(headRow(stepRows(values, info, 2)!, 3, 6, 0, 0)[0]).toBe(0);
    expect([...headRow(stepRows(values, info, 4)!, 3, 8, 1, 2)]).toEqual([118, 119, 120, 121, 122, 123, 124, 125]);
  });

  it("gives nothing for a step it does not hold, or bytes cut short", () => {
    expect(stepRows(values, info, 1)).toBeNull();
    expect(stepRows(values, info, 5)).toBeNull();
    expect(stepRows(values.subarray(0, total - 1), info, 2)).toBeNull();
  });

  it("names the position that chose a step and the text of each key", () => {
    expect(choosingPosition(4, 0)).toBe(3);
    expect(choosingPosition(4, 3)).toBe(6);
    const prompt = ["The", " cat", " sat", " on"];
    expect(keyText(1, 4, prompt, [" the", "↵"])).toBe(" cat");
    expect(keyText(5, 4, prompt, [" the", "↵"])).toBe("↵");
  });
});

describe("step ↔ token (what Python does)", () => {
  it("pins the position that chose a step, -1 while it is not shown", () => {
    expect(stepToken(0, 4, 10)).toBe(3);
    expect(stepToken(6, 4, 10)).toBe(9);
    expect(stepToken(1, 4, 4)).toBe(-1);
    expect(stepToken(0, 0, 10)).toBe(-1);
    expect(tokenAfterStep(2, -1, -1, 4, 10)).toBe(5);
    expect(tokenAfterStep(2, -1, 7, 4, 4)).toBe(-1);
  });

  it("unpins the old step's position when the step goes, and no other", () => {
    expect(tokenAfterStep(-1, 2, 5, 4, 10)).toBe(-1);
    expect(tokenAfterStep(-1, 2, 7, 4, 10)).toBe(7);
    expect(tokenAfterStep(-1, -1, 7, 4, 10)).toBe(7);
  });

  it("selects the step a pinned token chose, or none", () => {
    expect(stepAfterToken(3, -1, 4, 10, 6)).toBe(0);
    expect(stepAfterToken(8, 1, 4, 10, 6)).toBe(5);
    expect(stepAfterToken(9, 1, 4, 10, 6)).toBe(-1);
    expect(stepAfterToken(2, 1, 4, 10, 6)).toBe(-1);
    // Unpinning ends the step, unless its position is not shown yet (the model writes).
    expect(stepAfterToken(-1, 3, 4, 10, 6)).toBe(-1);
    expect(stepAfterToken(-1, 3, 4, 4, 6)).toBe(3);
    // No generation: the step stays what it is.
    expect(stepAfterToken(3, -1, 4, 10, 0)).toBe(-1);
  });
});

describe("stepping", () => {
  it("clamps to -1..steps − 1", () => {
    expect(clampStep(7, 5)).toBe(4);
    expect(clampStep(-3, 5)).toBe(-1);
    expect(clampStep(2, 0)).toBe(-1);
    expect(clampStep(Number.NaN, 5)).toBe(-1);
  });

  it("moves with ← → Home End, stopping at the ends", () => {
    expect(stepForKey("ArrowRight", 2, 5)).toBe(3);
    expect(stepForKey("ArrowRight", 4, 5)).toBe(4);
    expect(stepForKey("ArrowLeft", 2, 5)).toBe(1);
    expect(stepForKey("ArrowLeft", 0, 5)).toBe(0);
    expect(stepForKey("Home", 3, 5)).toBe(0);
    expect(stepForKey("End", 0, 5)).toBe(4);
  });

  it("starts from none at the first (→) or last (←) step", () => {
    expect(stepForKey("ArrowRight", -1, 5)).toBe(0);
    expect(stepForKey("ArrowLeft", -1, 5)).toBe(4);
    // A step beyond the steps (a generation shorter than the trait says) moves from the last.
    expect(stepForKey("ArrowLeft", 9, 5)).toBe(3);
  });

  it("ignores other keys, and keys when there are no steps", () => {
    expect(stepForKey("ArrowUp", 2, 5)).toBeNull();
    expect(stepForKey("a", 2, 5)).toBeNull();
    expect(stepForKey("ArrowRight", -1, 0)).toBeNull();
  });
});

describe("words", () => {
  const info = { steps: 12, max_new_tokens: 30, running: true, stop_reason: null };

  it("says what the generation is doing", () => {
    expect(generationStatus(info)).toBe("writing… 12 / 30");
    expect(generationStatus({ ...info, running: false, steps: 30, stop_reason: "length" })).toBe(
      "wrote 30 tokens (max_new_tokens reached)",
    );
    expect(generationStatus({ ...info, running: false, steps: 1, stop_reason: "stopped" })).toBe("wrote 1 token (stopped)");
    expect(generationStatus({ ...info, running: false, steps: 0, stop_reason: null })).toBe("");
  });

  it("says how tokens were chosen", () => {
    expect(samplingText({ do_sample: false, temperature: 1, top_k: null, top_p: null, seed: null })).toMatch(/^greedy/);
    expect(samplingText(null)).toMatch(/^greedy/);
    expect(samplingText({ do_sample: true, temperature: 0.8, top_k: 50, top_p: 0.9, seed: 0 })).toBe(
      "sampled · temperature 0.8 · top-k 50 · top-p 0.9 · seed 0",
    );
    expect(samplingText({ do_sample: true, temperature: 1, top_k: null, top_p: null, seed: null })).toBe(
      "sampled · temperature 1 · no seed",
    );
  });

  it("gives exact values and the step's header", () => {
    expect(stepValues(0.81234, 0.53249)).toBe("p = 0.8123 · entropy 0.532 nats");
    expect(stepHeader(3, " the", 0.81, 16)).toBe("step 3 · “ the” · p 81% · chosen at position 18");
    expect(stepHeader(0, "↵", 0.05, 4)).toBe("step 0 · “↵” · p 5.0% · chosen at position 3");
  });

  it("fills the bars", () => {
    expect(probFill(0.25)).toBe(0.25);
    expect(probFill(Number.NaN)).toBe(0);
    expect(entropyFill(ENTROPY_FULL / 2)).toBe(0.5);
    expect(entropyFill(ENTROPY_FULL * 3)).toBe(1);
    expect(entropyFill(-0)).toBe(0);
  });
});

describe("strips", () => {
  it("fits 9 heads into the room and 30 layers into about 240 px", () => {
    const g = stripGeometry(30, 9, 280);
    expect(g.column).toBe(31);
    expect(g.strip).toBe(29);
    expect(g.row).toBe(8);
    expect(g.width).toBe(9 * 31 - 2);
    expect(g.totalHeight).toBe(30 * 8 - 1);
    // Few layers: rows at most 10 px; narrow rooms: columns at least 12 px.
    expect(stripGeometry(2, 4, 40).row).toBe(10);
    expect(stripGeometry(2, 4, 40).column).toBe(12);
    expect(stripGeometry(200, 4, 400).row).toBe(3);
  });

  it("finds the strip and key under a point, none in the gaps", () => {
    const g = stripGeometry(30, 9, 280); // columns of 31 px (29 + 2), rows of 8 px (7 + 1)
    expect(stripAt(0, 0, g, 30, 9, 20)).toEqual({ layer: 0, head: 0, key: 0 });
    expect(stripAt(31 * 5 + 28.9, 8 * 3 + 2, g, 30, 9, 20)).toEqual({ layer: 3, head: 5, key: 19 });
    expect(stripAt(31 * 5 + 14.5, 8 * 3, g, 30, 9, 20)?.key).toBe(10);
    expect(stripAt(31 * 5 + 29.5, 5, g, 30, 9, 20)).toBeNull();
    expect(stripAt(31 * 9 + 1, 5, g, 30, 9, 20)).toBeNull();
    expect(stripAt(5, 8 * 30 + 1, g, 30, 9, 20)).toBeNull();
    expect(stripAt(-1, 5, g, 30, 9, 20)).toBeNull();
    expect(stripAt(5, 5, g, 30, 9, 0)).toBeNull();
  });

  it("places keys along a strip and finds the scale's max", () => {
    expect(keyOffset(16, 20, 40)).toBe(32);
    expect(keyOffset(0, 0, 40)).toBe(0);
    expect(maxValue(new Float32Array([0.1, 0.7, 0.3]))).toBeCloseTo(0.7);
    expect(maxValue(new Float32Array(0))).toBe(0);
  });
});

describe("a saved page (LocalModel) couples step and token as Python does", () => {
  it("pins the choosing position on a step, and selects the step of a pinned token", async () => {
    const { LocalModel } = await import("./static");
    const state = {
      step: -1, token: -1, _info: { seq_len: 10 },
      _generation: { info: { prompt_length: 4, steps: 6 } },
    } as unknown as ConstructorParameters<typeof LocalModel>[0];
    const model = new LocalModel(state);
    const seen: string[] = [];
    model.on("change:token", () => seen.push(`token ${model.get("token")}`));
    model.on("change:step", () => seen.push(`step ${model.get("step")}`));
    model.set("step", 2);
    expect([model.get("token"), model.get("step")]).toEqual([5, 2]);
    model.set("token", 8);
    expect(model.get("step")).toBe(5);
    model.set("token", 1);
    expect(model.get("step")).toBe(-1);
    expect(model.get("token")).toBe(1);
    model.set("step", 0);
    expect(model.get("token")).toBe(3);
    model.set("step", -1);
    expect(model.get("token")).toBe(-1);
    expect(seen).toEqual(["step 2", "token 5", "token 8", "step 5", "token 1", "step -1", "step 0", "token 3", "step -1", "token -1"]);
  });
});
