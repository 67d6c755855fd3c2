// The synced traits of attnwidget/widgets/attention.py (AttentionWidget), mirrored; tests/test_architecture.py
// holds `WidgetTraits` to exactly the traits Python syncs. Byte layouts: attnwidget/widgets/encode.py ↔ decode.ts.
import type { AnyModel } from "@anywidget/types";

/** Bytes as anywidget hands them to the views (a DataView), or any byte view in tests and static pages. */
export type Bytes = DataView | ArrayBufferView | ArrayBuffer;

export type ColorScale = "linear" | "gamma" | "row" | "log";
export const COLOR_SCALES: readonly ColorScale[] = ["linear", "gamma", "row", "log"];
export type NeuronKind = "residual" | "mlp";
/** What the heatmap shows: attention weights αᵢⱼ, or αᵢⱼ · ‖W_Oʰ vⱼ‖ (what key j's value writes, scaled). */
export type Weighting = "attention" | "value_weighted";
export const WEIGHTINGS: readonly Weighting[] = ["attention", "value_weighted"];

/** The views (each named by its data-testid; VIEWS in attention.py): the main ones on top, then the side
 * panel's, one tab each. */
export const MAIN_VIEWS = ["token-strip", "head-grid", "heatmap"] as const;
export const PANEL_VIEWS = ["generation", "logit-lens", "effects", "ablation", "head-scores", "neuron-plot", "layer-stats"] as const;
export type PanelView = (typeof PANEL_VIEWS)[number];
export type ViewName = (typeof MAIN_VIEWS)[number] | PanelView;
/** `panel` when none of the views is a side-panel view. */
export const NO_PANEL = "none";

/** One array on the wire: what it is and its bytes (`Encoded` in encode.py); `{}` when there is none. */
export interface Encoded<Info> {
  info: Info;
  data: Bytes;
}
export type Nothing = Record<string, never>;

/** A per-head score (attnwidget/analysis/scores.py): Python sends every label the views show. */
export interface ScoreInfo {
  name: string;
  /** A few words: menus, column titles. */
  title: string;
  /** One line that says what the number is. */
  label: string;
  /** Ranked lowest first (entropy: most focused first). */
  ascending: boolean;
  /** Values lie in [0, 1]: colours span 0..1 (else the finite min..max present). */
  unit_interval: boolean;
}

export interface WidgetInfo {
  model_name: string;
  num_layers: number;
  num_heads: number;
  num_kv_heads: number;
  seq_len: number;
  is_causal: boolean;
  /** Side T of each thumbnail in `_thumbnails` (its longer side when it is rectangular). */
  thumbnail_size: number;
  /** Rows and columns of each thumbnail (absent in pages saved before them: both `thumbnail_size`). A
   * cross-attention thumbnail has rows for the decoder's tokens and columns for the source's. */
  thumbnail_rows?: number;
  thumbnail_cols?: number;
  /** Keys of each map: `seq_len` for self-attention, the source's token count for cross-attention. */
  key_len?: number;
  /** The kinds of attention of an encoder-decoder run ("encoder", "decoder", "cross"); [] (or absent) for a
   * model with one kind, whose `kind` is "". */
  kinds?: string[];
  kind?: string;
  /** What each kind is, for the kind switch's titles. */
  kind_titles?: Record<string, string>;
  /** An encoder-decoder run's two texts: the source's tokens and the decoder's (start token + target). */
  source_tokens?: string[];
  source_token_notes?: Record<string, string>;
  decoder_tokens?: string[];
  decoder_token_notes?: Record<string, string>;
  /** Whether the decoder's text was given (teacher forcing) or is the model's own output. */
  target_given?: boolean;
  /** Cross-attention: the keys' tokens (the source's). */
  key_tokens?: string[];
  /** Width of each neuron kind that can be shown; "mlp" is absent when MLP neurons were not recorded. */
  neuron_widths: Partial<Record<NeuronKind, number>>;
  /** {token index: what it holds} for tokens that hold part of a character split over several tokens
   * ("part of “🌍” (U+1F30D), completed by #3"); absent in compare panels. */
  token_notes?: Record<string, string>;
  /** The rows of `_head_scores`, in order. */
  scores: ScoreInfo[];
  /** The scores the layer-statistics view shows as its panels. */
  layer_stats: string[];
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
  /** What the values are (absent: attention, a page saved before value weighting). */
  weighting?: Weighting;
  /** A rectangular (cross-attention) map: rows × cols values (rows = size), over seq_len queries and key_len
   * keys; absent for a square map. */
  rows?: number;
  cols?: number;
  key_len?: number;
  /** The kind of attention of an encoder-decoder run the map belongs to. */
  kind?: string;
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
  weighting?: Weighting;
}

