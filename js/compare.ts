// CompareWidget's views: one panel per prompt (token strip and heatmap, the single-prompt views over a
// PanelModel), the difference map when lengths match, and the per-head differences with their ranking.
// Every panel shares the selection held by the compare model.
import "./widget.css";
import "./compare.css";
import type { AnyWidget } from "@anywidget/types";
import type { CompareModel, CompareTraits } from "./compare/model";
import { comparablePairs } from "./compare/logic";
import { PanelModel } from "./compare/panelModel";
import { el, onResize } from "./dom";
import { Selection } from "./selection";
import { type Theme, readTheme, watchTheme } from "./theme";
import { createCompareDiff } from "./views/compareDiff";
import { createHeadDiff } from "./views/headDiff";
import { createHeatmap } from "./views/heatmap";
import { createTokenStrip } from "./views/tokenStrip";
import type { View } from "./views/view";

function render({ model, el: host }: { model: CompareModel; el: HTMLElement }): () => void {
  const info = model.get("_info");
  const count = info.prompts.length;
  const root = el("div", "attnwidget aw-compare");
  host.append(root);
  let theme: Theme = readTheme(root);
  let themeFromPage = root.isConnected;
  const currentTheme = () => theme;

  const header = el("div", "aw-header");
  const kv = info.num_kv_heads !== info.num_heads ? ` (${info.num_kv_heads} KV heads)` : "";
  header.append(
    el("span", "aw-model", info.model_name),
    el("span", "aw-hint", `${count} prompts · ${info.num_layers} layers × ${info.num_heads} heads${kv} · one selection for all`),
  );

  const panels = info.prompts.map((_, i) => new PanelModel(model, i));
  const selections = panels.map((panel) => new Selection(panel));
  const views: View[] = [];
  const stops: (() => void)[] = [];
  const panelRow = el("div", "aw-compare-panels");
  panelRow.style.gridTemplateColumns = `repeat(${count}, minmax(0, 1fr))`;
  info.prompts.forEach((prompt, i) => {
    const context = { model: panels[i], selection: selections[i], theme: currentTheme };
    const tokens = createTokenStrip(context);
    const heatmap = createHeatmap(context);
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
  const headDiff = createHeadDiff({ model, selections, theme: currentTheme });
  views.push(headDiff);
  bottom.append(headDiff.root);
  if (comparablePairs(info.seq_lens).length) {
    const diff = createCompareDiff({ model, panels, selections, theme: currentTheme });
    views.push(diff);
    const column = el("section", "aw-compare-panel aw-compare-diff-column");
    const title = el("div", "aw-compare-title");
    const pairLabel = el("span", "aw-compare-label aw-diff-label");
    const showPair = () => {
      const [a, b] = model.get("diff_pair");
      pairLabel.textContent = `${info.labels[b]} − ${info.labels[a]}`;
    };
    showPair();
    model.on("change:diff_pair", showPair);
    stops.push(() => model.off("change:diff_pair", showPair));
    title.append(pairLabel, el("span", "aw-compare-prompt", "difference of the maps"));
    column.append(title, diff.root);
    // Two prompts: the difference is a third column beside them, at the same size; more: below.
    if (count === 2) {
      panelRow.style.gridTemplateColumns = "repeat(3, minmax(0, 1fr))";
      panelRow.append(column);
    } else {
      bottom.append(column);
    }
  } else {
    bottom.append(el("div", "aw-hint aw-compare-nodiff", "The prompts have different numbers of tokens: no difference map (head differences use length-independent statistics)."));
  }
  root.append(header, panelRow, bottom);

  const repaintAll = () => {
    theme = readTheme(root);
    themeFromPage = root.isConnected;
    for (const view of views) view.repaint();
  };
  repaintAll();
  const stopTheme = watchTheme(repaintAll);
  const stopAttach = onResize(root, () => {
    if (!themeFromPage && root.isConnected) repaintAll();
  });

  return () => {
    stopAttach();
    stopTheme();
    for (const stop of stops) stop();
    for (const view of views) view.dispose();
    for (const selection of selections) selection.dispose();
    root.remove();
  };
}

export default { render } satisfies AnyWidget<CompareTraits>;
