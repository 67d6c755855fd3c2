// The effects view's numbers without the DOM: `_effects` and `_neuron_effects` decoded (layouts in model.ts,
// EffectsInfo / NeuronEffectsInfo), the parts of a logit in the order of the residual stream, their running
// total (the waterfall the view draws), the axis it is drawn on, and the heads that write most for and
// against the target. Tested in effects.test.ts.
import { formatWeight } from "./color";
import type { EffectsInfo, NeuronEffectsInfo } from "./model";
import { type RankedHead, rankHeads } from "./ranking";

/** A logit split into what writes it (every number toward logit(target), or target − contrast). */
export interface Effects {
  /** The model's own logit (or logit difference) at the position. */
  logit: number;
  /** The sum of the parts (equal to `logit` up to float error). */
  total: number;
  embeddings: number;
  /** Every bias term (output projections, MLPs, the final norm's). */
  biases: number;
  layers: number;
  heads: number;
  /** Each layer's MLP, [layers]; null when the model has no MLP parts. */
  mlp: Float32Array | null;
  /** Each head, [layers × heads] layer-major. */
  perHead: Float32Array;
  /** Each layer's heads summed, [layers]. */
  layerHeads: Float32Array;
}

/**
 * float32 values of `_effects` → the parts, or null when their number does not fit the info: [logit,
 * total, embeddings, biases, mlp[0..L-1], heads[0..L*H-1]]. A model without MLP parts may send the MLP block
 * or leave it out.
 */
export function decodeEffects(info: Pick<EffectsInfo, "layers" | "heads" | "mlp">, values: Float32Array): Effects | null {
  const { layers, heads } = info;
  if (!(layers > 0 && heads > 0)) return null;
  const withMlp = 4 + layers + layers * heads;
  const withoutMlp = 4 + layers * heads;
  const hasBlock = values.length === withMlp;
  if (!hasBlock && !(values.length === withoutMlp && !info.mlp)) return null;
  const headsAt = hasBlock ? 4 + layers : 4;
  const perHead = values.slice(headsAt, headsAt + layers * heads);
  const layerHeads = new Float32Array(layers);
  for (let l = 0; l < layers; l++) {
    let sum = 0;
    for (let h = 0; h < heads; h++) sum += perHead[l * heads + h];
    layerHeads[l] = sum;
  }
  return {
    logit: values[0],
    total: values[1],
    embeddings: values[2],
    biases: values[3],
    layers,
    heads,
    mlp: hasBlock && info.mlp ? values.slice(4, 4 + layers) : null,
    perHead,
    layerHeads,
  };
}

export type PartKind = "embeddings" | "biases" | "heads" | "mlp";

export interface Part {
  kind: PartKind;
  /** The layer of a heads or MLP part, -1 otherwise. */
  layer: number;
  value: number;
}

/** The parts in the order they are added to the residual stream: embeddings, the biases (constant terms,
 * kept together), then each layer's heads and its MLP. */
export function effectParts(e: Effects): Part[] {
  const parts: Part[] = [
    { kind: "embeddings", layer: -1, value: e.embeddings },
    { kind: "biases", layer: -1, value: e.biases },
  ];
  for (let l = 0; l < e.layers; l++) {
    parts.push({ kind: "heads", layer: l, value: e.layerHeads[l] });
    if (e.mlp) parts.push({ kind: "mlp", layer: l, value: e.mlp[l] });
  }
  return parts;
}

export interface Step extends Part {
  /** The running total before and after this part. */
  start: number;
  end: number;
}

/** The waterfall: each part as a step of the running total, from 0 to the sum of all parts. */
export function waterfall(parts: Part[]): { steps: Step[]; sum: number } {
  let running = 0;
  const steps = parts.map((part) => {
    const start = running;
    running += part.value;
    return { ...part, start, end: running };
  });
  return { steps, sum: running };
}

/** A linear axis over [lo, hi] with "nice" ticks (1, 2, 5 × 10ⁿ apart), widened to whole steps. */
export interface Axis {
  lo: number;
  hi: number;
  step: number;
  ticks: number[];
}

/** The axis for values in [min, max] (0 always included) with at most about `count` ticks. */
export function niceAxis(min: number, max: number, count = 5): Axis {
  let lo = Math.min(0, min);
  let hi = Math.max(0, max);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) hi = lo + 1;
  const raw = (hi - lo) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * magnitude;
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = a; v <= b + step * 1e-6; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return { lo: a, hi: b, step, ticks };
}

/** The axis of a waterfall: every running total, the sum and the model's own logit on it. */
export function waterfallAxis(steps: Step[], logit: number, count = 5): Axis {
  const values = [logit, ...steps.flatMap((s) => [s.start, s.end])].filter(Number.isFinite);
  return niceAxis(Math.min(...values), Math.max(...values), count);
}

/** Pixel x of `value` on an axis drawn over [x0, x0 + width]. */
export function axisX(value: number, axis: Axis, x0: number, width: number): number {
  return x0 + ((value - axis.lo) / (axis.hi - axis.lo)) * width;
}

/** A bar between two values as pixels: its left edge and width, at least `minWidth` (a part of ~0 stays
 * visible as a hairline at its place). */