export interface NeuronsInfo {
  layer: number;
  kind: NeuronKind;
  k: number;
  seq_len: number;
  dtype: "float16";
  /** Neuron index of each row, most variable first. */
  indices: number[];
  /** Why there are no rows (k 0): none of this kind were recorded (an activation cache without them). */
  unavailable?: string;
}

/** Top next tokens per position: texts [seq][k] and float16 probabilities [seq, k] (empty for encoders). */
export interface Predictions {
  info: { k: number };
  tokens: string[][];
  data: Bytes;
}

export interface LensInfo {
  /** The position the rows describe, -1: none yet. */
  position: number;
  k: number;
  /** Set when the model has no logit lens (an encoder), saying why. */
  unavailable?: string;
}

/** The logit lens at one position: texts [layers + 1][k] (row 0 the embeddings, row l + 1 the output of
 * layer l) and float16 probabilities [layers + 1, k]. */
export interface Lens {
  info: LensInfo;
  tokens: string[][];
  data: Bytes;
}

/** `_effects`: the logit attribution at one position (attnwidget/engine/attribution.py, through the widget):
 * float32 [logit, total, embeddings, biases, mlp[0..L-1] (when `mlp`), heads[0..L*H-1] layer-major]; with a
 * contrast every number is for logit(target) − logit(contrast). */
export interface EffectsInfo {
  /** The token whose next-token logit is explained: the pinned one, else the last. */
  position: number;
  /** The target as visible text (Python made it visible: ␣ ↵ …) and its id. */
  target: string;
  target_id: number;
  contrast: string | null;
  contrast_id: number | null;
  layers: number;
  heads: number;
  /** Whether the model has MLP parts (their `layers` values are in the data). */
  mlp: boolean;
  /** The last rejected `target` / `contrast` text and why (Python kept the previous value). */
  error: string | null;
  /** Why there is no attribution (an encoder has no unembedding); the data is then empty. */
  unavailable: string | null;
}

/** `_neuron_effects`: the tokens whose logits neuron `neuron`'s output direction raises and lowers most:
 * float32 [k promoted values, k suppressed values]. */
export interface NeuronEffectsInfo {
  layer: number;
  kind: NeuronKind;
  neuron: number;
  k: number;
  promoted: string[];
  suppressed: string[];
  unavailable: string | null;
}

/** How heads are ablated: output set to 0, or to its mean over the prompt's positions. */
export type AblationMode = "zero" | "mean";
export const ABLATION_MODES: readonly AblationMode[] = ["zero", "mean"];

/** `_ablation` (attnwidget/widgets/ablation.py): the next-token predictions at `position` before → after
 * ablating `heads`; with it `tokens` (each row's visible text) and float32 [1 + 2 × rows]: KL(before ‖
 * after) in nats, then each row's log-probabilities (before, after). Rows: the top tokens before and after
 * and the target (always a row), most likely before first. */
export interface AblationInfo {
  position: number;
  target: string;
  target_id: number;
  heads: [number, number][];
  mode: AblationMode;
  /** Token id of each row. */
  ids: number[];
  /** Why there is nothing to ablate toward (an encoder); the rest is then empty. */
  unavailable: string | null;
}

export interface AblationSent {
  info: AblationInfo;
  tokens: string[];
  data: Bytes;
}

/** `_head_effects`: each head's Δ log-probability of the target when ablated alone, float32 [layers × heads]
 * layer-major, NaN for layers not computed yet; no data before it was asked for (`state` "none"). */
export interface HeadEffectsInfo {
  position: number;
  target: string;
  target_id: number;
  mode: AblationMode;
  layers: number;
  heads: number;
  /** Layers computed so far. */
  done: number;
  state: "none" | "running" | "done" | "stopped";
  unavailable: string | null;
}

/** How a generation chose its tokens (attnwidget/engine/generation.py's GenerationSettings). */
export interface SamplingSettings {
  do_sample: boolean;
  temperature: number;
  top_k: number | null;
  top_p: number | null;
  seed: number | null;
}

/** Why a generation ended: the end-of-text token, `max_new_tokens` reached, the Stop button, a kernel
 * interrupt, an error. */
export type StopReason = "eos" | "length" | "stopped" | "interrupted" | "error";

export interface GenerationInfo {
  /** Tokens of the prompt: generated token s sits at position prompt_length + s. */
  prompt_length: number;
  /** Tokens generated so far (0: the widget has no generation). */
  steps: number;
  /** Tokens asked for (0 when there is no generation). */
  max_new_tokens: number;
  /** The same as `generating`. */
  running: boolean;
  /** The recorded pass over prompt + output is in the widget (`_info`, `_tokens`, maps... include the
   * generated tokens, and `_step_rows` can hold rows); false while writing: the other views show the prompt. */
  recorded: boolean;
  stop_reason: StopReason | null;
  /** One line when the generation failed. */
  error: string | null;
  /** Alternatives per step. */
  k: number;
  sampling: SamplingSettings;
}

