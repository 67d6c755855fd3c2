import { describe, expect, it } from "vitest";
import * as data from "./data";
import type { Model } from "./model";

/** float16 bytes of zeros and powers of two (exponent bits only). */
const half = (values: number[]) =>
  new DataView(Uint16Array.from(values, (v) => (v === 0 ? 0 : (Math.log2(v) + 15) << 10)).buffer);
const modelOf = (traits: Record<string, unknown>) => ({ get: (k: string) => traits[k] }) as unknown as Model;

describe("the {info, data} traits, decoded", () => {
  it("reads predictions: texts [seq][k] with float16 probabilities [seq, k]; none for encoders", () => {
    const p = data.predictions(modelOf({ _predictions: { info: { k: 2 }, tokens: [["a", "b"], ["c", "d"]], data: half([0.5, 0.25, 1, 0]) } }));
    expect([p.k, p.tokens[1][0], Array.from(p.probs)]).toEqual([2, "c", [0.5, 0.25, 1, 0]]);
    const none = data.predictions(modelOf({ _predictions: { info: { k: 0 }, tokens: [], data: new DataView(new ArrayBuffer(0)) } }));
    expect([none.k, none.tokens.length, none.probs.length]).toEqual([0, 0, 0]);
  });

  it("calls the logit lens complete only when every row has k texts and probabilities", () => {
    const lens = (tokens: string[][], probs: number[]) =>
      data.lens(modelOf({ _lens: { info: { position: 3, k: 2 }, tokens, data: half(probs) } }));
    expect(lens([["a", "b"], ["c", "d"]], [0.5, 0.25, 1, 0]).complete).toBe(true);
    expect(lens([["a", "b"], ["c"]], [0.5, 0.25, 1, 0]).complete).toBe(false);
    expect(lens([["a", "b"], ["c", "d"]], [0.5, 0.25]).complete).toBe(false);
    const unavailable = data.lens(modelOf({ _lens: { info: { position: -1, k: 0, unavailable: "an encoder" }, tokens: [], data: half([]) } }));
    expect([unavailable.complete, unavailable.info.unavailable]).toEqual([false, "an encoder"]);
  });

  it("decodes each bytes object once, but reads what it is from the trait every time", () => {
    const bytes = half([1, 0.5, 0.25, 0.125]);
    const neurons = (layer: number) =>
      data.neurons(modelOf({ _neurons: { info: { layer, kind: "mlp", k: 2, seq_len: 2, dtype: "float16", indices: [7, 3] }, data: bytes } }));
    const a = neurons(1);
    const b = neurons(2);
    expect(a?.values).toBe(b?.values);
    expect([a?.info.layer, b?.info.layer]).toEqual([1, 2]);
    expect(data.neurons(modelOf({ _neurons: {} }))).toBeNull();
  });

  it("ignores a map window whose bytes do not match its rows × cols", () => {
    const info = { layer: 0, head: 0, dtype: "float16", layout: "full", q0: 0, q1: 2, k0: 0, k1: 2, rows: 2, cols: 2, seq_len: 4, pooled: false };
    expect(data.mapWindow(modelOf({ _map_window: { info, data: half([1, 0.5, 0.25, 0.125]) } }))?.weights.length).toBe(4);
    expect(data.mapWindow(modelOf({ _map_window: { info, data: half([1, 0.5]) } }))).toBeNull();
    expect(data.mapWindow(modelOf({ _map_window: {} }))).toBeNull();
  });
});
