// The generation view's numbers and geometry (issue 12): what `_generation` and `_step_rows` hold
// (attnwidget/widgets/generation.py writes them; model.ts types them), stepping with the keys, the words of
// its status lines, and where each layer × head strip sits. Pure, tested in generation.test.ts; the view is
// views/generation.ts.
import { formatProb } from "./lens";
import type { GenerationInfo, SamplingSettings, StepRowsInfo, StopReason } from "./model";

/** One token the model could have written at a step. */
export interface Alternative {
  text: string;
  p: number;
  /** The token it did write. */
  chosen: boolean;
}

/** `_generation`'s bytes, decoded. */
export interface DecodedGeneration {
  steps: number;
  /** The probability of each chosen token when it was chosen (after temperature, top-k, top-p). */
  probs: Float32Array;
  /** The entropy of each step's distribution, nats. */
  entropies: Float32Array;
  /** Per step, the most likely tokens, most likely first (fewer than k where top-k / top-p left fewer). */
  alternatives: Alternative[][];
}

/**
 * Which alternative is the token chosen (probability `p`): the one of exactly that probability (both are
 * the same float32 from one distribution), the one whose text is also the token's when several are; -1
 * when the chosen token is not among them (sampling picked an unlikely one).
 */
export function chosenAlternative(p: number, text: string, alternatives: { text: string; p: number }[]): number {
  const same = alternatives.flatMap((a, i) => (a.p === p ? [i] : []));
  if (same.length <= 1) return same.length ? same[0] : -1;
  return same.find((i) => alternatives[i].text === text) ?? same[0];
}

/**
 * `_generation`'s float32 [steps probs, steps entropies, steps × k alternative probs (NaN: none)] with its
 * texts → the steps; null when the counts disagree (a message cut short).
 */
export function decodeGeneration(
  info: Pick<GenerationInfo, "steps" | "k">, tokens: string[], alternatives: string[][], values: Float32Array,
): DecodedGeneration | null {
  const n = info.steps;
  const k = info.k;
  if (!(n >= 0) || !(k >= 0) || tokens.length !== n || alternatives.length !== n || values.length !== n * (2 + k)) return null;
  const probs = values.subarray(0, n);
  const entropies = values.subarray(n, 2 * n);
  const listed = alternatives.map((texts, s) => {
    const row = values.subarray(2 * n + s * k, 2 * n + (s + 1) * k);
    const alts = texts.slice(0, k).flatMap((text, j) => (Number.isNaN(row[j]) ? [] : [{ text, p: row[j], chosen: false }]));
    const chosen = chosenAlternative(probs[s], tokens[s], alts);
    if (chosen >= 0) alts[chosen].chosen = true;
    return alts;
  });
  return { steps: n, probs, entropies, alternatives: listed };
}

// ---- `_step_rows` -------------------------------------------------------------------------------------

/** Values of one step's rows: layers × heads rows of prompt_length + step keys. */
export function stepSize(info: Pick<StepRowsInfo, "prompt_length" | "layers" | "heads">, step: number): number {
  return info.layers * info.heads * (info.prompt_length + step);
}

/** Where each step's rows start in `_step_rows`' values: [count + 1] offsets, the last = the total. */
export function stepOffsets(info: Pick<StepRowsInfo, "first" | "count" | "prompt_length" | "layers" | "heads">): number[] {
  const out = [0];
  for (let i = 0; i < info.count; i++) out.push(out[i] + stepSize(info, info.first + i));
  return out;
}

/** Whether `_step_rows` holds step `step`. */
export function holdsStep(info: Pick<StepRowsInfo, "first" | "count"> | null | undefined, step: number): boolean {
  return !!info && step >= 0 && step >= info.first && step < info.first + info.count;
}

/** Step `step`'s rows (layers × heads rows of prompt_length + step keys, layer-major) as a view into
 * `values`, or null when `_step_rows` does not hold it (or holds too few values). */
export function stepRows(values: Float32Array, info: StepRowsInfo, step: number): Float32Array | null {
  if (!holdsStep(info, step)) return null;
  const offsets = stepOffsets(info);
  if (values.length < offsets[offsets.length - 1]) return null;
  const i = step - info.first;
  return values.subarray(offsets[i], offsets[i + 1]);
}

