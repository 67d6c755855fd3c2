import { describe, expect, it } from "vitest";
import { Lifetime } from "./lifetime";
import type { WidgetTraits } from "./model";
import { LocalModel } from "./static";

describe("Lifetime", () => {
  it("ends DOM listeners, model subscriptions and disposers at once, last registered first", () => {
    const lifetime = new Lifetime();
    const target = new EventTarget();
    const model = new LocalModel({ layer: 0 } as unknown as WidgetTraits);
    const seen: string[] = [];
    lifetime.listen(target, "ping", () => seen.push("ping"));
    lifetime.onChange(model, ["layer"], () => seen.push("layer"));
    lifetime.add(() => seen.push("first disposer"));
    lifetime.add(() => seen.push("second disposer"));
    target.dispatchEvent(new Event("ping"));
    model.set("layer", 1);
    expect(seen).toEqual(["ping", "layer"]);
    lifetime.end();
    expect(lifetime.ended && lifetime.signal.aborted).toBe(true);
    expect(seen.slice(2)).toEqual(["second disposer", "first disposer"]);
    target.dispatchEvent(new Event("ping"));
    model.set("layer", 2);
    lifetime.end();
    expect(seen).toHaveLength(4);
  });

  it("runs a disposer added after the end at once", () => {
    const lifetime = new Lifetime();
    lifetime.end();
    let ran = 0;
    lifetime.add(() => ran++);
    expect(ran).toBe(1);
  });
});
