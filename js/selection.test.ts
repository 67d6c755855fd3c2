import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Lifetime } from "./lifetime";
import type { WidgetTraits } from "./model";
import { HOVER_SYNC_MS, Selection, throttle } from "./selection";
import { LocalModel, decodeState } from "./static";

describe("throttle", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs the first call at once and the last of a burst at the end of the interval", () => {
    const calls: number[] = [];
    const f = throttle((x: number) => calls.push(x), 100);
    f(1);
    f(2);
    f(3);
    expect(calls).toEqual([1]);
    vi.advanceTimersByTime(100);
    expect(calls).toEqual([1, 3]);
    vi.advanceTimersByTime(500);
    f(4);
    expect(calls).toEqual([1, 3, 4]);
  });

  it("cancel drops the pending call", () => {
    const calls: number[] = [];
    const f = throttle((x: number) => calls.push(x), 100);
    f(1);
    f(2);
    f.cancel();
    vi.advanceTimersByTime(200);
    expect(calls).toEqual([1]);
  });
});

function model(): LocalModel {
  const state = { layer: 0, head: 0, token: -1, hovered_token: -1, color_scale: "log", neuron_kind: "residual", neuron_k: 4 };
  return new LocalModel(state as unknown as WidgetTraits);
}

describe("Selection", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("selecting a head sets both traits, saves and tells Python what was clicked", () => {
    const m = model();
    const save = vi.spyOn(m, "save_changes");
    const s = new Selection(m, new Lifetime());
    const seen: string[] = [];
    s.on(["layer", "head"], () => seen.push(`${m.get("layer")},${m.get("head")}`));
    s.selectHead(3, 5, "head-grid");
    expect([m.get("layer"), m.get("head")]).toEqual([3, 5]);
    expect(save).toHaveBeenCalledTimes(1);
    expect(m.sent).toEqual([{ kind: "select", source: "head-grid", layer: 3, head: 5, token: -1 }]);
    expect(seen.at(-1)).toBe("3,5");
  });

  it("hover updates the model at once but saves at most once per interval", () => {
    const m = model();
    const save = vi.spyOn(m, "save_changes");
    const s = new Selection(m, new Lifetime());
    for (let i = 0; i < 20; i++) s.hover(i);
    expect(m.get("hovered_token")).toBe(19);
    expect(save).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(HOVER_SYNC_MS);
    expect(save).toHaveBeenCalledTimes(2);
  });

  it("previews a head without touching the model, and the end of the render removes listeners", () => {
    const m = model();
    const lifetime = new Lifetime();
    const s = new Selection(m, lifetime);
    let previews = 0;
    let changes = 0;
    s.onPreview(() => previews++);
    s.on(["token"], () => changes++);
    s.preview({ layer: 2, head: 1 });
    s.preview({ layer: 2, head: 1 });
    expect(previews).toBe(1);
    expect(s.shownHead).toEqual({ layer: 2, head: 1 });
    expect(m.get("layer")).toBe(0);
    s.preview(null);
    expect(s.shownHead).toEqual({ layer: 0, head: 0 });
    lifetime.end();
    s.pin(4, "token-strip");
    s.preview({ layer: 1, head: 1 });
    expect(changes).toBe(0);
    expect(previews).toBe(2);
  });
});

describe("static state", () => {
  it("turns {$bytes: base64} into DataViews, leaves the rest", () => {
    const state = decodeState({
      layer: 2,
      _head_scores: { $bytes: btoa("\u0001\u0002") },
      _neurons: { info: { k: 1 }, data: { $bytes: btoa("\u0003") } },
      _info: { a: [1, 2] },
    });
    expect(state.layer).toBe(2);
    const scores = state._head_scores as DataView;
    expect([scores.getUint8(0), scores.getUint8(1)]).toEqual([1, 2]);
    // Nested bytes (the {info, data} traits) are revived at the same path.
    const neurons = state._neurons as { info: unknown; data: DataView };
    expect(neurons.info).toEqual({ k: 1 });
    expect(neurons.data.getUint8(0)).toBe(3);
    expect(state._info).toEqual({ a: [1, 2] });
  });
});
