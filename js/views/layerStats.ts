// Per layer (rows, equal heights over the whole data-testid="layer-stats" box) and head: one small matrix
// per score of `_info.layer_stats` (peak weight, entropy, first- and previous-token attention), side by
// side, each with its legend below. A click selects the row's layer, and on a matrix cell that head too.
import { cssColor, formatWeight, packedCss, rangeTicks } from "../color";
import * as data from "../data";
import { Tooltip, el, fitCanvas, layeredBox, pointIn } from "../dom";
import { statsCellAt, statsGeometry } from "../layout";
import { scoreColour, scoreRange } from "../scores";
import { layerLabels } from "./layerHeadGrid";
import { createLegend } from "./legend";
import type { View, ViewContext } from "./view";

export function createLayerStats({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const layers = info.num_layers;
  const heads = info.num_heads;
  const shown = () => info.layer_stats.map((name) => data.score(model, name)).filter((s) => s !== null);
  const panels = info.layer_stats.length;
  const g = statsGeometry(layers, heads, panels);
  const panelWidth = heads * g.cellWidth;

  const root = el("section", "aw-panel aw-stats-panel");
  const header = el("div", "aw-panel-header");
  header.append(el("h3", "aw-title", "Layer statistics"), el("span", "aw-hint", "rows: layers · columns: heads · click a row to select the layer"));
  const frame = el("div", "aw-stats-frame");
  frame.style.gridTemplateColumns = `auto ${g.width}px`;
  const titles = el("div", "aw-stats-titles");
  titles.style.width = `${g.width}px`;
  const legends = el("div", "aw-stats-legends");
  legends.style.width = `${g.width}px`;
  legends.style.gap = `${g.gap}px`;
  const panelLegends = info.layer_stats.map((name, p) => {
    const s = (info.scores ?? []).find((x) => x.name === name);
    const t = el("span", "aw-stats-title", s?.title ?? name, { title: s?.label ?? name });
    t.style.left = `${p * (panelWidth + g.gap)}px`;
    t.style.width = `${panelWidth}px`;
    titles.append(t);
    const legend = createLegend({ width: panelWidth, testid: `layer-stats-legend-${name}` });
    legend.root.style.width = `${panelWidth}px`;
    legends.append(legend.root);
    return legend;
  });
  const { box, base, overlay } = layeredBox("", "layer-stats");
  box.style.width = `${g.width}px`;
  box.style.height = `${g.height}px`;
  frame.append(el("span"), titles, layerLabels(layers, g.rowHeight), box, el("span"), legends);
  root.append(header, frame);
  const tooltip = new Tooltip(frame);
  let hoverLayer = -1;

  const paintBase = () => {
    const stats = shown();
    const c = fitCanvas(base, g.width, g.height);
    if (!c || stats.length < panels) return;
    const t = theme();
    c.clearRect(0, 0, g.width, g.height);
    stats.forEach((s, p) => {
      // Each panel spans its own values (so that differences between heads show); its legend says which.
      const range = scoreRange(false, s.values);
      const colours = { ...s, range, ascending: false };
      const x0 = p * (panelWidth + g.gap);
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          c.fillStyle = packedCss(scoreColour(colours, l * heads + h, t.sequential, t.masked));
          c.fillRect(x0 + h * g.cellWidth, l * g.rowHeight, g.cellWidth - (g.cellWidth > 8 ? 1 : 0), g.rowHeight - (g.rowHeight > 8 ? 1 : 0));
        }
      }
      panelLegends[p].paint(t, { lut: t.sequential, ticks: rangeTicks(...range) });
    });
  };

  const paintOverlay = () => {
    const c = fitCanvas(overlay, g.width, g.height);
    if (!c) return;
    const t = theme();
    c.clearRect(0, 0, g.width, g.height);
    if (hoverLayer >= 0) {
      c.fillStyle = cssColor(t.fg, 0.15);
      c.fillRect(0, hoverLayer * g.rowHeight, g.width, g.rowHeight);
    }
    c.strokeStyle = cssColor(t.accent);
    c.lineWidth = 2;
    for (let p = 0; p < panels; p++) {
      const x0 = p * (panelWidth + g.gap);
      c.strokeRect(x0 + 1, selection.layer * g.rowHeight + 1, panelWidth - 2, g.rowHeight - 2);
      c.strokeRect(x0 + selection.head * g.cellWidth, selection.layer * g.rowHeight, g.cellWidth, g.rowHeight);
    }
  };

  const hitAt = (event: MouseEvent) => {
    const p = pointIn(box, event);
    return statsCellAt(p.x, p.y, p.height, layers, heads, panels, g.cellWidth, g.gap);
  };
  const onLeave = () => {
    hoverLayer = -1;
    tooltip.hide();
    paintOverlay();
  };
  lifetime.listen(box, "mousemove", (event) => {
    const hit = hitAt(event);
    if (!hit) return onLeave();
    hoverLayer = hit.layer;
    paintOverlay();
    const lines = [hit.head >= 0 ? `layer ${hit.layer} · head ${hit.head}` : `layer ${hit.layer} (mean over heads)`];
    for (const s of shown()) {
      let v = 0;
      if (hit.head >= 0) v = s.values[hit.layer * heads + hit.head];
      else for (let h = 0; h < heads; h++) v += s.values[hit.layer * heads + h] / heads;
      lines.push(`${s.label}: ${Number.isNaN(v) ? "undefined" : formatWeight(v)}`);
    }
    tooltip.showAt(lines, event);
  });
  lifetime.listen(box, "mouseleave", onLeave);
  lifetime.listen(box, "click", (event) => {
    const hit = hitAt(event);
    if (!hit) return;
    if (hit.head >= 0) selection.selectHead(hit.layer, hit.head, "layer-stats");
    else selection.selectLayer(hit.layer, "layer-stats");
  });

  selection.on(["_head_scores"], paintBase);
  selection.on(["layer", "head"], paintOverlay);
  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  return { name: "layer-stats", root, repaint };
}
