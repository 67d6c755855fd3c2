// The Ablate tab's numbers (attnwidget/widgets/ablation.py sends them): the predictions before → after
// ablating a set of heads, the set itself (the `ablated` trait) and each head's effect ablated alone. Pure,
// tested in ablation.test.ts; the view is views/ablation.ts.
import type { AblationInfo, HeadEffectsInfo } from "./model";

export type HeadPair = [number, number];

/** One next token before and after: log-probabilities and their change. */
export interface PredictionRow {
  id: number;
  text: string;
  before: number;
  after: number;
  /** after − before (log-probability). */
  delta: number;
  isTarget: boolean;
}

/** What `_ablation`'s bytes say: the KL divergence and the rows. */
export interface DecodedAblation {
  /** KL(before ‖ after) over the vocabulary, nats. */
  kl: number;
  rows: PredictionRow[];
  /** The target's row. */
  target: PredictionRow;
}

/** `_ablation`'s float32 [KL, then (before, after) per row] with the rows' texts; null when the counts
 * disagree or the target is not a row. */
export function decodeAblation(
  info: Pick<AblationInfo, "ids" | "target_id">, texts: string[], values: Float32Array,
): DecodedAblation | null {
  const ids = info.ids ?? [];
  if (texts.length !== ids.length || values.length !== 1 + 2 * ids.length) return null;
  const rows = ids.map((id, r) => ({
    id,
    text: texts[r],
    before: values[1 + 2 * r],
    after: values[2 + 2 * r],
    delta: values[2 + 2 * r] - values[1 + 2 * r],
    isTarget: id === info.target_id,
  }));
  const target = rows.find((row) => row.isTarget);
  return target ? { kl: values[0], rows, target } : null;
}

/** Whether (layer, head) is in the set. */
export function hasHead(set: readonly HeadPair[] | undefined, layer: number, head: number): boolean {
  return (set ?? []).some(([l, h]) => l === layer && h === head);
}

/** The set with (layer, head) added at the end, or removed when it is there (shift-click). */
export function toggleHead(set: readonly HeadPair[] | undefined, layer: number, head: number): HeadPair[] {
  const current = set ?? [];
  return hasHead(current, layer, head)
    ? current.filter(([l, h]) => l !== layer || h !== head).map(([l, h]) => [l, h] as HeadPair)
    : [...current.map(([l, h]) => [l, h] as HeadPair), [layer, head]];
}

/** Whether two sets hold the same heads (order aside): is what Python sent for the set shown? */
export function sameHeads(a: readonly HeadPair[] | undefined, b: readonly HeadPair[] | undefined): boolean {
  const key = (set: readonly HeadPair[] | undefined) => (set ?? []).map(([l, h]) => `${l}:${h}`).sort().join(",");
  return key(a) === key(b);
}

/** A probability as the rows print it: "42.1%", "0.37%", "<0.01%". */
export function formatProbability(logprob: number): string {
  const p = Math.exp(logprob) * 100;
  if (!Number.isFinite(p)) return "–";
  if (p >= 9.95) return `${p.toFixed(1)}%`;
  if (p >= 0.01) return `${p.toPrecision(2)}%`;
  return "<0.01%";
}

/** Where the head effects stand, in words, for the line under the button. */
export function headEffectsStatus(info: HeadEffectsInfo | null, total: number): string {
  if (!info || info.state === "none") return "";
  const what = `Δ log p(“${info.target}”) at #${info.position}, ${info.mode} ablation`;
  if (info.state === "running") return `computing: layer ${info.done} of ${total} · ${what}`;
  if (info.state === "stopped") return `stopped after ${info.done} of ${total} layers · ${what}`;
  return what;
}
