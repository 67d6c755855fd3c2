// Pure computations of the compare views (tested in logic.test.ts).
import type { CompareInfo, Metric } from "./model";

export interface RankedHead {
  layer: number;
  head: number;
  score: number;
}

/** The `k` largest of scores [layers × heads], largest first; ties go to the lower layer, then head. */
export function rankHeads(scores: Float32Array, layers: number, heads: number, k: number): RankedHead[] {
  const order = Array.from({ length: layers * heads }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.max(0, k)).map((i) => ({ layer: Math.floor(i / heads), head: i % heads, score: scores[i] }));
}

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
  return stats[((prompt * info.stat_names.length + stat) * layers + layer) * heads + head];
}

/** b − a, elementwise (maps of one size); cells masked by a causal model stay 0 in both. */
export function differenceMap(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length !== b.length) throw new Error(`maps differ in size: ${a.length} vs ${b.length}`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = b[i] - a[i];
  return out;
}

export function maxAbs(values: Float32Array): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]);
    if (v > max) max = v;
  }
  return max;
}

/**
 * Signed differences → intensities in [0, 1]: 0.5 for zero, 0 for −`range`, 1 for +`range` (one symmetric
 * scale over the whole map, so colours compare between cells); MASKED (-1) above a causal diagonal.
 */
export function divergingLevels(diff: Float32Array, size: number, range: number, causal: boolean): Float32Array {
  const out = new Float32Array(size * size);
  const half = range > 0 ? 0.5 / range : 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const i = r * size + c;
      if (causal && c > r) out[i] = -1;
      else out[i] = Math.min(1, Math.max(0, 0.5 + diff[i] * half));
    }
  }
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
