// attnwidget's views: seven linked panels over one AttentionWidget model (its traits: model.ts). anywidget
// calls render() once per display; the render shell (shell.ts) ends everything it started in the cleanup.
import "./widget.css";
import type { AnyWidget } from "@anywidget/types";
import * as data from "./data";
import { el } from "./dom";
import type { Model, WidgetTraits } from "./model";
import { Selection } from "./selection";
import { modelShape, renderShell, widgetHeader } from "./shell";
import { type ExtraMap, type ExtraNeurons, LocalModel, decodeState } from "./static";
import { createHeadGrid } from "./views/headGrid";
import { createHeadScores } from "./views/headScores";
import { createHeatmap } from "./views/heatmap";
import { createLayerStats } from "./views/layerStats";
import { createLogitLens } from "./views/logitLens";
import { createNeuronPlot } from "./views/neuronPlot";
import { createTokenStrip } from "./views/tokenStrip";
import type { ViewContext } from "./views/view";

function render({ model, el: host }: { model: Model; el: HTMLElement }): () => void {
  return renderShell(host, "attnwidget", ({ root, lifetime, theme }) => {
    const context: ViewContext = { model, selection: new Selection(model, lifetime), theme, lifetime };
    const i = data.info(model);
    const kind = i.is_causal ? "causal" : "bidirectional";
    const header = widgetHeader(i.model_name, `${i.seq_len} tokens · ${modelShape(i)} · ${kind}`);
    const tokens = createTokenStrip(context);
    const grid = createHeadGrid(context);
    const heatmap = createHeatmap(context);
    const neurons = createNeuronPlot(context);
    const stats = createLayerStats(context);
    const lens = createLogitLens(context);
    const roles = createHeadScores(context);
    const main = el("div", "aw-main");
    main.append(grid.root, heatmap.root, lens.root);
    root.append(header, tokens.root, main, roles.root, neurons.root, stats.root);
    return [tokens, grid, heatmap, neurons, stats, lens, roles];
  });
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
