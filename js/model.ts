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

export interface NeuronsInfo {
  layer: number;
  kind: NeuronKind;
  k: number;
  seq_len: number;
  dtype: "float16";
  /** Neuron index of each row of `_neurons`, most variable first. */
  indices: number[];
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
  _info: WidgetInfo;
  _tokens: string[];
  /** uint8 [layers, heads, T, T], weight = (q / 255)². */
  _thumbnails: Bytes;
  /** float32 [stat_names.length, layers, heads]. */
  _stats: Bytes;
  /** float16, see AttentionMapInfo. */
  _attention_map: Bytes;
  _attention_map_info: AttentionMapInfo;
  /** float16 [k, seq_len]. */
  _neurons: Bytes;
  _neurons_info: NeuronsInfo;
  /** Top next-token predictions per position (empty for encoders), and float16 [seq_len, k] probabilities. */
  _predictions: string[][];
  _prediction_probs: Bytes;
}

export type Model = AnyModel<WidgetTraits>;

/** Message sent to Python when a person selects something (fans out to AttentionWidget.on_select). */
export interface SelectMessage {
  kind: "select";
  source:
    | "token-strip" | "head-grid" | "heatmap" | "neuron-plot" | "layer-stats"
    // CompareWidget's own views (attnwidget/compare.py).
    | "head-diff" | "head-diff-ranking" | "compare-diff";
  layer: number;
  head: number;
  token: number;
}
