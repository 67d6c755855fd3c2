// Per layer (rows, equal heights over the whole data-testid="layer-stats" box) and head: one small matrix
// per statistic, side by side. A click selects the row's layer, and on a matrix cell that head too.
import { cssColor, formatWeight, lutIndex } from "../color";
import * as data from "../data";
import { Tooltip, canvas, el, fitCanvas } from "../dom";
import { labelStep, statsCellAt, statsGeometry } from "../layout";
import type { View, ViewContext } from "./view";

const SHORT_TITLES: Record<string, string> = {
  peak: "peak weight",
  entropy: "entropy",
  first: "→ first token",
  previous: "→ previous token",
};

export function createLayerStats({ model, selection, theme }: ViewContext): View {
  const info = data.info(model);
  const layers = info.num_layers;
  const heads = info.num_heads;
  const names = info.stat_names;
  const panels = names.length;
  const g = statsGeometry(layers, heads, panels);

  const root = el("section", "aw-panel aw-stats-panel");
  const header = el("div", "aw-panel-header");
  header.append(el("h3", "aw-title", "Layer statistics"), el("span", "aw-hint", "rows: layers · columns: heads · click a row to select the layer"));
  const frame = el("div", "aw-stats-frame");
  frame.style.gridTemplateColumns = `auto ${g.width}px`;
  const titles = el("div", "aw-stats-titles");
  titles.style.width = `${g.width}px`;
  names.forEach((name, p) => {
    const t = el("span", "aw-stats-title", SHORT_TITLES[name] ?? name, { title: info.stat_labels[p] ?? name });
    t.style.left = `${p * (heads * g.cellWidth + g.gap)}px`;
    t.style.width = `${heads * g.cellWidth}px`;
    titles.append(t);
  });
  const layerLabels = el("div", "aw-grid-layer-labels");
  const step = labelStep(g.rowHeight, 12);
  for (let l = 0; l < layers; l++) {
    const label = el("span", "aw-axis-label", l % step === 0 ? String(l) : "");
    label.style.height = `${g.rowHeight}px`;
    label.style.lineHeight = `${g.rowHeight}px`;
    layerLabels.append(label);
  }
  const box = el("div", "aw-box", undefined, { "data-testid": "layer-stats" });
  box.style.width = `${g.width}px`;
  box.style.height = `${g.height}px`;
  const base = canvas("aw-layer", "base");
  const overlay = canvas("aw-layer", "overlay");
  box.append(base, overlay);
  frame.append(el("span"), titles, layerLabels, box);
  root.append(header, frame);
  const tooltip = new Tooltip(frame);
  let hoverLayer = -1;

  const value = (values: Float32Array, p: number, l: number, h: number) => values[(p * layers + l) * heads + h];

  const paintBase = () => {
    const values = data.stats(model);
    const c = fitCanvas(base, g.width, g.height);
    if (!c || values.length < panels * layers * heads) return;
    const t = theme();
    c.clearRect(0, 0, g.width, g.height);
    for (let p = 0; p < panels; p++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = p * layers * heads; i < (p + 1) * layers * heads; i++) {
        lo = Math.min(lo, values[i]);
        hi = Math.max(hi, values[i]);
      }
      const x0 = p * (heads * g.cellWidth + g.gap);
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          const v = hi > lo ? (value(values, p, l, h) - lo) / (hi - lo) : 0.5;
          const packed = t.sequential[lutIndex(v)];
          c.fillStyle = `rgb(${packed & 255},${(packed >>> 8) & 255},${(packed >>> 16) & 255})`;
          c.fillRect(x0 + h * g.cellWidth, l * g.rowHeight, g.cellWidth - (g.cellWidth > 8 ? 1 : 0), g.rowHeight - (g.rowHeight > 8 ? 1 : 0));
        }
      }
    }
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
      const x0 = p * (heads * g.cellWidth + g.gap);
      c.strokeRect(x0 + 1, selection.layer * g.rowHeight + 1, heads * g.cellWidth - 2, g.rowHeight - 2);
      c.strokeRect(x0 + selection.head * g.cellWidth, selection.layer * g.rowHeight, g.cellWidth, g.rowHeight);
    }
  };

  const hitAt = (event: MouseEvent) => {
    const rect = box.getBoundingClientRect();
    return statsCellAt(event.clientX - rect.left, event.clientY - rect.top, rect.height, layers, heads, panels, g.cellWidth, g.gap);
  };
  const onMove = (event: MouseEvent) => {
    const hit = hitAt(event);
    if (!hit) return onLeave();
    hoverLayer = hit.layer;
    paintOverlay();
    const values = data.stats(model);
    const lines = [hit.head >= 0 ? `layer ${hit.layer} · head ${hit.head}` : `layer ${hit.layer} (mean over heads)`];
    names.forEach((name, p) => {
      let v = 0;
      if (hit.head >= 0) v = value(values, p, hit.layer, hit.head);
      else for (let h = 0; h < heads; h++) v += value(values, p, hit.layer, h) / heads;
      lines.push(`${info.stat_labels[p] ?? name}: ${formatWeight(v)}`);
    });
    const frameRect = frame.getBoundingClientRect();
    tooltip.show(lines, event.clientX - frameRect.left, event.clientY - frameRect.top, frameRect.width);
  };
  const onLeave = () => {
    hoverLayer = -1;
    tooltip.hide();
    paintOverlay();
  };
  const onClick = (event: MouseEvent) => {
    const hit = hitAt(event);
    if (!hit) return;
    if (hit.head >= 0) selection.selectHead(hit.layer, hit.head, "layer-stats");
    else selection.selectLayer(hit.layer, "layer-stats");
  };
  box.addEventListener("mousemove", onMove);
  box.addEventListener("mouseleave", onLeave);
  box.addEventListener("click", onClick);

  selection.on(["_stats"], paintBase);
  selection.on(["layer", "head"], paintOverlay);
  const repaint = () => {
    paintBase();
    paintOverlay();
  };

  return {
    root,
    repaint,
    dispose() {
      box.removeEventListener("mousemove", onMove);
      box.removeEventListener("mouseleave", onLeave);
      box.removeEventListener("click", onClick);
    },
  };
}
