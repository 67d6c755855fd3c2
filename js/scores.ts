// Head-role scores (attnwidget/scores.py) in the views: decoding, ranking and colours. Pure where it can be
// (tested in scores.test.ts).
import { MASKED, lutIndex } from "./color";
import { decodeFloat32 } from "./decode";
import type { Bytes, Model, WidgetInfo } from "./model";

export const NO_SCORE = "none";

export interface RankedHead {
  layer: number;
  head: number;
  value: number;
}

/**
 * Heads of one score [layers × heads] in ranking order: highest first, or lowest first when `ascending`
 * (entropy: most focused first). NaN (a score undefined for this prompt) ranks last; ties keep
 * (layer, head) order. At most `k` entries.
 */
export function rankHeads(values: ArrayLike<number>, heads: number, ascending: boolean, k = Infinity): RankedHead[] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  const key = (i: number) => (ascending ? values[i] : -values[i]);
  order.sort((a, b) => {
    const na = Number.isNaN(values[a]);
    const nb = Number.isNaN(values[b]);
    if (na !== nb) return na ? 1 : -1;
    return (na ? 0 : key(a) - key(b)) || a - b;
  });
  return order.slice(0, Math.max(0, k)).map((i) => ({ layer: Math.floor(i / heads), head: i % heads, value: values[i] }));
}

/** Rank (0 = first) of every head: the inverse of `rankHeads`' order, as [layers × heads]. */
export function headRanks(values: ArrayLike<number>, heads: number, ascending: boolean): Int32Array {
  const ranks = new Int32Array(values.length);
  rankHeads(values, heads, ascending).forEach((entry, rank) => {
    ranks[entry.layer * heads + entry.head] = rank;
  });
  return ranks;
}

/**
 * The values the colour scale spans. Fractions of attention (every score but entropy) use 0..1, so that
 * colours compare across prompts and models and a weak best head does not look strong; entropy, in nats
 * with no fixed top, spans its own finite min..max. [0, 1] when nothing is finite.
 */
export function scoreRange(name: string, values: ArrayLike<number>): [number, number] {
  if (name !== "entropy") return [0, 1];
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

/** Short names for the select and the list. */
export const SCORE_TITLES: Record<string, string> = {
  induction: "induction",
  previous_token: "previous token",
  bos: "first token (BOS)",
  self: "self",
  local: "local (±3)",
  entropy: "entropy (low first)",
};

// ---- reading the model ------------------------------------------------------------------------------
const cache = new WeakMap<object, Float32Array>();

function decoded(bytes: Bytes): Float32Array {
  let values = cache.get(bytes);
  if (!values) {
    values = decodeFloat32(bytes);
    cache.set(bytes, values);
  }
  return values;
}

export interface ChosenScore {
  name: string;
  index: number;
  ascending: boolean;
  label: string;
  /** [layers × heads] */
  values: Float32Array;
  range: [number, number];
}

/** The score chosen in `head_score` with its values, or null for "none" (or a widget without scores). */
export function chosenScore(model: Model, name: string = model.get("head_score")): ChosenScore | null {
  const info: WidgetInfo = model.get("_info");
  const index = (info.score_names ?? []).indexOf(name);
  const bytes = model.get("_head_scores");
  if (index < 0 || !bytes || bytes.byteLength === 0) return null;
  const size = info.num_layers * info.num_heads;
  const all = decoded(bytes);
  if (all.length < (index + 1) * size) return null;
  const values = all.subarray(index * size, (index + 1) * size);
  return {
    name,
    index,
    ascending: Boolean(info.score_ascending?.[index]),
    label: info.score_labels?.[index] ?? name,
    values,
    range: scoreRange(name, values),
  };
}

/** Packed colour (LUT entry, or `masked` for NaN) of head `index` under the chosen score. */
export function scoreColour(chosen: ChosenScore, index: number, lut: Uint32Array, masked: number): number {
  const intensity = scoreIntensity(chosen.values[index], chosen.range, chosen.ascending);
  return intensity === MASKED ? masked : lut[lutIndex(intensity)];
}
