// The kind switch of an encoder-decoder run: which attention the views show (the `kind` trait), as
// segmented buttons ("encoder", "decoder", "cross") with the radio-group keys (arrows, Home, End). Python
// answers a change with that part's arrays (a new `_info`), and the widget renders again.
import { kindForKey } from "../cross";
import * as data from "../data";
import { el } from "../dom";
import { hasKernel } from "../kernel";
import type { ViewContext } from "./view";

/** The switch, or null for a model with one kind of attention. */
export function createKindSwitch({ model, lifetime }: Pick<ViewContext, "model" | "lifetime">): HTMLElement | null {
  const info = data.info(model);
  const kinds = info.kinds ?? [];
  if (!kinds.length) return null;
  const current = () => model.get("kind") || info.kind || kinds[0];
  const root = el("div", "aw-kinds", undefined, {
    role: "radiogroup", "aria-label": "which attention the views show", "data-testid": "kind-switch",
  });
  const buttons = kinds.map((kind) =>
    el("button", "aw-kind", kind, {
      type: "button", role: "radio", "data-kind": kind, title: info.kind_titles?.[kind] ?? kind,
    }),
  );
  root.append(...buttons);
  const show = () => {
    const now = current();
    for (const button of buttons) {
      const on = button.dataset.kind === now;
      button.setAttribute("aria-checked", String(on));
      button.tabIndex = on ? 0 : -1;
      button.classList.toggle("is-on", on);
    }
  };
  const choose = (kind: string) => {
    if (kind === model.get("kind")) return;
    // Another kind's arrays come from Python: a page without a kernel keeps the kind it was saved with.
    if (!hasKernel(model, root)) {
      root.title = "switching the kind needs a running kernel (this page shows the kind it was saved with)";
      return;
    }
    model.set("kind", kind);
    model.save_changes();
    show();
  };
  for (const button of buttons) lifetime.listen(button, "click", () => choose(button.dataset.kind ?? ""));
  lifetime.listen(root, "keydown", (event: KeyboardEvent) => {
    const next = kindForKey(kinds, current(), event.key);
    if (!next || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    buttons[kinds.indexOf(next)]?.focus();
    choose(next);
  });
  lifetime.onChange(model, ["kind"], show);
  show();
  return root;
}
