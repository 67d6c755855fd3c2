// Which heads change most between the prompts: a layers × heads grid coloured by each head's distance
// (data-testid="head-diff", its box exactly the cells, like head-grid) and the top heads as a sorted list
// (data-testid="head-diff-ranking"). Hover a cell: every panel previews that head; click: select it.
import { cssColor, formatWeight, unpackRGBA } from "../color";
import { decodeFloat32 } from "../decode";
import { Tooltip, canvas, devicePixels, el, fitCanvas, layerHeadFrame } from "../dom";
import { cellAt, gridCellSize } from "../layout";
import { putPixels } from "../raster";
import type { HeadRef, Selection } from "../selection";
import type { Theme } from "../theme";
import { headStat, metricScores, rankHeads } from "../compare/logic";
import type { CompareModel, Metric } from "../compare/model";
import type { View } from "./view";

export interface HeadDiffContext {
  model: CompareModel;
  /** One per panel: preview goes to all; selecting through any of them writes the shared traits. */
  selections: Selection[];
  theme(): Theme;
}

const LEGEND_WIDTH = 160;
const LEGEND_HEIGHT = 24;

export function createHeadDiff({ model, selections, theme }: HeadDiffContext): View {
  const info = model.get("_info");
  const layers = info.num_layers;
  const heads = info.num_heads;
  const cell = gridCellSize(layers, heads);
  const selection = selections[0];
  const allStats = decodeFloat32(model.get("_head_stats"));
  const allScores = decodeFloat32(model.get("_head_diff"));
  const scores = () => metricScores(allScores, info, model.get("metric"));

  const root = el("section", "aw-panel aw-head-diff-panel");
  const header = el("div", "aw-panel-header");
  const metricSelect = el("select", "aw-select", undefined, { "aria-label": "difference metric", title: "difference metric" });
  for (const m of info.metrics) metricSelect.append(el("option", undefined, m, { value: m }));
  const metricLabel = el("label", "aw-control", "metric ");
  metricLabel.append(metricSelect);
  header.append(el("h3", "aw-title", "Which heads change"), el("span", "aw-hint", "hover: preview · click: select"), metricLabel);
  const description = el("div", "aw-hint aw-metric-note");

  const body = el("div", "aw-head-diff-body");
  const { frame, box, base, overlay } = layerHeadFrame(layers, heads, cell, "head-diff");
  const legend = canvas("aw-legend-bar");
  legend.style.width = `${LEGEND_WIDTH}px`;
  legend.style.height = `${LEGEND_HEIGHT}px`;
  const gridColumn = el("div", "aw-head-diff-grid");
  gridColumn.append(frame, legend);

  const rankingBox = el("div", "aw-ranking");
  rankingBox.append(el("div", "aw-ranking-title", "Most changed heads"));
  const list = el("ol", "aw-ranking-list", undefined, { "data-testid": "head-diff-ranking" });
  rankingBox.append(list);
  body.append(gridColumn, rankingBox);
  root.append(header, description, body);
  const tooltip = new Tooltip(body);

  let hovered: HeadRef | null = null;

  const maxScore = () => {
    let max = 0;
    for (const v of scores()) if (v > max) max = v;
    return max;
  };

  const paintBase = () => {
    const t = theme();
    const values = scores();
    const max = maxScore();
    const dCell = devicePixels(cell);
    const gap = dCell >= 12 ? 1 : 0;
    const width = heads * dCell;
    const pixels = new Uint32Array(width * layers * dCell).fill(t.masked);
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < heads; h++) {
        const v = max > 0 ? values[l * heads + h] / max : 0;
        const colour = t.sequential[Math.max(0, Math.min(255, Math.round(v * 255)))];
        for (let r = 0; r < dCell - gap; r++) {
          const start = (l * dCell + r) * width + h * dCell;
          pixels.fill(colour, start, start + dCell - gap);
        }
      }
    }
    putPixels(base, pixels, width, layers * dCell);
    paintLegend(t, max);
  };

  const paintLegend = (t: Theme, max: number) => {
    const ctx = fitCanvas(legend, LEGEND_WIDTH, LEGEND_HEIGHT);
    if (!ctx) return;
    ctx.clearRect(0, 0, LEGEND_WIDTH, LEGEND_HEIGHT);
    const pad = 14;
    const span = LEGEND_WIDTH - 2 * pad;
    for (let i = 0; i < 256; i++) {
      const [r, g, b] = unpackRGBA(t.sequential[i]);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(pad + (i / 256) * span, 0, span / 256 + 0.5, 8);
    }
    ctx.font = `10px ${t.font}`;
    ctx.textBaseline = "top";
    ctx.fillStyle = cssColor(t.fg);
    ctx.textAlign = "left";
    ctx.fillText("0 same", pad - 4, 11);
    ctx.textAlign = "right";
    ctx.fillText(formatWeight(max), LEGEND_WIDTH - pad + 4, 11);
  };

  const paintOverlay = () => {
    const ctx = fitCanvas(overlay, heads * cell, layers * cell);
    if (!ctx) return;
    const t = theme();
    ctx.clearRect(0, 0, heads * cell, layers * cell);
    const outline = (layer: number, head: number, color: string, width: number) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.strokeRect(head * cell + width / 2, layer * cell + width / 2, cell - width, cell - width);
    };
    if (hovered) outline(hovered.layer, hovered.head, cssColor(t.fg, 0.8), 1);
    outline(selection.layer, selection.head, cssColor(t.accent), 2);
  };

  const items: HTMLLIElement[] = [];
  const fillRanking = () => {
    const values = scores();
    const max = maxScore();
    const ranked = rankHeads(values, layers, heads, info.ranking_size);
    list.replaceChildren();
    items.length = 0;
    ranked.forEach((entry, rank) => {
      const item = el("li", "aw-ranking-item", undefined, {
        "data-layer": String(entry.layer), "data-head": String(entry.head), "data-rank": String(rank),
      });
      const button = el("button", "aw-ranking-button", undefined, {
        type: "button", title: `select layer ${entry.layer}, head ${entry.head}`,
      });
      const name = el("span", "aw-ranking-name", `L${entry.layer} · H${entry.head}`);
      const bar = el("span", "aw-ranking-bar");
      const fill = el("span", "aw-ranking-fill");
      fill.style.width = `${max > 0 ? Math.max(2, (100 * entry.score) / max) : 0}%`;
      bar.append(fill);
      button.append(name, bar, el("span", "aw-ranking-score", formatWeight(entry.score)));
      item.append(button);
      list.append(item);
      items.push(item);
    });
    markSelected();
  };
  const markSelected = () => {
    for (const item of items) {
      const on = Number(item.dataset.layer) === selection.layer && Number(item.dataset.head) === selection.head;
      item.classList.toggle("is-selected", on);
    }
  };

  const describeMetric = () => {
    const m = model.get("metric");
    metricSelect.value = m;
    const label = info.metric_labels[info.metrics.indexOf(m)] ?? "";
    const pairs = info.prompts.length > 2 ? `, mean over all ${(info.prompts.length * (info.prompts.length - 1)) / 2} pairs` : "";
    description.textContent = `${m}: ${label}${pairs}`;
  };

  const previewAll = (head: HeadRef | null) => {
    for (const s of selections) s.preview(head);
  };

  const onMove = (event: MouseEvent) => {
    const rect = box.getBoundingClientRect();
    const hit = cellAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height, layers, heads);
    if (!hit) return onLeave();
    if (!hovered || hovered.layer !== hit.row || hovered.head !== hit.col) {
      hovered = { layer: hit.row, head: hit.col };
      previewAll(hovered);
      paintOverlay();
    }
    const m = model.get("metric");
    const lines = [`layer ${hit.row} · head ${hit.col}`, `${m}: ${formatWeight(scores()[hit.row * heads + hit.col])}`];
    info.labels.forEach((label, p) => {
      const parts = info.stat_names.map(
        (name, s) => `${name.slice(0, 4)} ${formatWeight(headStat(allStats, info, p, s, hit.row, hit.col))}`,
      );
      lines.push(`${label}: ${parts.join(" ")}`);
    });
    const bodyRect = body.getBoundingClientRect();
    tooltip.show(lines, event.clientX - bodyRect.left, event.clientY - bodyRect.top, bodyRect.width);
  };
  const onLeave = () => {
    hovered = null;
    previewAll(null);
    tooltip.hide();
    paintOverlay();
  };
  const onClick = (event: MouseEvent) => {
    const rect = box.getBoundingClientRect();
    const hit = cellAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height, layers, heads);
    if (hit) selection.selectHead(hit.row, hit.col, "head-diff");
  };
  const onRankingClick = (event: MouseEvent) => {
    const item = event.target instanceof Element ? event.target.closest<HTMLElement>(".aw-ranking-item") : null;
    if (item) selection.selectHead(Number(item.dataset.layer), Number(item.dataset.head), "head-diff-ranking");
  };
  const onRankingOver = (event: MouseEvent) => {
    const item = event.target instanceof Element ? event.target.closest<HTMLElement>(".aw-ranking-item") : null;
    previewAll(item ? { layer: Number(item.dataset.layer), head: Number(item.dataset.head) } : null);
  };
  const onRankingLeave = () => previewAll(null);
  const onMetric = () => {
    model.set("metric", metricSelect.value as Metric);
    model.save_changes();
  };
  box.addEventListener("mousemove", onMove);
  box.addEventListener("mouseleave", onLeave);
  box.addEventListener("click", onClick);
  list.addEventListener("click", onRankingClick);
  list.addEventListener("mouseover", onRankingOver);
  list.addEventListener("mouseleave", onRankingLeave);
  metricSelect.addEventListener("change", onMetric);

  const onMetricChange = () => {
    describeMetric();
    paintBase();
    fillRanking();
  };
  const onSelect = () => {
    paintOverlay();
    markSelected();
  };
  model.on("change:metric", onMetricChange);
  model.on("change:layer", onSelect);
  model.on("change:head", onSelect);
  describeMetric();
  fillRanking();

  return {
    root,
    repaint() {
      paintBase();
      paintOverlay();
    },
    dispose() {
      model.off("change:metric", onMetricChange);
      model.off("change:layer", onSelect);
      model.off("change:head", onSelect);
      box.removeEventListener("mousemove", onMove);
      box.removeEventListener("mouseleave", onLeave);
      box.removeEventListener("click", onClick);
      list.removeEventListener("click", onRankingClick);
      list.removeEventListener("mouseover", onRankingOver);
      list.removeEventListener("mouseleave", onRankingLeave);
      metricSelect.removeEventListener("change", onMetric);
    },
  };
}