/** `_generation` (attnwidget/widgets/generation.py ↔ generation.ts): each generated token's display text,
 * the most likely tokens at its step (most likely first), and float32 [steps probabilities, steps entropies
 * (nats), steps × k alternative probabilities (NaN where a step has fewer than k)]. */
export interface GenerationSent {
  info: GenerationInfo;
  tokens: string[];
  alternatives: string[][];
  data: Bytes;
}

/** `_step_rows`: where every head looked when it chose each generated token, for steps first..first+count-1:
 * float16, per step layers × heads rows (layer-major) of prompt_length + step values (the causal part of the
 * attention row of position prompt_length + step − 1). count 0 before the recorded pass. */
export interface StepRowsInfo {
  first: number;
  count: number;
  prompt_length: number;
  layers: number;
  heads: number;
  dtype: "float16";
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
  /** "none" (the grid shows thumbnails), one of `_info.scores`, "attribution" (each head's logit
   * attribution to `target`, from `_effects`) or "ablation" (each head's Δ log-probability of the target
   * when ablated alone, from `_head_effects`): the grid is coloured by it. */
  head_score: string;
  /** The token whose logit the effects view explains, as text that is one token; "" = the prediction. */
  target: string;
  /** A token to explain the target against (logit difference); "" = none. */
  contrast: string;
  /** What the heatmap shows (thumbnails stay attention). */
  weighting: Weighting;
  /** The neuron chosen in the neuron plot (its real index in the layer), -1 for none. */
  neuron: number;
  /** The heatmap's zoom window [q0, q1, k0, k1] (half-open), [] when not zoomed; written by the heatmap when
   * the sent map is max-pooled (it then needs detail), or by Python to zoom the views. */
  map_window: number[];
  /** The selected generated token, -1 for none (Python pins `token` to the position that chose it). */
  step: number;
  /** Set by Python while the model writes in the background; the views stop it with {kind: "stop_generation"}. */
  generating: boolean;
  /** The heads the Ablate tab ablates, [layer, head] each, in the order they were added. */
  ablated: [number, number][];
  ablation_mode: AblationMode;
  /** The views that exist, in page order (see ViewName). */
  views: ViewName[];
  /** The side panel's open tab: one of `views` that is a PanelView, or "none" when there is none. */
  panel: PanelView | typeof NO_PANEL;
  /** Which attention of an encoder-decoder run the views show ("encoder", "decoder", "cross"; `_info.kinds`),
   * "" for other models. Python answers a change with every array of that part (a new `_info`). */
  kind: string;
  _info: WidgetInfo;
  /** Token texts, already made visible by Python (↵ ⇥ ␣ ∅). */
  _tokens: string[];
  /** uint8 [layers, heads, rows, cols] (`_info.thumbnail_rows` / `thumbnail_cols`), weight = (q / 255)². */
  _thumbnails: Bytes;
  /** float32 [scores.length, layers, heads]; NaN where a score is undefined. */
  _head_scores: Bytes;
  /** The selected head's map, float16 (see AttentionMapInfo). */
  _attention_map: Encoded<AttentionMapInfo> | Nothing;
  /** `map_window` of the selected head, {} when none. */
  _map_window: Encoded<MapWindowInfo> | Nothing;
  /** The layer's most variable neurons: float16 [k, seq_len]. */
  _neurons: Encoded<NeuronsInfo> | Nothing;
  _predictions: Predictions;
  _lens: Lens;
  _effects: Encoded<EffectsInfo> | Nothing;
  _neuron_effects: Encoded<NeuronEffectsInfo> | Nothing;
  _ablation: AblationSent | Nothing;
  _head_effects: Encoded<HeadEffectsInfo> | Nothing;
  /** The generation, step by step (absent in pages saved before generation). */
  _generation: GenerationSent;
  /** The attention rows of the steps it holds (see StepRowsInfo). */
  _step_rows: Encoded<StepRowsInfo>;
}

export type Model = AnyModel<WidgetTraits>;

/** Message that stops a generation running in the background. */
export interface StopGenerationMessage {
  kind: "stop_generation";
}

/** Message sent to Python when a person selects something (fans out to `on_select` in Python). */
export interface SelectMessage {
  kind: "select";
  source:
    | "token-strip" | "head-grid" | "heatmap" | "neuron-plot" | "layer-stats" | "head-scores" | "effects" | "ablation"
    | "generation"
    // CompareWidget's own views (attnwidget/widgets/compare.py).
    | "head-diff" | "head-diff-ranking" | "compare-diff";
  layer: number;
  head: number;
  token: number;
}
