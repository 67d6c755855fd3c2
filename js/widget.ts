// attnwidget's views: five linked panels over one AttentionWidget model. anywidget calls render() once per
// display; everything it starts, the returned cleanup stops.
import "./widget.css";
import type { AnyWidget } from "@anywidget/types";
import * as data from "./data";
import { el, onResize } from "./dom";
import type { Model, WidgetTraits } from "./model";
import { Selection } from "./selection";
import { type ExtraMap, type ExtraNeurons, LocalModel, decodeState } from "./static";
import { type Theme, readTheme, watchTheme } from "./theme";
import { createHeadGrid } from "./views/headGrid";
import { createHeadScores } from "./views/headScores";
import { createHeatmap } from "./views/heatmap";
import { createLayerStats } from "./views/layerStats";
import { createLogitLens } from "./views/logitLens";
import { createNeuronPlot } from "./views/neuronPlot";
import { createTokenStrip } from "./views/tokenStrip";
import type { View, ViewContext } from "./views/view";

function describe(model: Model): string {
  const i = data.info(model);
  const kv = i.num_kv_heads !== i.num_heads ? ` (${i.num_kv_heads} KV heads)` : "";
  return `${i.seq_len} tokens · ${i.num_layers} layers × ${i.num_heads} heads${kv} · ${i.is_causal ? "causal" : "bidirectional"}`;
}

function render({ model, el: host }: { model: Model; el: HTMLElement }): () => void {
  const root = el("div", "attnwidget");
  host.append(root);
  const selection = new Selection(model);
  let theme: Theme = readTheme(root);
  let themeFromPage = root.isConnected;
  const context: ViewContext = { model, selection, theme: () => theme };

  const header = el("div", "aw-header");
  header.append(el("span", "aw-model", data.info(model).model_name), el("span", "aw-hint", describe(model)));
  const views: View[] = [
    createTokenStrip(context),
    createHeadGrid(context),
    createHeatmap(context),
    createNeuronPlot(context),
    createLayerStats(context),
    createLogitLens(context),
    createHeadScores(context),
  ];
  const [tokens, grid, heatmap, neurons, stats, lens, roles] = views;
  const main = el("div", "aw-main");
  main.append(grid.root, heatmap.root, lens.root);
  root.append(header, tokens.root, main, roles.root, neurons.root, stats.root);

  const names = ["token-strip", "head-grid", "heatmap", "neuron-plot", "layer-stats", "logit-lens", "head-scores"];
  const repaintAll = () => {
    theme = readTheme(root);
    themeFromPage = root.isConnected;
    views.forEach((view, i) => {
      // Per-view timings for benchmarks/bench_widget_paint.py (performance.getEntriesByType("measure")).
      const start = performance.now();
      view.repaint();
      performance.measure(`attnwidget:paint:${names[i]}`, { start, end: performance.now() });
    });
  };
  repaintAll();
  const stopTheme = watchTheme(repaintAll);
  // Displayed before being attached (colours could not be read yet): repaint once it is on the page.
  const stopAttach = onResize(root, () => {
    if (!themeFromPage && root.isConnected) repaintAll();
  });

  return () => {
    stopAttach();
    stopTheme();
    for (const view of views) view.dispose();
    selection.dispose();
    root.remove();
  };
}

/** Render state exported by AttentionWidget.state_for_export() without a kernel; returns the cleanup. */
export function mountStatic(
  host: HTMLElement, state: Record<string, unknown>, extraMaps: unknown[] = [], extraNeurons: unknown[] = [],
): { model: LocalModel; dispose: () => void } {
  // Extra maps and neuron plots ({info, data}, data as {"$bytes": base64} or a DataView) are shown when
  // their head or layer is selected.
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
