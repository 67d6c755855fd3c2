// attnwidget's views over one AttentionWidget model (its traits: model.ts): the token strip, head grid and
// heatmap on top, the other views as tabs of a side panel (views/sidePanel.ts); `views` says which exist.
// anywidget calls render() once per display; the render shell (shell.ts) ends everything it started in the
// cleanup, and a new `views` renders the widget again.
import "./widget.css";
import type { AnyWidget } from "@anywidget/types";
import * as data from "./data";
import { el } from "./dom";
import { MAIN_VIEWS, type Model, PANEL_VIEWS, type PanelView, type ViewName, type WidgetTraits } from "./model";
import { Selection } from "./selection";
import { modelShape, renderShell, widgetHeader } from "./shell";
import { type ExtraMap, type ExtraNeurons, LocalModel, decodeState } from "./static";
import { createAblation } from "./views/ablation";
import { createEffects } from "./views/effects";
import { createGeneration } from "./views/generation";
import { createHeadGrid } from "./views/headGrid";
import { createHeadScores } from "./views/headScores";
import { createHeatmap } from "./views/heatmap";
import { createRectHeatmap } from "./views/heatmapRect";
import { createLayerStats } from "./views/layerStats";
import { createLogitLens } from "./views/logitLens";
import { createNeuronPlot } from "./views/neuronPlot";
import { createSidePanel } from "./views/sidePanel";
import { createTokenStrip } from "./views/tokenStrip";
import { createTokenStrips } from "./views/tokenStrips";
import type { View, ViewContext } from "./views/view";

const PANEL_VIEW_MAKERS: Record<PanelView, (context: ViewContext) => View> = {
  generation: createGeneration,
  "logit-lens": createLogitLens,
  effects: createEffects,
  ablation: createAblation,
  "head-scores": createHeadScores,
  "neuron-plot": createNeuronPlot,
  "layer-stats": createLayerStats,
};

/** The views to show: the `views` trait (when it is missing, a page saved before it existed: every view
 * that page can fill, so no generation tab). */
function wantedViews(model: Model): Set<ViewName> {
  const views = model.get("views");
  if (Array.isArray(views)) return new Set(views);
  return new Set([...MAIN_VIEWS, ...PANEL_VIEWS.filter((name) => name !== "generation" || data.generation(model).info?.steps)]);
}

function renderViews(model: Model, host: HTMLElement): () => void {
  return renderShell(host, "attnwidget", ({ root, lifetime, theme }) => {
    const selection = new Selection(model, lifetime);
    const context: ViewContext = { model, selection, theme, lifetime };
    const wanted = wantedViews(model);
    const i = data.info(model);
    const kind = i.is_causal ? "causal" : "bidirectional";
    // An encoder-decoder run: both texts' strips, the kind switch, and a rectangular heatmap for cross.
    const seq2seq = (i.kinds ?? []).length > 0;
    const header = seq2seq
      ? widgetHeader(i.model_name, `${i.source_tokens?.length ?? 0} source → ${i.decoder_tokens?.length ?? 0} decoder tokens · ${i.kind} attention · ${modelShape(i)}${data.isCross(i) ? "" : ` · ${kind}`}`)
      : widgetHeader(i.model_name, `${i.seq_len} tokens · ${modelShape(i)} · ${kind}`);
    root.classList.toggle("aw-seq2seq", seq2seq);
    const tokens = wanted.has("token-strip") ? (seq2seq ? createTokenStrips(context) : createTokenStrip(context)) : null;
    const grid = wanted.has("head-grid") ? createHeadGrid(context) : null;
    const heatmap = wanted.has("heatmap") ? (data.isCross(i) ? createRectHeatmap(context) : createHeatmap(context)) : null;
    const tabs = PANEL_VIEWS.filter((name) => wanted.has(name)).map((name) => ({ name, view: PANEL_VIEW_MAKERS[name](context) }));
    const main = el("div", "aw-main");
    for (const view of [grid, heatmap]) if (view) main.append(view.root);
    if (tabs.length) main.append(createSidePanel(model, selection, lifetime, tabs).root);
    root.append(header);
    if (tokens) root.append(tokens.root);
    root.append(main);
    return [tokens, grid, heatmap, ...tabs.map((t) => t.view)].filter((view) => view !== null);
  });
}

/** The generation view of a render, when it holds the focus (its arrow keys step through the tokens). */
function focusedGeneration(host: HTMLElement): boolean {
  const view = host.querySelector("[data-testid=generation]");
  return !!view && view.contains(document.activeElement);
}

function render({ model, el: host }: { model: Model; el: HTMLElement }): () => void {
  let cleanup = renderViews(model, host);
  // A new `views`, or a new `_info`: what the widget shows changed shape (when a generation's recorded pass
  // lands, every view grows from the prompt to prompt + output), so the views are made again. The open tab
  // is the `panel` trait's; the generation view gets the focus back if it had it.
  const again = () => {
    const refocus = focusedGeneration(host);
    // The kind switch keeps the focus across the render its change causes (keyboard use).
    const kinds = host.querySelector("[data-testid=kind-switch]");
    const refocusKind = !!kinds && kinds.contains(document.activeElement);
    cleanup();
    cleanup = renderViews(model, host);
    if (refocus) host.querySelector<HTMLElement>("[data-testid=generation]")?.focus({ preventScroll: true });
    if (refocusKind) host.querySelector<HTMLElement>("[data-testid=kind-switch] [aria-checked=true]")?.focus({ preventScroll: true });
  };
  model.on("change:views", again);
  model.on("change:_info", again);
  return () => {
    model.off("change:views", again);
    model.off("change:_info", again);
    cleanup();
  };
}

/** Render state exported by AttentionWidget.state_for_export() without a kernel; returns the cleanup. */
export function mountStatic(
  host: HTMLElement, state: Record<string, unknown>, extraMaps: unknown[] = [], extraNeurons: unknown[] = [],
): { model: LocalModel; dispose: () => void } {
  // Extra maps and neuron plots: `_attention_map` / `_neurons` values of other heads and layers ({info, data},
  // data as {"$bytes": base64} or a DataView), shown when their head or layer is selected.
  const extras = decodeState({ maps: extraMaps, neurons: extraNeurons }) as unknown as {
    maps: ExtraMap[];
    neurons: ExtraNeurons[];
  };
  const model = new LocalModel(decodeState(state), extras.maps, extras.neurons);
  const dispose = render({ model, el: host });
  return { model, dispose };
}

export { LocalModel, decodeState };
export default { render } satisfies AnyWidget<WidgetTraits>;