/** One head's row within a step's rows: its attention over keys 0..keys − 1. */
export function headRow(rows: Float32Array, heads: number, keys: number, layer: number, head: number): Float32Array {
  const start = (layer * heads + head) * keys;
  return rows.subarray(start, start + keys);
}

/** The position whose prediction chose generated token `step` (its query row): prompt_length + step − 1. */
export function choosingPosition(promptLength: number, step: number): number {
  return promptLength + step - 1;
}

/** The token pinned for `step`: the position that chose it, -1 while the tokens shown (`seqLen`: the
 * prompt's while the model writes) do not reach it. */
export function stepToken(step: number, promptLength: number, seqLen: number): number {
  const position = choosingPosition(promptLength, step);
  return position >= 0 && position < seqLen ? position : -1;
}

// What Python does (AttentionWidget's `step` and `token` observers), for pages without a kernel.

/** `token` after `step` changed from `oldStep`: a step pins its position; no step unpins the one the old
 * step had pinned. */
export function tokenAfterStep(step: number, oldStep: number, token: number, promptLength: number, seqLen: number): number {
  if (step >= 0) return stepToken(step, promptLength, seqLen);
  if (oldStep >= 0 && token === stepToken(oldStep, promptLength, seqLen)) return -1;
  return token;
}

/** `step` after `token` changed: a pinned position selects the step it chose (or none); unpinning ends
 * the step, unless its position is not shown yet. */
export function stepAfterToken(token: number, step: number, promptLength: number, seqLen: number, steps: number): number {
  if (steps <= 0) return step;
  if (token >= 0) {
    const chosen = token - promptLength + 1;
    return chosen >= 0 && chosen < steps ? chosen : -1;
  }
  return step < 0 || stepToken(step, promptLength, seqLen) >= 0 ? -1 : step;
}

/** Key `key` of a step's row as text: a prompt token, or an earlier generated one. */
export function keyText(key: number, promptLength: number, promptTexts: readonly string[], generated: readonly string[]): string {
  return key < promptLength ? (promptTexts[key] ?? "") : (generated[key - promptLength] ?? "");
}

// ---- stepping ----------------------------------------------------------------------------------------

/** `step` kept in -1..steps − 1 (-1: none). */
export function clampStep(step: number, steps: number): number {
  if (!Number.isFinite(step) || steps <= 0) return -1;
  return Math.max(-1, Math.min(steps - 1, Math.trunc(step)));
}

/**
 * The step a key moves to from `step` (-1: none) among `steps`: ← → one back / on (from none, → the first
 * and ← the last), Home / End the first / last. Null for any other key, or when there is no step to go to.
 */
export function stepForKey(key: string, step: number, steps: number): number | null {
  if (steps <= 0) return null;
  const current = clampStep(step, steps);
  switch (key) {
    case "ArrowLeft":
      return current < 0 ? steps - 1 : Math.max(0, current - 1);
    case "ArrowRight":
      return current < 0 ? 0 : Math.min(steps - 1, current + 1);
    case "Home":
      return 0;
    case "End":
      return steps - 1;
    default:
      return null;
  }
}

// ---- words -------------------------------------------------------------------------------------------

