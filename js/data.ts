// The model's arrays, decoded once per bytes object (two displays of one widget decode once); what they are
// (`info`) is read from the trait every time.
import { decodeAttentionMap, decodeFloat16, decodeFloat32, decodeThumbnails } from "./decode";
import { type Effects, type NeuronEffects, decodeEffects, decodeNeuronEffects } from "./effects";
import { type DecodedAblation, decodeAblation } from "./ablation";
import { type DecodedGeneration, decodeGeneration } from "./generation";
import type {
  AblationInfo, AblationSent, AttentionMapInfo, Bytes, EffectsInfo, GenerationInfo, GenerationSent, HeadEffectsInfo, Encoded,
  LensInfo, MapWindowInfo, Model, NeuronEffectsInfo, NeuronsInfo, ScoreInfo, StepRowsInfo, WidgetInfo,
} from "./model";

const cache = new WeakMap<object, unknown>();

function memo<T>(key: Bytes, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}

const isEmpty = (bytes: Bytes | null | undefined): bytes is undefined | null => !bytes || bytes.byteLength === 0;

/** An `{info, data}` value with bytes in it, or null for `{}` (nothing sent). */
function encoded<I>(value: Encoded<I> | Record<string, never> | undefined): Encoded<I> | null {
  return value && "data" in value && !isEmpty(value.data) ? (value as Encoded<I>) : null;
}

export function info(model: Model): WidgetInfo {
  return model.get("_info");
}

export function tokens(model: Model): string[] {
  return model.get("_tokens");
}

/** Rows × columns of each thumbnail (T × T, but for cross-attention: decoder tokens × source tokens). */
export function thumbnailShape(i: WidgetInfo): { rows: number; cols: number } {
  return { rows: i.thumbnail_rows ?? i.thumbnail_size, cols: i.thumbnail_cols ?? i.thumbnail_size };
}

/** Whether the maps' keys are another text's tokens (cross-attention): drawn rectangular, rows the queries. */
export function isCross(i: WidgetInfo): boolean {
  return i.kind === "cross";
}

/** Per head (index layer * heads + head): rows × cols weights (T × T for self-attention). */
export function thumbnails(model: Model): Float32Array[] {
  const i = info(model);
  const bytes = model.get("_thumbnails");
  if (isEmpty(bytes)) return [];
  const { rows, cols } = thumbnailShape(i);
  return memo(bytes, () => decodeThumbnails(bytes, i.num_layers, i.num_heads, rows, cols));
}

/** Every per-head score, float32 [scores, layers, heads]. */
function allScores(model: Model): Float32Array {
  const bytes = model.get("_head_scores");
  return isEmpty(bytes) ? new Float32Array(0) : memo(bytes, () => decodeFloat32(bytes));
}

export interface ScoreValues extends ScoreInfo {
  /** [layers × heads], NaN where undefined. */
  values: Float32Array;
}

/** One per-head score with its values, or null when the widget has none of that name. */
export function score(model: Model, name: string): ScoreValues | null {
  const i = info(model);
  const index = (i.scores ?? []).findIndex((s) => s.name === name);
  const size = i.num_layers * i.num_heads;
  const all = allScores(model);
  if (index < 0 || all.length < (index + 1) * size) return null;
  return { ...i.scores[index], values: all.subarray(index * size, (index + 1) * size) };
}

export interface DecodedMap {
  info: AttentionMapInfo;
  weights: Float32Array;
}

export function attentionMap(model: Model): DecodedMap | null {
  const sent = encoded<AttentionMapInfo>(model.get("_attention_map"));
  return sent && { info: sent.info, weights: memo(sent.data, () => decodeAttentionMap(sent.data, sent.info)) };
}

export interface DecodedWindow {
  info: MapWindowInfo;
  weights: Float32Array;
}

/** The zoom window of the selected head sent for `map_window` (null when none). */
export function mapWindow(model: Model): DecodedWindow | null {
  const sent = encoded<MapWindowInfo>(model.get("_map_window"));
  if (!sent || sent.data.byteLength !== sent.info.rows * sent.info.cols * 2) return null;
  return { info: sent.info, weights: memo(sent.data, () => decodeFloat16(sent.data)) };
}

export interface DecodedNeurons {
  info: NeuronsInfo;
  values: Float32Array;
}

export function neurons(model: Model): DecodedNeurons | null {
  const sent = encoded<NeuronsInfo>(model.get("_neurons"));
  return sent && { info: sent.info, values: memo(sent.data, () => decodeFloat16(sent.data)) };
}

/** Why the neuron plot has no rows ("" when it has them): none of the kind were recorded. */
export function neuronsUnavailable(model: Model): string {
  const sent = model.get("_neurons") as Partial<Encoded<NeuronsInfo>> | undefined;
  return sent?.info?.unavailable ?? "";
}

export interface TopTokens {
  /** Texts [rows][k]. */
  tokens: string[][];
  /** Probabilities [rows × k]. */
  probs: Float32Array;
  k: number;
}

/** The top next tokens at each position (no rows for encoders). */
export function predictions(model: Model): TopTokens {
  const sent = model.get("_predictions");
  const k = sent?.info?.k ?? 0;
  if (!sent || isEmpty(sent.data) || !k) return { tokens: [], probs: new Float32Array(0), k: 0 };
  return { tokens: sent.tokens, probs: memo(sent.data, () => decodeFloat16(sent.data)), k };
}

