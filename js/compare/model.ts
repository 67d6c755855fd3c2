// The synced traits of attnwidget/widgets/compare.py (CompareWidget), mirrored; tests/test_architecture.py
// holds `CompareTraits` to exactly the traits Python syncs. Byte layouts: attnwidget/widgets/encode.py, the
// numbers: attnwidget/analysis/differences.py.
import type { AnyModel } from "@anywidget/types";
import type { AttentionMapInfo, Bytes, ColorScale, Encoded } from "../model";

export type Metric = "js" | "tv" | "stats";

export interface CompareInfo {
  model_name: string;
  num_layers: number;
  num_heads: number;
  num_kv_heads: number;
  is_causal: boolean;
  /** One entry per prompt, in order. */
  prompts: string[];
  labels: string[];
  seq_lens: number[];
  /** Side T of each prompt's thumbnails in `_thumbnails[i]`. */
  thumbnail_sizes: number[];
  /** Metrics present in `_head_diff` (in its order) and their descriptions. */
  metrics: Metric[];
  metric_labels: string[];
  /** Rows of each prompt's block of `_head_stats`: the length-free scores, with their labels. */
  stats: { name: string; title: string; label: string }[];
  /** How many heads the ranking lists. */
  ranking_size: number;
}

export interface CompareTraits {
  layer: number;
  head: number;
  /** Pinned token index, -1 for none; shared by every panel (a panel shorter than it shows none). */
  token: number;
  hovered_token: number;
  color_scale: ColorScale;
  metric: Metric;
  /** [a, b]: the difference map shows prompt b minus prompt a. */
  diff_pair: [number, number];
  _info: CompareInfo;
  _tokens: string[][];
  /** Per prompt: uint8 [layers, heads, T, T], weight = (q / 255)². */
  _thumbnails: Bytes[];
  /** Per prompt: the selected head's map, float16 (see AttentionMapInfo). */
  _maps: Encoded<AttentionMapInfo>[];
  /** float32 [metrics.length, layers, heads]. */
  _head_diff: Bytes;
  /** float32 [prompts, stats.length, layers, heads]. */
  _head_stats: Bytes;
}

export type CompareModel = AnyModel<CompareTraits>;
