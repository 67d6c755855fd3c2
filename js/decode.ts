// Bytes from attnwidget/widgets/encode.py → typed arrays: this file mirrors it (every layout is described there).
import type { AttentionMapInfo, Bytes } from "./model";

/** A Uint8Array over the same memory (no copy). */
export function asUint8(bytes: Bytes): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One IEEE 754 half (as its 16 bits) → number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

let halfTable: Float32Array | null = null;
function table(): Float32Array {
  if (!halfTable) {
    // Built from bit patterns (a float32 holds every half exactly): sign, exponent rebias, fraction shift.
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = (h & 0x8000) << 16;
      const exponent = (h >> 10) & 0x1f;
      const fraction = h & 0x3ff;
      if (exponent === 0x1f) bits[h] = sign | 0x7f800000 | (fraction << 13);
      else if (exponent !== 0) bits[h] = sign | ((exponent + 112) << 23) | (fraction << 13);
      else bits[h] = 0; // subnormal or zero: filled below
    }
    halfTable = new Float32Array(bits.buffer);
    for (let f = 0; f < 0x400; f++) {
      halfTable[f] = f * 2 ** -24;
      halfTable[0x8000 | f] = -f * 2 ** -24;
    }
  }
  return halfTable;
}

/** Little-endian float16 bytes → Float32Array. */
export function decodeFloat16(bytes: Bytes): Float32Array {
  const u8 = asUint8(bytes);
  const count = u8.length >> 1;
  const halves = u8.byteOffset % 2 === 0 ? new Uint16Array(u8.buffer, u8.byteOffset, count) : new Uint16Array(u8.slice(0, count * 2).buffer);
  const out = new Float32Array(count);
  const lut = table();
  for (let i = 0; i < count; i++) out[i] = lut[halves[i]];
  return out;
}

/** Little-endian float32 bytes → Float32Array (copied, so alignment never matters). */
export function decodeFloat32(bytes: Bytes): Float32Array {
  const u8 = asUint8(bytes);
  const copy = new Uint8Array(u8.length - (u8.length % 4));
  copy.set(u8.subarray(0, copy.length));
  return new Float32Array(copy.buffer);
}

/** Square-root companded bytes (q = round(255 √w)) → weights (q / 255)². */
export function expandSqrtUint8(codes: Uint8Array): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const x = codes[i] / 255;
    out[i] = x * x;
  }
  return out;
}

/** Rows of a lower triangle (row i has i + 1 values) → n × n, zeros above the diagonal. */
export function unpackLower(values: Float32Array, n: number): Float32Array {
  if (values.length !== (n * (n + 1)) / 2) {
    throw new Error(`lower triangle of side ${n} needs ${(n * (n + 1)) / 2} values, got ${values.length}`);
  }
  const out = new Float32Array(n * n);
  for (let i = 0, k = 0; i < n; i++) {
    out.set(values.subarray(k, k + i + 1), i * n);
    k += i + 1;
  }
  return out;
}

/** Rows and columns of a sent map: size × size, or rows × cols for a rectangular (cross-attention) one. */
export function mapShape(info: AttentionMapInfo): { rows: number; cols: number } {
  return { rows: info.rows ?? info.size, cols: info.cols ?? info.size };
}

/** The selected head's map as n × n float32 (row = query, column = key); rows × cols when rectangular. */
export function decodeAttentionMap(bytes: Bytes, info: AttentionMapInfo): Float32Array {
  const values = decodeFloat16(bytes);
  if (info.layout === "lower") return unpackLower(values, info.size);
  if (info.cols !== undefined) {
    const { rows, cols } = mapShape(info);
    if (values.length !== rows * cols) throw new Error(`map of ${rows} × ${cols} needs ${rows * cols} values, got ${values.length}`);
    return values;
  }
  if (values.length !== info.size * info.size) {
    throw new Error(`map of side ${info.size} needs ${info.size * info.size} values, got ${values.length}`);
  }
  return values;
}

/** Bin edges floor(i * length / bins), i = 0..bins; the same as encode.pool_edges. */
export function poolEdges(length: number, bins: number): Int32Array {
  const edges = new Int32Array(bins + 1);
  for (let i = 0; i <= bins; i++) edges[i] = Math.floor((i * length) / bins);
  return edges;
}

/** The bin (of `bins` over `length`) that holds position `index`. */
export function binOf(index: number, length: number, bins: number): number {
  return Math.floor(((index + 1) * bins - 1) / length);
}

/** Positions [start, end) covered by `bin`. */
export function binRange(bin: number, length: number, bins: number): [number, number] {
  return [Math.floor((bin * length) / bins), Math.floor(((bin + 1) * length) / bins)];
}

/** Thumbnails uint8 [layers, heads, rows, cols] (square: rows = cols = side) → one Float32Array of weights
 * per head, indexed layer * heads + head. */
export function decodeThumbnails(bytes: Bytes, layers: number, heads: number, side: number, cols: number = side): Float32Array[] {
  const codes = asUint8(bytes);
  const cells = side * cols;
  if (codes.length !== layers * heads * cells) {
    throw new Error(`thumbnails need ${layers * heads * cells} bytes, got ${codes.length}`);
  }
  const weights = expandSqrtUint8(codes);
  const out: Float32Array[] = [];
  for (let i = 0; i < layers * heads; i++) out.push(weights.subarray(i * cells, (i + 1) * cells));
  return out;
}
