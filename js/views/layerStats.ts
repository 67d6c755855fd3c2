// Per layer (rows, equal heights over the whole data-testid="layer-stats" box) and head: one small matrix
// per score of `_info.layer_stats` (peak weight, entropy, first- and previous-token attention), side by
// side, each with its legend below. A click selects the row's layer, and on a matrix cell that head too.
// The matrices take the width the panel has (a narrow side panel, a phone-wide notebook).
import { cssColor, formatWeight, packedCss, rangeTicks } from "../color";
import * as data from "../data";
import { Tooltip, el, fitCanvas, layeredBox, onResize, pointIn } from "../dom";
import { statsCellAt, statsGeometry } from "../layout";
import { scoreColour, scoreRange } from "../scores";
import { fileStem } from "../snapshot";
import { layerLabels } from "./layerHeadGrid";
import { createLegend } from "./legend";
import { createSaveButtons } from "./save";
import type { View, ViewContext } from "./view";

/** Below this width (px) of a matrix, the legends are not under their matrices but two to a row, titled. */
const NARROW_LEGEND = 100;

export function createLayerStats({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const layers = info.num_layers;
  const heads = info.num_heads;
  const shown = () => info.layer_stats.map((name) => data.score(model, name)).filter((s) => s !== null);
  const panels = info.layer_stats.length;
  let g = statsGeometry(layers, heads, panels);
  let panelWidth = heads * g.cellWidth;

  const root = el("section", "aw-panel aw-stats-panel");
  const header = el("div", "aw-panel-header");
  header.append(el("h3", "aw-title", "Layer statistics"), el("span", "aw-hint", "rows: layers · columns: heads · click a row to select the layer"));
  const frame = el("div", "aw-stats-frame");
  const titles = el("div", "aw-stats-titles");
  const legends = el("div", "aw-stats-legends");
  const columnTitles: HTMLElement[] = [];
  const legendItems: HTMLElement[] = [];
  const panelLegends = info.layer_stats.map((name) => {
    const s = (info.scores ?? []).find((x) => x.name === name);
    const t = el("span", "aw-stats-title", s?.title ?? name, { title: s?.label ?? name });
    columnTitles.push(t);
    titles.append(t);
    // As wide as its matrix, whatever that is (`fit`: it measures its box); titled when the matrices are
    // too narrow for a legend each and the legends go two to a row instead.
    const legend = createLegend({ width: 240, fit: true, minWidth: 40, testid: `layer-stats-legend-${name}` });
    const item = el("div", "aw-stats-legend");
    item.append(el("span", "aw-stats-legend-title", s?.title ?? name), legend.root);
    legendItems.push(item);
    legends.append(item);
    return legend;
  });
  const labels = layerLabels(layers, g.rowHeight);
  const { box, base, overlay } = layeredBox("", "layer-stats");
  frame.append(el("span"), titles, labels, box, el("span"), legends);
  root.append(header, frame);
  const tooltip = new Tooltip(frame);
  header.append(createSaveButtons(lifetime, { name: "layer-stats", root, repaint: () => repaint(), theme, fileStem: () => fileStem(["layer-stats"]) }));
  let hoverLayer = -1;

  /** Size everything for the geometry `g`. */
  const layout = () => {
    panelWidth = heads * g.cellWidth;
    frame.style.gridTemplateColumns = `auto ${g.width}px`;
    titles.style.width = legends.style.width = `${g.width}px`;
    // A legend under each matrix needs ~100 px for its values; narrower, two legends to a row.
    const narrow = panelWidth < NARROW_LEGEND && panels > 1;
    frame.classList.toggle("is-narrow", narrow);
    legends.style.gap = narrow ? `4px ${g.gap}px` : `${g.gap}px`;
    const legendWidth = narrow ? Math.floor((g.width - g.gap) / 2) : panelWidth;
    columnTitles.forEach((t, p) => {
      t.style.left = `${p * (panelWidth + g.gap)}px`;
      t.style.width = `${panelWidth}px`;
    });
    for (const item of legendItems) item.style.width = `${legendWidth}px`;
    box.style.width = `${g.width}px`;
    box.style.height = `${g.height}px`;
  };
  layout();

  /** The geometry for the frame's width now (kept while it measures 0: hidden, or not yet on the page). */
  const fit = () => {
    const room = frame.clientWidth - labels.offsetWidth - 4;
    if (room <= 0) return;
    const next = statsGeometry(layers, heads, panels, room);
    if (next.cellWidth !== g.cellWidth || next.gap !== g.gap) {
      g = next;
      layout();
    }
  };

  const paintBase = () => {
    fit();
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

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["_head_scores"], paintBase);
  selection.on(["layer", "head"], paintOverlay);
  // A new width can change the cells (and so the whole drawing).
  let width = 0;
  onResize(frame, lifetime, () => {
    if (frame.clientWidth > 0 && frame.clientWidth !== width) {
      width = frame.clientWidth;
      repaint();
    }
  });
  return { name: "layer-stats", root, repaint };
}
