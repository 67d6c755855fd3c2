// Pure computations of the compare views (tested in logic.test.ts). Ranking and colours are the single
// widget's own (ranking.ts, color.ts).
import { decodeFloat32 } from "../decode";
import type { CompareInfo, EncodedPatch, Metric, PatchInfo } from "./model";

/** One metric's [layers × heads] block of `_head_diff` (float32 [metrics, layers, heads]). */
export function metricScores(all: Float32Array, info: CompareInfo, metric: Metric): Float32Array {
  const index = Math.max(0, info.metrics.indexOf(metric));
  const size = info.num_layers * info.num_heads;
  return all.subarray(index * size, (index + 1) * size);
}

/** Statistic `stat` of prompt `prompt` for (layer, head), from `_head_stats`. */
export function headStat(
  stats: Float32Array, info: CompareInfo, prompt: number, stat: number, layer: number, head: number,
): number {
  const { num_layers: layers, num_heads: heads } = info;
  return stats[((prompt * info.stats.length + stat) * layers + layer) * heads + head];
}

/** b − a, elementwise (maps of one size); cells masked by a causal model stay 0 in both. */
export function differenceMap(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length !== b.length) throw new Error(`maps differ in size: ${a.length} vs ${b.length}`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = b[i] - a[i];
  return out;
}

/** Pairs of prompts whose difference map can be drawn (same number of tokens). */
export function comparablePairs(seqLens: number[]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let a = 0; a < seqLens.length; a++) {
    for (let b = a + 1; b < seqLens.length; b++) if (seqLens[a] === seqLens[b]) pairs.push([a, b]);
  }
  return pairs;
}

/** Every ordered pair of prompts (a → b, a ≠ b): the choices of "patch a → b", in reading order. */
export function orderedPairs(count: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let a = 0; a < count; a++) {
    for (let b = 0; b < count; b++) if (a !== b) pairs.push([a, b]);
  }
  return pairs;
}

/** One row of `_patch`: a token and its log-probability in A's run, B's run and B's patched run. */
export interface PatchRow {
  id: number;
  token: string;
  source: number;
  target: number;
  patched: number;
}

/** `_patch` decoded (layout: compare/model.ts EncodedPatch). */
export interface PatchNumbers {
  info: PatchInfo;
  /** (LD_patched − LD_B) / (LD_A − LD_B); NaN when A and B predict the same token. */
  fraction: number;
  /** LD = log p(A's top) − log p(B's top), in A's run, B's run and B patched (NaN when the tops are one). */
  ld: { source: number; target: number; patched: number };
  /** B's top token: log p after − before. */
  delta: number;
  rows: PatchRow[];
  sourceTop: PatchRow;
  targetTop: PatchRow;
  before: PatchRow[];
  after: PatchRow[];
}

/** `_patch` → its numbers; null when it holds none (off, unavailable, or not the size its info says). */
export function decodePatch(patch: EncodedPatch | Record<string, never> | undefined): PatchNumbers | null {
  if (!patch || !("info" in patch) || patch.info.unavailable || !patch.info.ids.length) return null;
  const { info } = patch;
  const values = decodeFloat32(patch.data);
  const count = info.ids.length;
  if (values.length !== 5 + 3 * count) return null;
  const rows = info.ids.map((id, i) => ({
    id, token: patch.tokens[i] ?? "", source: values[5 + 3 * i], target: values[6 + 3 * i], patched: values[7 + 3 * i],
  }));
  const byId = (id: number) => rows[Math.max(0, info.ids.indexOf(id))];
  return {
    info,
    fraction: values[0],
    ld: { source: values[1], target: values[2], patched: values[3] },
    delta: values[4],
    rows,
    sourceTop: byId(info.source_top_id),
    targetTop: byId(info.target_top_id),
    before: info.before.map((r) => rows[r]),
    after: info.after.map((r) => rows[r]),
  };
}

/** Whether `_patch` is the patch of this pair and head. */
export function patchIsFor(info: PatchInfo | undefined, pair: [number, number], layer: number, head: number): boolean {
  return !!info && info.pair[0] === pair[0] && info.pair[1] === pair[1] && info.layer === layer && info.head === head;
}

/** The fraction moved on the 0..1 bar: the filled share (clamped) and which side it left the bar, if any. */
export function fractionBar(fraction: number): { fill: number; beyond: "below" | "above" | null } {
  if (!Number.isFinite(fraction)) return { fill: 0, beyond: null };
  return { fill: Math.min(1, Math.max(0, fraction)), beyond: fraction < 0 ? "below" : fraction > 1 ? "above" : null };
}
