// Decoded arrays, cached per bytes object so two displays of one widget decode once.
import { decodeAttentionMap, decodeFloat16, decodeFloat32, decodeThumbnails } from "./decode";
import type { AttentionMapInfo, Bytes, MapWindowInfo, Model, NeuronsInfo, WidgetInfo } from "./model";

const cache = new WeakMap<object, unknown>();

function memo<T>(key: Bytes, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}

const isEmpty = (bytes: Bytes | null | undefined) => !bytes || bytes.byteLength === 0;

export function info(model: Model): WidgetInfo {
  return model.get("_info");
}

export function tokens(model: Model): string[] {
  return model.get("_tokens");
}

/** Per head (index layer * heads + head): T × T weights. */
export function thumbnails(model: Model): Float32Array[] {
  const i = info(model);
  const bytes = model.get("_thumbnails");
  if (isEmpty(bytes)) return [];
  return memo(bytes, () => decodeThumbnails(bytes, i.num_layers, i.num_heads, i.thumbnail_size));
}

/** [stats, layers, heads] float32. */
export function stats(model: Model): Float32Array {
  const bytes = model.get("_stats");
  return isEmpty(bytes) ? new Float32Array(0) : memo(bytes, () => decodeFloat32(bytes));
}

export interface DecodedMap {
  info: AttentionMapInfo;
  weights: Float32Array;
}

export function attentionMap(model: Model): DecodedMap | null {
  const bytes = model.get("_attention_map");
  const mapInfo = model.get("_attention_map_info");
  if (isEmpty(bytes) || !mapInfo || mapInfo.size === undefined) return null;
  return memo(bytes, () => ({ info: mapInfo, weights: decodeAttentionMap(bytes, mapInfo) }));
}

export interface DecodedNeurons {
  info: NeuronsInfo;
  values: Float32Array;
}

export function neurons(model: Model): DecodedNeurons | null {
  const bytes = model.get("_neurons");
  const neuronsInfo = model.get("_neurons_info");
  if (isEmpty(bytes) || !neuronsInfo || neuronsInfo.k === undefined) return null;
  return memo(bytes, () => ({ info: neuronsInfo, values: decodeFloat16(bytes) }));
}

export function predictionProbs(model: Model): Float32Array {
  const bytes = model.get("_prediction_probs");
  return isEmpty(bytes) ? new Float32Array(0) : memo(bytes, () => decodeFloat16(bytes));
}

/** Logit lens probabilities, float32 [layers + 1, k]. */
export function lensProbs(model: Model): Float32Array {
  const bytes = model.get("_lens_probs");
  return isEmpty(bytes) ? new Float32Array(0) : memo(bytes, () => decodeFloat16(bytes));
}

export interface DecodedWindow {
  info: MapWindowInfo;
  weights: Float32Array;
}

/** The zoom window of the selected head sent for `map_window` (null when none). */
export function mapWindow(model: Model): DecodedWindow | null {
  const bytes = model.get("_map_window");
  const windowInfo = model.get("_map_window_info");
  if (!bytes || isEmpty(bytes) || !windowInfo || !("rows" in windowInfo)) return null;
  const info = windowInfo as MapWindowInfo;
  if (bytes.byteLength !== info.rows * info.cols * 2) return null;
  return memo(bytes, () => ({ info, weights: decodeFloat16(bytes) }));
}
