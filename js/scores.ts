// Per-head scores (attnwidget/analysis/scores.py) in the views: the chosen score, its colour range and
// colours. Pure where it can be (tested in scores.test.ts); names and labels come from Python.
import { MASKED, lutIndex } from "./color";
import * as data from "./data";
import { logitName, symmetricRange } from "./effects";
import type { Model } from "./model";

export const NO_SCORE = "none";
/** `head_score` for each head's logit attribution to the target (from `_effects`, not `_head_scores`). */
export const ATTRIBUTION = "attribution";
/** `head_score` for each head's Δ log-probability of the target when ablated alone (`_head_effects`). */
export const ABLATION = "ablation";

/**
 * The values the colour scale spans: 0..1 for a score in the unit interval (a share of attention), so
 * that colours compare across prompts and models and a weak best head does not look strong; otherwise
 * (entropy, in nats) its own finite min..max. [0, 1] when nothing is finite.
 */
export function scoreRange(unitInterval: boolean, values: ArrayLike<number>): [number, number] {
  if (unitInterval) return [0, 1];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

/**
 * A score as a colour-scale position in [0, 1], or MASKED for NaN. Bright (1) is always the top of the
 * ranking: for an ascending score (entropy) the scale is reversed, so the most focused heads are bright.
 */
export function scoreIntensity(value: number, [lo, hi]: [number, number], ascending: boolean): number {
  if (Number.isNaN(value)) return MASKED;
  const t = hi > lo ? (value - lo) / (hi - lo) : 0.5;
  const clamped = Math.max(0, Math.min(1, t));
  return ascending ? 1 - clamped : clamped;
}

export interface ChosenScore extends data.ScoreValues {
  range: [number, number];
  /** Signed values coloured on the diverging palette around 0 (the range is symmetric): attribution. */
  diverging?: boolean;
}

/** The score chosen in `head_score` (or `name`) with its values and range, or null for "none". */
export function chosenScore(model: Model, name: string = model.get("head_score")): ChosenScore | null {
  if (name === ATTRIBUTION) return attributionScore(model);
  if (name === ABLATION) return ablationScore(model);
  const found = name === NO_SCORE ? null : data.score(model, name);
  return found && { ...found, range: scoreRange(found.unit_interval, found.values) };
}

/** Each head's logit attribution as a score: diverging around 0, ±its largest |value|; NaN (grey) for
 * every head while there is none (not computed yet, or unavailable: an encoder). */
export function attributionScore(model: Model): ChosenScore {
  const i = data.info(model);
  const { info, parts } = data.effects(model);
  const values = parts && parts.perHead.length === i.num_layers * i.num_heads
    ? parts.perHead
    : new Float32Array(i.num_layers * i.num_heads).fill(Number.NaN);
  const m = symmetricRange(values);
  const what = info?.target !== undefined && info.target !== null ? ` to ${logitName(info)} at #${info.position}` : "";
  return {
    name: ATTRIBUTION,
    title: "attribution",
    label: `each head's direct logit attribution${what} (red: raises it, blue: lowers it)`,
    ascending: false,
    unit_interval: false,
    values,
    range: [-m, m],
    diverging: true,
  };
}

/** Each head's effect when ablated alone as a score: diverging around 0 (red: ablating it raises the
 * target, blue: lowers it), ±its largest |value|; NaN (grey) where not computed yet. */
export function ablationScore(model: Model): ChosenScore {
  const i = data.info(model);
  const { info, values: sent } = data.headEffects(model);
  const values = sent ?? new Float32Array(i.num_layers * i.num_heads).fill(Number.NaN);
  const m = symmetricRange(values);
  const what = info && info.state !== "none" ? ` of “${info.target}” at #${info.position} (${info.mode})` : "";
  return {
    name: ABLATION,
    title: "Δ log p ablated",
    label: `change in log p${what} when the head alone is ablated (blue: lower without it, red: higher)`,
    ascending: true,
    unit_interval: false,
    values,
    range: [-m, m],
    diverging: true,
  };
}

/** The LUT a chosen score is painted with. */
export function scoreLut(chosen: ChosenScore, theme: { sequential: Uint32Array; diverging: Uint32Array }): Uint32Array {
  return chosen.diverging ? theme.diverging : theme.sequential;
}

/** Whether bright means the lowest value: for a ranked-low-first score on the sequential palette. A
 * diverging palette always keeps its sign (blue below 0, red above), whatever the ranking order. */
export function colourReversed(chosen: ChosenScore): boolean {
  return chosen.ascending && !chosen.diverging;
}

/** Packed colour (LUT entry, or `masked` for NaN) of head `index` under the chosen score. */
export function scoreColour(chosen: ChosenScore, index: number, lut: Uint32Array, masked: number): number {
  const intensity = scoreIntensity(chosen.values[index], chosen.range, colourReversed(chosen));
  return intensity === MASKED ? masked : lut[lutIndex(intensity)];
}
