import { describe, expect, it } from "vitest";
import { hasKernel } from "./kernel";
import type { WidgetTraits } from "./model";
import { LocalModel } from "./static";

/** An element with classes and a parent: enough for `closest(".name")`, as the DOM answers it. */
class FakeElement {
  constructor(readonly classes: string[], readonly parent: FakeElement | null = null) {}

  closest(selector: string): FakeElement | null {
    const name = selector.replace(/^\./, "");
    for (let node: FakeElement | null = this; node; node = node.parent) {
      if (node.classes.includes(name)) return node;
    }
    return null;
  }
}

/** What anywidget hands to render: a proxy with no trace of the comm. */
const proxy = { get: () => undefined, set: () => {}, on: () => {}, off: () => {}, send: () => {}, widget_manager: {} };

/** A view root inside the render's shell inside the element anywidget renders into. */
function viewRootIn(host: FakeElement): FakeElement {
  return new FakeElement(["aw-panel"], new FakeElement(["attnwidget"], host));
}

describe("hasKernel", () => {
  it("is false for a static page's model, whatever the DOM says", () => {
    const model = new LocalModel({} as WidgetTraits);
    expect(hasKernel(model)).toBe(false);
    expect(hasKernel(model, viewRootIn(new FakeElement(["jupyter-widgets"])))).toBe(false);
  });

  it("is false for a model that says it is static (a compare panel over a static model)", () => {
    const panel = {};
    Object.defineProperty(panel, "isStatic", { value: true });
    expect(hasKernel(panel)).toBe(false);
    expect(hasKernel({ isStatic: false })).toBe(true);
  });

  it("is false inside a view that ipywidgets marks disconnected (no live comm)", () => {
    const host = new FakeElement(["jupyter-widgets", "jupyter-widgets-disconnected"], new FakeElement(["jp-OutputArea"]));
    expect(hasKernel(proxy, viewRootIn(host))).toBe(false);
    expect(hasKernel(proxy, host)).toBe(false);
  });

  it("is true inside a live view, and in hosts without ipywidgets views (marimo)", () => {
    expect(hasKernel(proxy, viewRootIn(new FakeElement(["jupyter-widgets"])))).toBe(true);
    expect(hasKernel(proxy, viewRootIn(new FakeElement(["marimo-anywidget"])))).toBe(true);
  });

  it("knows only the model before the view is in the host's element", () => {
    expect(hasKernel(proxy, new FakeElement(["aw-panel"]))).toBe(true);
    expect(hasKernel(proxy, null)).toBe(true);
    expect(hasKernel(proxy)).toBe(true);
  });
});
