// Pure computations of the compare views (tested in logic.test.ts). Ranking and colours are the single
// widget's own (ranking.ts, color.ts).
import type { CompareInfo, Metric } from "./model";

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
