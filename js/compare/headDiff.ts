// Which heads change most between the prompts: a layers × heads grid coloured by each head's distance
// (data-testid="head-diff", its box exactly the cells, like head-grid) and the top heads as a sorted list
// (data-testid="head-diff-ranking"). Hover a cell: every panel previews that head; click: select it.
import { cssColor, formatWeight, lutIndex, rangeTicks } from "../color";
import { decodeFloat32 } from "../decode";
import { Tooltip, el } from "../dom";
import type { Lifetime } from "../lifetime";
import { rankHeads } from "../ranking";
import type { HeadRef, Selection } from "../selection";
import { fileStem } from "../snapshot";
import type { Theme } from "../theme";
import { createHeadList } from "../views/headList";
import { createLayerHeadGrid } from "../views/layerHeadGrid";
import { createLegend } from "../views/legend";
import { createSaveButtons } from "../views/save";
import type { View } from "../views/view";
import { headStat, metricScores } from "./logic";
import type { CompareModel, Metric } from "./model";

export interface HeadDiffContext {
  model: CompareModel;
  /** One per panel: preview goes to all; selecting through any of them writes the shared traits. */
  selections: Selection[];
  theme(): Theme;
  lifetime: Lifetime;
}

export function createHeadDiff({ model, selections, theme, lifetime }: HeadDiffContext): View {
  const info = model.get("_info");
  const layers = info.num_layers;
  const heads = info.num_heads;
  const selection = selections[0];
  const allStats = decodeFloat32(model.get("_head_stats"));
  const allScores = decodeFloat32(model.get("_head_diff"));
  const scores = () => metricScores(allScores, info, model.get("metric"));
  const maxScore = () => scores().reduce((max, v) => (v > max ? v : max), 0);

  const root = el("section", "aw-panel aw-head-diff-panel");
  const header = el("div", "aw-panel-header");
  const metricSelect = el("select", "aw-select", undefined, { "aria-label": "difference metric", title: "difference metric" });
  for (const m of info.metrics) metricSelect.append(el("option", undefined, m, { value: m }));
  const metricLabel = el("label", "aw-control", "metric ");
  metricLabel.append(metricSelect);
  header.append(el("h3", "aw-title", "Which heads change"), el("span", "aw-hint", "hover: preview · click: select"), metricLabel);
  header.append(createSaveButtons(lifetime, {
    name: "head-diff", root, repaint: () => repaint(), theme, fileStem: () => fileStem(["head-differences", model.get("metric")]),
  }));
  const description = el("div", "aw-hint aw-metric-note");

  const body = el("div", "aw-head-diff-body");
  const grid = createLayerHeadGrid(layers, heads, "head-diff");
  const legend = createLegend({ width: 200, testid: "head-diff-legend" });
  const gridColumn = el("div", "aw-head-diff-grid");
  gridColumn.append(grid.frame, legend.root);

  const previewAll = (head: HeadRef | null) => {
    for (const s of selections) s.preview(head);
  };
  const rankingBox = el("div", "aw-ranking");
  const list = createHeadList(lifetime, "aw-ranking-list", {
    select: (head) => selection.selectHead(head.layer, head.head, "head-diff-ranking"),
    preview: previewAll,
  }, { "data-testid": "head-diff-ranking" });
  rankingBox.append(el("div", "aw-ranking-title", "Most changed heads"), list.root);
  body.append(gridColumn, rankingBox);
  root.append(header, description, body);
  const tooltip = new Tooltip(body);

  let hovered: HeadRef | null = null;

  const paintBase = () => {
    const t = theme();
    const values = scores();
    const max = maxScore();
    grid.paint(t.masked, (l, h, tile) => tile.fill(t.sequential[lutIndex(max > 0 ? values[l * heads + h] / max : 0)]));
    legend.paint(t, { lut: t.sequential, ticks: rangeTicks(0, max), note: `${model.get("metric")} between the prompts; 0: the same` });
  };

  const paintOverlay = () => {
    const ctx = grid.overlay();
    if (!ctx) return;
    const t = theme();
    if (hovered) grid.outline(ctx, hovered, cssColor(t.fg, 0.8), 1);
    grid.outline(ctx, selection, cssColor(t.accent), 2);
  };

  const fillRanking = () => {
    const max = maxScore();
    const entries = rankHeads(scores(), heads, false, info.ranking_size).map((entry) => {
      const bar = el("span", "aw-ranking-bar");
      const fill = el("span", "aw-ranking-fill");
      fill.style.width = `${max > 0 ? Math.max(2, (100 * entry.value) / max) : 0}%`;
      bar.append(fill);
      return { layer: entry.layer, head: entry.head, parts: [bar, el("span", "aw-heads-value", formatWeight(entry.value))] };
    });
    list.fill(entries);
    list.markSelected(selection);
  };

  const describeMetric = () => {
    const m = model.get("metric");
    metricSelect.value = m;
    const label = info.metric_labels[info.metrics.indexOf(m)] ?? "";
    const pairs = info.prompts.length > 2 ? `, mean over all ${(info.prompts.length * (info.prompts.length - 1)) / 2} pairs` : "";
    description.textContent = `${m}: ${label}${pairs}`;
  };

  const onLeave = () => {
    hovered = null;
    previewAll(null);
    tooltip.hide();
    paintOverlay();
  };
  lifetime.listen(grid.box, "mousemove", (event) => {
    const hit = grid.headAt(event);
    if (!hit) return onLeave();
    if (!hovered || hovered.layer !== hit.layer || hovered.head !== hit.head) {
      hovered = hit;
      previewAll(hovered);
      paintOverlay();
    }
    const lines = [`layer ${hit.layer} · head ${hit.head}`, `${model.get("metric")}: ${formatWeight(scores()[hit.layer * heads + hit.head])}`];
    // Each statistic of this head in every prompt.
    info.stats.forEach((stat, i) => {
      const values = info.labels.map((label, p) => `${label} ${formatWeight(headStat(allStats, info, p, i, hit.layer, hit.head))}`);
      lines.push(`${stat.title}: ${values.join(" · ")}`);
    });
    tooltip.showAt(lines, event);
  });
  lifetime.listen(grid.box, "mouseleave", onLeave);
  lifetime.listen(grid.box, "click", (event) => {
    const hit = grid.headAt(event);
    if (hit) selection.selectHead(hit.layer, hit.head, "head-diff");
  });
  lifetime.listen(metricSelect, "change", () => {
    model.set("metric", metricSelect.value as Metric);
    model.save_changes();
  });

  lifetime.onChange(model, ["metric"], () => {
    describeMetric();
    paintBase();
    fillRanking();
  });
  lifetime.onChange(model, ["layer", "head"], () => {
    paintOverlay();
    list.markSelected(selection);
  });
  describeMetric();
  fillRanking();

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  return { name: "head-diff", root, repaint };
}
