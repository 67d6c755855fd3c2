// The synced traits of attnwidget/widgets/compare.py (CompareWidget), mirrored; tests/test_architecture.py
// holds `CompareTraits` to exactly the traits Python syncs. Byte layouts: attnwidget/widgets/encode.py, the
// numbers: attnwidget/analysis/differences.py; the patch: attnwidget/widgets/patching.py.
import type { AnyModel } from "@anywidget/types";
import type { AttentionMapInfo, Bytes, ColorScale, Encoded, Nothing } from "../model";

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
  /** Encoder-decoder runs: the compared kind ("encoder", "decoder", "cross"; "" or absent for other models)
   * and, for cross-attention (keys: each run's source tokens), each prompt's key count, source tokens and
   * thumbnail rows × cols. */
  kind?: string;
  key_lens?: number[];
  key_tokens?: string[][];
  thumbnail_rows?: number[];
  thumbnail_cols?: number[];
  /** Metrics present in `_head_diff` (in its order) and their descriptions. */
  metrics: Metric[];
  metric_labels: string[];
  /** Rows of each prompt's block of `_head_stats`: the length-free scores, with their labels. */
  stats: { name: string; title: string; label: string }[];
  /** How many heads the ranking lists. */
  ranking_size: number;
}

/** What `_patch` describes (attnwidget/widgets/patching.py): head (layer, head) of prompt pair[0] (A)
 * patched into prompt pair[1] (B)'s run, read after the last token. */
export interface PatchInfo {
  pair: [number, number];
  layer: number;
  head: number;
  /** "all": every position patched (same token count); "last": B's last position from A's last. */
  positions: "all" | "last";
  source_position: number;
  target_position: number;
  /** A's and B's top next tokens (visible text) and ids. */
  source_top: string;
  target_top: string;
  source_top_id: number;
  target_top_id: number;
  same_top: boolean;
  /** Token ids of the rows (A's top first, then B's top, then B's top-k before and after). */
  ids: number[];
  /** Rows of B's top-k before and after the patch, most likely first. */
  before: number[];
  after: number[];
  k: number;
  /** Why nothing can be patched (an encoder predicts no next token); null otherwise. */
  unavailable: string | null;
}

/** `_patch`: data float32 [5 + 3 × rows]: fraction moved (NaN: undefined), LD in A, B, B patched (NaN when
 * the tops are the same), Δ log-prob of B's top; then per row its log-prob in A, B and B patched. */
export interface EncodedPatch extends Encoded<PatchInfo> {
  tokens: string[];
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
  /** [a, b]: "patch a → b" takes the selected head's output in b's run from a's run. */
  patch_pair: [number, number];
  /** Whether Python computes the patch for the selected head (the "patch" button). */
  patching: boolean;
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
  /** The selected head patched from patch_pair[0] into patch_pair[1]; {} while `patching` is off. */
  _patch: EncodedPatch | Nothing;
}

export type CompareModel = AnyModel<CompareTraits>;
