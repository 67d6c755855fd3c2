// The side panel: the secondary views as tabs; the open one is the `panel` trait (a click on a tab, or the
// arrow keys on the tab bar, set it; Python setting it switches). Closed tabs stay in the page, laid out in
// the same place but invisible (visibility: hidden, so their data-testid hooks and canvases keep their
// size): the panel is as tall as its tallest tab and nothing moves when another one opens. A view is
// repainted when its tab opens (one whose canvases measured 0 wide, the widget being displayed while
// hidden, draws then).
import { el } from "../dom";
import type { Lifetime } from "../lifetime";
import type { Model, PanelView } from "../model";
import type { Selection } from "../selection";
import type { View } from "./view";

/** What each tab says: short, so that seven tabs fit one row of a side panel 280 px wide (the narrowest it
 * is beside the heatmap); the view's own title says it in full (the tab's tooltip too). */
export const PANEL_TITLES: Record<PanelView, string> = {
  generation: "Steps",
  "logit-lens": "Lens",
  effects: "Effects",
  ablation: "Ablate",
  "head-scores": "Roles",
  "neuron-plot": "Neurons",
  "layer-stats": "Layers",
};

/** Each tab's tooltip. */
export const PANEL_TIPS: Record<PanelView, string> = {
  generation: "Generation: what the model wrote, step by step",
  "logit-lens": "Logit lens: the prediction after each layer",
  effects: "Effects: what each part of the model adds to the target's logit",
  ablation: "Ablate: the prediction without some heads",
  "head-scores": "Head roles: colour the head grid by a per-head score",
  "neuron-plot": "Neurons: the layer's most variable neurons",
  "layer-stats": "Layer statistics: per-head statistics, layer by layer",
};

let rendered = 0;

export interface SidePanel {
  root: HTMLElement;
  /** The open tab's name. */
  open(): PanelView;
}

/** The tab that `panel` names, or the first when it names none of these (a page saved before tabs). */
export function openTab(panel: unknown, names: readonly PanelView[]): PanelView {
  return names.find((name) => name === panel) ?? names[0];
}

export function createSidePanel(
  model: Model, selection: Selection, lifetime: Lifetime, tabs: { name: PanelView; view: View }[],
): SidePanel {
  const id = `aw-side-${++rendered}`;
  const names = tabs.map((t) => t.name);
  const root = el("div", "aw-side", undefined, { "data-testid": "side-panel" });
  const bar = el("div", "aw-tabs", undefined, { role: "tablist", "aria-label": "more views", "data-testid": "panel-tabs" });
  const stack = el("div", "aw-tab-stack");
  const buttons = tabs.map(({ name, view }) => {
    const button = el("button", "aw-tab", PANEL_TITLES[name], {
      type: "button", role: "tab", id: `${id}-tab-${name}`, "aria-controls": `${id}-${name}`,
      "data-panel": name, "data-testid": `tab-${name}`, title: PANEL_TIPS[name],
    });
    view.root.classList.add("aw-tab-panel");
    view.root.id = `${id}-${name}`;
    view.root.setAttribute("role", "tabpanel");
    view.root.setAttribute("aria-labelledby", button.id);
    stack.append(view.root);
    return button;
  });
  bar.append(...buttons);
  root.append(bar, stack);

  let shown: PanelView | null = null;
  const show = () => {
    const open = openTab(model.get("panel"), names);
    tabs.forEach(({ name, view }, i) => {
      const isOpen = name === open;
      buttons[i].setAttribute("aria-selected", String(isOpen));
      buttons[i].tabIndex = isOpen ? 0 : -1;
      view.root.classList.toggle("is-closed", !isOpen);
    });
    root.dataset.open = open;
    if (shown !== null && shown !== open) tabs[names.indexOf(open)].view.repaint();
    shown = open;
  };
  const choose = (name: PanelView) => {
    if (name === model.get("panel")) return;
    selection.setTrait("panel", name);
  };
  lifetime.listen(bar, "click", (event) => {
    const button = event.target instanceof Element ? event.target.closest<HTMLElement>("[data-panel]") : null;
    if (button) choose(button.dataset.panel as PanelView);
  });
  lifetime.listen(bar, "keydown", (event) => {
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    event.preventDefault();
    const next = (names.indexOf(openTab(model.get("panel"), names)) + step + names.length) % names.length;
    choose(names[next]);
    buttons[next].focus();
  });
  selection.on(["panel"], show);
  show();
  return { root, open: () => openTab(model.get("panel"), names) };
}