export function barSpan(a: number, b: number, axis: Axis, x0: number, width: number, minWidth = 1): { x: number; w: number } {
  const xa = axisX(a, axis, x0, width);
  const xb = axisX(b, axis, x0, width);
  const left = Math.min(xa, xb);
  const w = Math.abs(xb - xa);
  return w >= minWidth ? { x: left, w } : { x: (xa + xb) / 2 - minWidth / 2, w: minWidth };
}

/** Row height (px) of a chart of `rows` rows that should stay within `room` px: 4..14 px. */
export function rowHeightFor(rows: number, room: number): number {
  return Math.max(4, Math.min(14, Math.floor(room / Math.max(1, rows))));
}

/** Height (px) of the rows that always carry a label (embeddings, biases, the sum). */
export const LABELLED_ROW = 12;

export interface RowLayout {
  /** Top (px) of each row, and one more entry: the bottom of the last. */
  tops: number[];
  /** Height of the layers' rows (heads, MLP). */
  layerRow: number;
}

/** Rows of the waterfall within about `room` px: the layers' rows share what the labelled rows (at least
 * LABELLED_ROW px, so that their labels fit) leave. */
export function rowLayout(kinds: (PartKind | "sum")[], room: number): RowLayout {
  const labelled = kinds.filter((k) => k !== "heads" && k !== "mlp").length;
  const layerRow = rowHeightFor(kinds.length - labelled, room - labelled * LABELLED_ROW);
  const tops = [0];
  for (const kind of kinds) tops.push(tops[tops.length - 1] + (kind === "heads" || kind === "mlp" ? layerRow : Math.max(layerRow, LABELLED_ROW)));
  return { tops, layerRow };
}

/** The row under y (px from the top of the rows), or -1 outside them. */
export function rowAt(y: number, tops: number[]): number {
  if (!(y >= 0)) return -1;
  for (let r = 0; r + 1 < tops.length; r++) if (y < tops[r + 1]) return r;
  return -1;
}

/** The heads that write most toward the target (largest positive first) and against it (most negative
 * first), at most `k` each; a head of exactly 0 (or NaN) is in neither. */
export function writingHeads(perHead: ArrayLike<number>, heads: number, k: number): { promote: RankedHead[]; suppress: RankedHead[] } {
  return {
    promote: rankHeads(perHead, heads, false, k).filter((e) => e.value > 0),
    suppress: rankHeads(perHead, heads, true, k).filter((e) => e.value < 0),
  };
}

/** The head of `layer` with the largest |value| (what a click on a layer's heads bar selects). */
export function strongestHead(perHead: ArrayLike<number>, heads: number, layer: number): number {
  let best = 0;
  for (let h = 1; h < heads; h++) {
    if (Math.abs(perHead[layer * heads + h]) > Math.abs(perHead[layer * heads + best])) best = h;
  }
  return best;
}

/** A signed value as the views print it: "+1.23", "−0.0456", "0". */
export function formatSigned(value: number, digits = 3): string {
  if (Number.isNaN(value)) return "undefined";
  const text = formatWeight(Math.abs(value), digits);
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : "0";
}

/** The end of a diverging colour scale for these values: their largest finite |value| (1 when none). */
export function symmetricRange(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]);
    if (Number.isFinite(v) && v > max) max = v;
  }
  return max > 0 ? max : 1;
}

/** What a part is, in words (tooltips). */
export function partTitle(part: Part, heads: number): string {
  if (part.kind === "embeddings") return "embeddings";
  if (part.kind === "biases") return "biases (every bias term, the final norm's included)";
  if (part.kind === "heads") return `layer ${part.layer} · attention heads (${heads} summed)`;
  return `layer ${part.layer} · MLP`;
}

/** The short label of a part's row ("emb", "bias", "L12"), or "" where rows are too thin to label all. */
export function partLabel(part: Part, layerStep: number): string {
  if (part.kind === "embeddings") return "embed";
  if (part.kind === "biases") return "biases";
  if (part.kind === "heads") return part.layer % layerStep === 0 ? `L${part.layer}` : "";
  return "";
}

/** What the logit is, in words: `logit “␣Paris”` or `logit “␣Paris” − “␣London”`. */
export function logitName(info: Pick<EffectsInfo, "target" | "contrast">): string {
  return info.contrast !== null && info.contrast !== undefined
    ? `logit “${info.target}” − logit “${info.contrast}”`
    : `logit “${info.target}”`;
}

export interface NeuronEffect {
  text: string;
  value: number;
}

export interface NeuronEffects {
  promoted: NeuronEffect[];
  suppressed: NeuronEffect[];
}

/** float32 values of `_neuron_effects` (the promoted tokens' values, then the suppressed ones') paired
 * with their texts; null when the counts do not match. */
export function decodeNeuronEffects(
  info: Pick<NeuronEffectsInfo, "promoted" | "suppressed">, values: Float32Array,
): NeuronEffects | null {
  const p = info.promoted ?? [];
  const s = info.suppressed ?? [];
  if (values.length !== p.length + s.length) return null;
  return {
    promoted: p.map((text, i) => ({ text, value: values[i] })),
    suppressed: s.map((text, i) => ({ text, value: values[p.length + i] })),
  };
}
