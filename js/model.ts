// The synced traits of attnwidget.widget.AttentionWidget, mirrored. Byte layouts: attnwidget/encode.py.
import type { AnyModel } from "@anywidget/types";

/** Bytes as anywidget hands them to the views (a DataView), or any byte view in tests and static pages. */
export type Bytes = DataView | ArrayBufferView | ArrayBuffer;

export type ColorScale = "linear" | "gamma" | "row" | "log";
export const COLOR_SCALES: readonly ColorScale[] = ["linear", "gamma", "row", "log"];
export type NeuronKind = "residual" | "mlp";

export interface WidgetInfo {
  model_name: string;
  num_layers: number;
  num_heads: number;
  num_kv_heads: number;
  seq_len: number;
  is_causal: boolean;
  /** Side T of each thumbnail in `_thumbnails`. */
  thumbnail_size: number;
  /** Names of the rows of `_stats` ("peak", "entropy", "first", "previous") and their descriptions. */
  stat_names: string[];
  stat_labels: string[];
  /** Width of each neuron kind that can be shown; "mlp" is absent when MLP neurons were not recorded. */
  neuron_widths: Partial<Record<NeuronKind, number>>;
  /** Rows of `_head_scores` (attnwidget.scores.SCORE_NAMES), what each measures, and which rank low first
   * (absent where a model of these traits has no head scores: the compare panels). */
  score_names?: string[];
  score_labels?: string[];
  score_ascending?: boolean[];
}

export interface AttentionMapInfo {
  layer: number;
  head: number;
  dtype: "float16";
  /** Side n of the map; n < seq_len means max-pooled over bins floor(i * seq_len / n). */
  size: number;
  seq_len: number;
  /** "lower": row i holds its i + 1 values, rows concatenated; "full": n × n. */
  layout: "lower" | "full";
  pooled: boolean;
}

/** `_map_window`: queries [q0, q1) × keys [k0, k1) of head (layer, head), float16 rows × cols row-major,
 * each axis max-pooled (bins floor(i·len/n)) when longer than 1024 (`pooled`); later keys of a causal map are 0. */
export interface MapWindowInfo {
  layer: number;
  head: number;
  dtype: "float16";
  layout: "full";
  q0: number;
  q1: number;
  k0: number;
  k1: number;
  rows: number;
  cols: number;
  seq_len: number;
  pooled: boolean;
}

export interface NeuronsInfo {
  layer: number;
  kind: NeuronKind;
  k: number;
  seq_len: number;
  dtype: "float16";
  /** Neuron index of each row of `_neurons`, most variable first. */
  indices: number[];
}

/** Which position `_lens_tokens` / `_lens_probs` describe (-1: none yet). */
export interface LensInfo {
  position: number;
  k: number;
  /** Set when the model has no logit lens (an encoder), saying why. */
  unavailable?: string;
}

export interface WidgetTraits {
  layer: number;
  head: number;
  /** Pinned token, -1 for none. */
  token: number;
  /** Token under the pointer, -1 for none; written by the views, sent to Python throttled. */
  hovered_token: number;
  color_scale: ColorScale;
  neuron_kind: NeuronKind;
  neuron_k: number;
  /** "none" (the grid shows thumbnails) or one of `_info.score_names` (the grid is coloured by it). */
  head_score: string;
  _info: WidgetInfo;
  _tokens: string[];
  /** uint8 [layers, heads, T, T], weight = (q / 255)². */
  _thumbnails: Bytes;
  /** float32 [stat_names.length, layers, heads]. */
  _stats: Bytes;
  /** float32 [score_names.length, layers, heads]; NaN where a score is undefined. */
  _head_scores: Bytes;
  /** float16, see AttentionMapInfo. */
  _attention_map: Bytes;
  _attention_map_info: AttentionMapInfo;
  /** The heatmap's zoom window [q0, q1, k0, k1] (half-open), [] when not zoomed; written by the heatmap when
   * the sent map is max-pooled (it then needs detail), or by Python to zoom the views. Absent in
   * CompareWidget panels and older exported states. */
  map_window?: number[];
  /** That window of the selected head (MapWindowInfo), empty / {} when none. */
  _map_window?: Bytes;
  _map_window_info?: MapWindowInfo | Record<string, never>;
  /** float16 [k, seq_len]. */
  _neurons: Bytes;
  _neurons_info: NeuronsInfo;
  /** Top next-token predictions per position (empty for encoders), and float16 [seq_len, k] probabilities. */
  _predictions: string[][];
  _prediction_probs: Bytes;
  /** Logit lens at `_lens_info.position`: top-k token texts per row (row 0 = embeddings, row l + 1 = output
   * of layer l), and float16 [layers + 1, k] probabilities. */
  _lens_tokens: string[][];
  _lens_probs: Bytes;
  _lens_info: LensInfo;
}

export type Model = AnyModel<WidgetTraits>;

/** Message sent to Python when a person selects something (fans out to AttentionWidget.on_select). */
export interface SelectMessage {
  kind: "select";
  source:
    | "token-strip" | "head-grid" | "heatmap" | "neuron-plot" | "layer-stats" | "head-scores"
    // CompareWidget's own views (attnwidget/compare.py).
    | "head-diff" | "head-diff-ranking" | "compare-diff";
  layer: number;
  head: number;
  token: number;
}
