// The one ranking of heads in the views: the mirror of top_heads in attnwidget/analysis/scores.py.

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
export function rankHeads(values: ArrayLike<number>, heads: number, ascending = false, k = Infinity): RankedHead[] {
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
