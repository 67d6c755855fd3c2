import { describe, expect, it } from "vitest";
import { Lifetime } from "../lifetime";
import { Selection } from "../selection";
import { PanelModel, clampToken, sourceTrait } from "./panelModel";
import type { CompareModel, CompareTraits } from "./model";

type Handler = (...args: any[]) => void;

/** A compare model in memory: get/set/on/off/send like anywidget's. */
function fakeModel(values: Partial<CompareTraits>) {
  const handlers = new Map<string, Set<Handler>>();
  const sent: unknown[] = [];
  let saves = 0;
  const model = {
    get: (key: keyof CompareTraits) => values[key],
    set: (key: keyof CompareTraits, value: unknown) => {
      (values as Record<string, unknown>)[key] = value;
      for (const h of handlers.get(`change:${key}`) ?? []) h();
    },
    on: (event: string, h: Handler) => {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event)?.add(h);
    },
    off: (event: string, h: Handler) => handlers.get(event)?.delete(h),
    save_changes: () => saves++,
    send: (content: unknown) => sent.push(content),
    widget_manager: {},
  };
  return { model: model as unknown as CompareModel, handlers, sent, saves: () => saves };
}

const maps = [new DataView(new ArrayBuffer(2)), new DataView(new ArrayBuffer(4))];
const state = (): Partial<CompareTraits> => ({
  layer: 1, head: 2, token: -1, hovered_token: -1, color_scale: "log",
  _info: {
    model_name: "m", num_layers: 2, num_heads: 3, num_kv_heads: 3, is_causal: true, prompts: ["a b c d e", "a b"],
    labels: ["A", "B"], seq_lens: [5, 2], thumbnail_sizes: [5, 2], metrics: ["stats"], metric_labels: [""],
    stats: [], ranking_size: 10,
  },
  _tokens: [["a", "b", "c", "d", "e"], ["a", "b"]],
  _maps: [
    { info: { layer: 1, head: 2, dtype: "float16", size: 5, seq_len: 5, layout: "lower", pooled: false }, data: maps[0] },
    { info: { layer: 1, head: 2, dtype: "float16", size: 2, seq_len: 2, layout: "lower", pooled: false }, data: maps[1] },
  ],
  _thumbnails: maps,
});

describe("PanelModel", () => {
  it("reads per-prompt arrays and the shared selection", () => {
    const { model } = fakeModel(state());
    const panel = new PanelModel(model, 1);
    expect(panel.get("_info").seq_len).toBe(2);
    expect(panel.get("_tokens")).toEqual(["a", "b"]);
    const map = panel.get("_attention_map");
    expect("data" in map && map.data).toBe(maps[1]);
    expect("info" in map && map.info.size).toBe(2);
    expect([panel.get("layer"), panel.get("head"), panel.get("color_scale")]).toEqual([1, 2, "log"]);
    expect(panel.get("_predictions").tokens).toEqual([]);
    expect(panel.get("map_window")).toBeUndefined();
  });

  it("gives each panel of a cross-attention comparison its own source as keys", () => {
    const values = state();
    values._info = {
      ...values._info!, kind: "cross", key_lens: [7, 3], key_tokens: [["s0", "s1", "s2", "s3", "s4", "s5", "s6"], ["t0", "t1", "t2"]],
      thumbnail_rows: [5, 2], thumbnail_cols: [7, 3],
    };
    const info = new PanelModel(fakeModel(values).model, 1).get("_info");
    expect([info.kind, info.key_len, info.thumbnail_rows, info.thumbnail_cols]).toEqual(["cross", 3, 2, 3]);
    expect(info.key_tokens).toEqual(["t0", "t1", "t2"]);
    const plain = new PanelModel(fakeModel(state()).model, 0).get("_info");
    expect([plain.kind, plain.key_len, plain.thumbnail_rows]).toEqual([undefined, undefined, undefined]);
  });

  it("clamps token indices past the panel's end to -1", () => {
    const { model } = fakeModel({ ...state(), hovered_token: 3, token: 1 });
    expect(new PanelModel(model, 0).get("hovered_token")).toBe(3);
    expect(new PanelModel(model, 1).get("hovered_token")).toBe(-1);
    expect(new PanelModel(model, 1).get("token")).toBe(1);
    expect(clampToken(2, 2)).toBe(-1);
  });

  it("maps change events onto the compare traits and removes them", () => {
    const { model, handlers } = fakeModel(state());
    const panel = new PanelModel(model, 0);
    let calls = 0;
    const cb = () => calls++;
    panel.on("change:_attention_map", cb);
    panel.on("change:hovered_token", cb);
    panel.on("change:_predictions", cb); // never changes: not registered
    model.set("_maps", []);
    model.set("hovered_token", 2);
    expect(calls).toBe(2);
    panel.off("change:_attention_map", cb);
    model.set("_maps", []);
    expect(calls).toBe(2);
    panel.off(null, cb);
    model.set("hovered_token", 1);
    expect(calls).toBe(2);
    expect([...handlers.values()].every((set) => set.size === 0)).toBe(true);
    expect(sourceTrait("_attention_map")).toBe("_maps");
    expect(sourceTrait("neuron_k")).toBeNull();
  });

  it("lets a Selection on one panel drive the shared selection", () => {
    const { model, sent } = fakeModel(state());
    const lifetime = new Lifetime();
    const a = new Selection(new PanelModel(model, 0), lifetime);
    const b = new Selection(new PanelModel(model, 1), lifetime);
    a.selectHead(0, 1, "head-diff");
    expect([b.layer, b.head]).toEqual([0, 1]);
    expect(sent).toEqual([{ kind: "select", source: "head-diff", layer: 0, head: 1, token: -1 }]);
    a.hover(1);
    expect(b.hovered).toBe(1);
    a.hover(4);
    expect(b.hovered).toBe(-1);
    // Only the selection is writable through a panel.
    new PanelModel(model, 0).set("_tokens", []);
    expect(model.get("_tokens")).toHaveLength(2);
    lifetime.end();
  });
});
