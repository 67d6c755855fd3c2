// CompareWidget's views (its traits: compare/model.ts): one panel per prompt (token strip and heatmap, the
// single-prompt views over a PanelModel), the difference map when lengths match, the per-head differences
// with their ranking, and "patch A → B" of the selected head beside them. Every panel shares the selection
// held by the compare model.
import "./widget.css";
import "./compare.css";
import type { AnyWidget } from "@anywidget/types";
import { createCompareDiff } from "./compare/compareDiff";
import { createHeadDiff } from "./compare/headDiff";
import { comparablePairs } from "./compare/logic";
import type { CompareModel, CompareTraits } from "./compare/model";
import { PanelModel } from "./compare/panelModel";
import { createPatching } from "./compare/patching";
import { el } from "./dom";
import { Selection } from "./selection";
import { modelShape, renderShell, widgetHeader } from "./shell";
import { isCross } from "./data";
import { createHeatmap } from "./views/heatmap";
import { createRectHeatmap } from "./views/heatmapRect";
import { createTokenStrip } from "./views/tokenStrip";
import type { View } from "./views/view";

function render({ model, el: host }: { model: CompareModel; el: HTMLElement }): () => void {
  return renderShell(host, "attnwidget aw-compare", ({ root, lifetime, theme }) => {
    const info = model.get("_info");
    const count = info.prompts.length;
    const header = widgetHeader(info.model_name, `${count} prompts · ${modelShape(info)} · one selection for all`);
    const panels = info.prompts.map((_, i) => new PanelModel(model, i));
    const selections = panels.map((panel) => new Selection(panel, lifetime));
    const views: View[] = [];
    const panelRow = el("div", "aw-compare-panels");
    info.prompts.forEach((prompt, i) => {
      const context = { model: panels[i], selection: selections[i], theme, lifetime };
      const tokens = createTokenStrip(context);
      const heatmap = isCross(panels[i].info) ? createRectHeatmap(context) : createHeatmap(context);
      views.push(tokens, heatmap);
      const panel = el("section", "aw-compare-panel", undefined, { "data-testid": "compare-panel", "data-prompt-index": String(i) });
      const title = el("div", "aw-compare-title");
      title.append(
        el("span", "aw-compare-label", info.labels[i]),
        el("span", "aw-compare-prompt", prompt, { title: prompt }),
        el("span", "aw-hint", `${info.seq_lens[i]} tokens`),
      );
      panel.append(title, tokens.root, heatmap.root);
      panelRow.append(panel);
    });

    const bottom = el("div", "aw-compare-bottom");
    const headDiff = createHeadDiff({ model, selections, theme, lifetime });
    views.push(headDiff);
    bottom.append(headDiff.root);
    // "Patch A → B" goes in a column beside the head grid (where the widget has room, it adds no height), or
    // after the difference map when that is down here too (three prompts or more).
    // Not for encoder-decoder runs (kind set): their heads write through two stacks, nothing to patch yet.
    const patching = info.kind ? null : createPatching({ model, selection: selections[0], lifetime });
    const side = el("div", "aw-compare-side");
    if (patching) {
      views.push(patching);
      side.append(patching.root);
    }
    // Cross-attention maps of different sources are not cell by cell comparable: no difference map.
    const cross = info.kind === "cross";
    if (!cross && comparablePairs(info.seq_lens).length) {
      const diff = createCompareDiff({ model, panels, selections, theme, lifetime });
      views.push(diff);
      const column = el("section", "aw-compare-panel aw-compare-diff-column");
      const title = el("div", "aw-compare-title");
      const pairLabel = el("span", "aw-compare-label aw-diff-label");
      const showPair = () => {
        const [a, b] = model.get("diff_pair");
        pairLabel.textContent = `${info.labels[b]} − ${info.labels[a]}`;
      };
      showPair();
      lifetime.onChange(model, ["diff_pair"], showPair);
      title.append(pairLabel, el("span", "aw-compare-prompt", "difference of the maps"));
      column.append(title, diff.root);
      // Two prompts: the difference is a third column beside them, at the same size; more: below.
      if (count === 2) {
        panelRow.append(column);
        bottom.append(side);
      } else {
        bottom.append(column, ...(patching ? [patching.root] : []));
      }
    } else {
      const why = cross
        ? "Cross-attention reads each run's own source: no difference map (head differences use length-independent statistics)."
        : "The prompts have different numbers of tokens: no difference map (head differences use length-independent statistics).";
      side.append(el("div", "aw-hint aw-compare-nodiff", why));
      bottom.append(side);
    }
    root.append(header, panelRow, bottom);
    return views;
  });
}

export default { render } satisfies AnyWidget<CompareTraits>;