export interface DecodedLens extends TopTokens {
  info: LensInfo;
  /** Rows × k texts and probabilities are all there. */
  complete: boolean;
}

/** The logit lens at `info.position` (rows: embeddings, then each layer's output). */
export function lens(model: Model): DecodedLens {
  const sent = model.get("_lens");
  const lensInfo: LensInfo = sent?.info ?? { position: -1, k: 0 };
  const rows = sent?.tokens ?? [];
  const k = lensInfo.k ?? 0;
  const probs = !sent || isEmpty(sent.data) ? new Float32Array(0) : memo(sent.data, () => decodeFloat16(sent.data));
  const complete = rows.length > 0 && k > 0 && probs.length === rows.length * k && rows.every((r) => r.length === k);
  return { info: lensInfo, tokens: rows, probs, k, complete };
}

/** What `_effects` holds: its info (null before Python sent any: a page saved before attribution) and the
 * decoded parts (null when there are none: unavailable, or bytes of the wrong length). */
export function effects(model: Model): { info: EffectsInfo | null; parts: Effects | null } {
  const sent = model.get("_effects") as Partial<Encoded<EffectsInfo>> | undefined;
  const effectsInfo = sent && sent.info && typeof sent.info === "object" ? (sent.info as EffectsInfo) : null;
  const bytes = sent?.data;
  if (!effectsInfo || isEmpty(bytes)) return { info: effectsInfo, parts: null };
  return { info: effectsInfo, parts: memo(bytes, () => decodeEffects(effectsInfo, decodeFloat32(bytes))) };
}

/** The chosen neuron's promoted and suppressed tokens (null when none is chosen). */
export function neuronEffects(model: Model): { info: NeuronEffectsInfo; effects: NeuronEffects | null } | null {
  const sent = model.get("_neuron_effects") as Partial<Encoded<NeuronEffectsInfo>> | undefined;
  const effectsInfo = sent && sent.info && typeof sent.info === "object" ? (sent.info as NeuronEffectsInfo) : null;
  if (!effectsInfo) return null;
  const bytes = sent?.data;
  const decoded = isEmpty(bytes) ? null : memo(bytes, () => decodeNeuronEffects(effectsInfo, decodeFloat32(bytes)));
  return { info: effectsInfo, effects: decoded };
}

/** What `_ablation` holds: its info (null before Python sent any: a page saved before ablation) and the
 * numbers before → after (null when unavailable). */
export function ablation(model: Model): { info: AblationInfo | null; shown: DecodedAblation | null } {
  const sent = model.get("_ablation") as Partial<AblationSent> | undefined;
  const ablationInfo = sent && sent.info && typeof sent.info === "object" ? (sent.info as AblationInfo) : null;
  const bytes = sent?.data;
  if (!ablationInfo || isEmpty(bytes)) return { info: ablationInfo, shown: null };
  const texts = sent?.tokens ?? [];
  return { info: ablationInfo, shown: memo(bytes, () => decodeAblation(ablationInfo, texts, decodeFloat32(bytes))) };
}

/** What `_head_effects` holds: its info (null in a page saved before it) and the values, float32 [layers ×
 * heads] with NaN for layers not computed (null when none were asked for). */
export function headEffects(model: Model): { info: HeadEffectsInfo | null; values: Float32Array | null } {
  const sent = model.get("_head_effects") as Partial<Encoded<HeadEffectsInfo>> | undefined;
  const effectsInfo = sent && sent.info && typeof sent.info === "object" ? (sent.info as HeadEffectsInfo) : null;
  const bytes = sent?.data;
  if (!effectsInfo || isEmpty(bytes)) return { info: effectsInfo, values: null };
  const values = memo(bytes, () => decodeFloat32(bytes));
  return { info: effectsInfo, values: values.length === effectsInfo.layers * effectsInfo.heads ? values : null };
}

/** What `_generation` holds: its info (null in a page saved before generation) and the steps decoded (null
 * when there are none, or the counts disagree). */
export function generation(model: Model): { info: GenerationInfo | null; decoded: DecodedGeneration | null; tokens: string[] } {
  const sent = model.get("_generation") as Partial<GenerationSent> | undefined;
  const generationInfo = sent && sent.info && typeof sent.info === "object" ? (sent.info as GenerationInfo) : null;
  const texts = Array.isArray(sent?.tokens) ? sent.tokens : [];
  const bytes = sent?.data;
  if (!generationInfo || isEmpty(bytes)) return { info: generationInfo, decoded: null, tokens: texts };
  const alternatives = Array.isArray(sent?.alternatives) ? sent.alternatives : [];
  const decoded = memo(bytes, () => decodeGeneration(generationInfo, texts, alternatives, decodeFloat32(bytes)));
  return { info: generationInfo, decoded, tokens: texts };
}

/** `_step_rows`: which steps it holds (null in a page saved before generation) and its values. */
export function stepRows(model: Model): { info: StepRowsInfo | null; values: Float32Array } {
  const sent = model.get("_step_rows") as Partial<Encoded<StepRowsInfo>> | undefined;
  const rowsInfo = sent && sent.info && typeof sent.info === "object" ? (sent.info as StepRowsInfo) : null;
  const bytes = sent?.data;
  if (!rowsInfo || isEmpty(bytes)) return { info: rowsInfo, values: new Float32Array(0) };
  return { info: rowsInfo, values: memo(bytes, () => decodeFloat16(bytes)) };
}