/** Why a generation ended, as the status line says it. */
export const STOP_REASONS: Record<StopReason, string> = {
  eos: "the model ended the text",
  length: "max_new_tokens reached",
  stopped: "stopped",
  interrupted: "interrupted",
  error: "failed",
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The status line: "writing… 12 / 30", "wrote 30 tokens (max_new_tokens reached)"; "" without a generation. */
export function generationStatus(info: Pick<GenerationInfo, "steps" | "max_new_tokens" | "running" | "stop_reason">): string {
  if (info.running) return `writing… ${info.steps} / ${info.max_new_tokens}`;
  if (!info.steps && !info.stop_reason) return "";
  const why = info.stop_reason ? ` (${STOP_REASONS[info.stop_reason] ?? info.stop_reason})` : "";
  return `wrote ${plural(info.steps, "token")}${why}`;
}

/** How the tokens were chosen: "greedy" or "sampled · temperature 0.8 · top-k 50 · top-p 0.9 · seed 0". */
export function samplingText(s: Partial<SamplingSettings> | null | undefined): string {
  if (!s || !s.do_sample) return "greedy (the most likely token at each step)";
  const parts = ["sampled", `temperature ${s.temperature ?? 1}`];
  if (s.top_k != null) parts.push(`top-k ${s.top_k}`);
  if (s.top_p != null) parts.push(`top-p ${s.top_p}`);
  parts.push(s.seed != null ? `seed ${s.seed}` : "no seed");
  return parts.join(" · ");
}

/** A chip's exact values: "p = 0.8123 · entropy 0.532 nats". */
export function stepValues(p: number, entropy: number): string {
  return `p = ${p.toFixed(4)} · entropy ${entropy.toFixed(3)} nats`;
}

/** The selected step's header: "step 3 · “ the” · p 81% · chosen at position 18" (texts come visible from
 * Python: ↵ ⇥ ␣ ∅, attnwidget/engine/tokens.py's visible_text). */
export function stepHeader(step: number, text: string, p: number, promptLength: number): string {
  return `step ${step} · “${text}” · p ${formatProb(p)} · chosen at position ${choosingPosition(promptLength, step)}`;
}

/** Entropy (nats) that fills a chip's entropy bar: e⁵ ≈ 150 equally likely tokens; more stays full. */
export const ENTROPY_FULL = 5;

/** Fraction of the entropy bar filled. */
export function entropyFill(entropy: number): number {
  return Number.isFinite(entropy) && entropy > 0 ? Math.min(1, entropy / ENTROPY_FULL) : 0;
}

/** Fraction of the probability bar filled. */
export function probFill(p: number): number {
  return Number.isFinite(p) && p > 0 ? Math.min(1, p) : 0;
}

// ---- the strips: one per layer × head, rows = layers, columns = heads ---------------------------------

export interface StripGeometry {
  /** CSS pixels per column (a strip and the gap after it). */
  column: number;
  /** Strip width, CSS pixels. */
  strip: number;
  /** CSS pixels per layer row (a strip and the gap below it). */
  row: number;
  /** Strip height, CSS pixels. */
  height: number;
  width: number;
  totalHeight: number;
}

/** Strips over `room` px wide: columns as wide as fit (at least 12 px), rows 3..10 px (all layers within
 * about 240 px), 1 px between rows and 2 px between columns. */
export function stripGeometry(layers: number, heads: number, room: number): StripGeometry {
  const column = Math.max(12, Math.floor(room / Math.max(1, heads)));
  const row = Math.max(3, Math.min(10, Math.floor(240 / Math.max(1, layers))));
  const height = row - 1;
  return { column, strip: column - 2, row, height, width: heads * column - 2, totalHeight: layers * row - 1 };
}

/** The strip and key under (x, y) px of the strips' box (rows of `keys` keys across each strip); null in a
 * gap or outside. */
export function stripAt(
  x: number, y: number, g: StripGeometry, layers: number, heads: number, keys: number,
): { layer: number; head: number; key: number } | null {
  if (!(x >= 0 && y >= 0) || keys < 1) return null;
  const head = Math.floor(x / g.column);
  const layer = Math.floor(y / g.row);
  const dx = x - head * g.column;
  if (head >= heads || layer >= layers || dx >= g.strip) return null;
  return { layer, head, key: Math.min(keys - 1, Math.floor((dx * keys) / g.strip)) };
}

/** The x (px, from the strip's left edge) where key `key` starts in a strip `width` px wide over `keys`. */
export function keyOffset(key: number, keys: number, width: number): number {
  return keys > 0 ? (key * width) / keys : 0;
}

/** The largest value of a step's rows (the colour scale's max; 0 when there are none). */
export function maxValue(rows: Float32Array): number {
  let max = 0;
  for (let i = 0; i < rows.length; i++) if (rows[i] > max) max = rows[i];
  return max;
}
