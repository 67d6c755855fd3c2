// The shown head: rows are queries, columns keys. The data-testid="heatmap" element is exactly the map;
// token labels sit outside it (mapFrame.ts). Hover feedback draws on an overlay canvas only. Zoom and pan:
// heatmapZoom.ts; which data is drawn and what a cell holds: heatmapData.ts.
import { SCALE_NOTES, VALUE_WEIGHTED_NOTES, cssColor, legendTicks } from "../color";
import * as data from "../data";
import { Tooltip, devicePixels, el, onResize, pointIn, setLiveText } from "../dom";
import { hasKernel } from "../kernel";
import { isZoomed, tokenOffset, windowCellAt } from "../layout";
import { type ColorScale, WEIGHTINGS, type Weighting } from "../model";
import { colorize, putPixels } from "../raster";
import { fileStem } from "../snapshot";
import {
  HeatmapLevels, type Shown, cellAtTokens, covers, describeCell, detailPatch, maxOf, shownMap,
} from "./heatmapData";
import { heatmapSvgText } from "./heatmapSvg";
import { createZoom } from "./heatmapZoom";
import { createLegend } from "./legend";
import { clearOverlay, createHeatmapPanel, createMapFrame, paintTokenAxes, paintTokenBands } from "./mapFrame";
import { createSaveButtons } from "./save";
import type { View, ViewContext } from "./view";

export function createHeatmap({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const texts = data.tokens(model);
  const seq = info.seq_len;
  // Read each time: whether a kernel is behind the model shows once the view is in its host (kernel.ts).
  const live = () => hasKernel(model, root);
  // Compare panels have no map_window: zoom works, detail is not requested; nor is it without a kernel.
  const canRequest = () => Array.isArray(model.get("map_window")) && live();

  const { root, header, title, status, scaleSelect, scaleLabel } = createHeatmapPanel();
  // What the map shows (`weighting`): only where the model has the trait (not in compare panels or pages
  // saved before it).
  // An encoder-decoder run's parts have no value-weighted maps (their heads write through two stacks).
  const hasWeighting = typeof model.get("weighting") === "string" && !info.kinds?.length;
  const weightingSelect = el("select", "aw-select", undefined, {
    "aria-label": "what the map shows", "data-testid": "heatmap-weighting",
    title: "attention: the weights αᵢⱼ; value-weighted: αᵢⱼ·‖W_O vⱼ‖, the weight times the size of what key j's value writes through this head",
  });
  for (const w of WEIGHTINGS) weightingSelect.append(el("option", undefined, w === "attention" ? "attention" : "value-weighted", { value: w }));
  const weightingLabel = el("label", "aw-control");
  weightingLabel.append(weightingSelect);
  const wantedWeighting = (): Weighting => (hasWeighting ? model.get("weighting") : "attention");
  const f = createMapFrame("heatmap", {
    tabindex: "0", role: "img", "aria-label": "attention map: wheel or + − zoom, drag or arrow keys pan, 0 resets",
  });
  const legend = createLegend({ fit: true, testid: "heatmap-legend" });
  const tooltip = new Tooltip(f.frame);
  const levels = new HeatmapLevels(seq, info.is_causal);

  let boxSize = 0;
  let hover: { query: number; key: number } | null = null;
  const shown = (): Shown | null => shownMap(model, selection.shownHead);
  const zoomed = () => isZoomed(zoom.window, seq);

  const zoom = createZoom({
    model, seq, box: f.box, lifetime,
    get canRequest() {
      return canRequest();
    },
    onChange: () => repaint(),
    onWheel: (event) => showTooltip(event),
    onDragStart: () => tooltip.hide(),
  });
  header.append(title, status, zoom.controls, scaleLabel, ...(hasWeighting ? [weightingLabel] : []));
  root.append(header, f.frame, legend.root);
  const svg = () => {
    const s = shown();
    if (!s || boxSize <= 0) return null;
    return heatmapSvgText({
      title: `${title.textContent} · ${status.textContent}`, shown: s, detail: zoomed() ? detailPatch(model, s) : null,
      win: zoom.window, seq, causal: info.is_causal, scale: model.get("color_scale"), texts,
      hovered: selection.hovered, pinned: selection.token, side: boxSize, theme: theme(), legend: legend.drawn(),
    });
  };
  const stem = () => {
    const { layer, head } = selection.shownHead;
    const w = zoom.window;
    const what = shown()?.weighting === "value_weighted" ? "value-weighted" : "attention";
    return fileStem([what, `L${layer}`, `H${head}`, ...(zoomed() ? [`q${w.q0}-${w.q0 + w.span}`, `k${w.k0}-${w.k0 + w.span}`] : [])]);
  };
  header.append(createSaveButtons(lifetime, { name: "heatmap", root, repaint: () => repaint(), theme, fileStem: stem, svg }));

  const describeWindow = (s: Shown): string => {
    const w = zoom.window;
    const range = `queries ${w.q0}–${w.q0 + w.span - 1} · keys ${w.k0}–${w.k0 + w.span - 1} of ${seq}`;
    if (s.kind !== "pooled") return `${range}${s.kind === "full" ? "" : " (thumbnail)"}`;
    const detail = detailPatch(model, s);
    if (detail && covers(detail, w)) {
      const pooled = detail.rows < detail.q1 - detail.q0 || detail.cols < detail.k1 - detail.k0;
      return `${range}${pooled ? " (max-pooled)" : " (exact)"}`;
    }
    return `${range} · max-pooled${canRequest() ? " (loading detail…)" : ""}`;
  };

  const describeStatus = (s: Shown): string => {
    if (zoomed()) return describeWindow(s);
    if (s.kind === "preview") {
      const why = selection.isPreview ? " (click to select)" : live() ? " (loading…)" : " (full map not saved: it needs a running kernel)";
      return `preview: ${s.size}² thumbnail${why}`;
    }
    const loading = s.weighting !== wantedWeighting() && live() ? ` (loading ${wantedWeighting() === "attention" ? "attention" : "value-weighted"}…)` : "";
    const what = s.weighting === "value_weighted" ? "α·‖W_O v‖ · " : "";
    return `${what}${s.kind === "pooled" ? `${seq} tokens max-pooled to ${s.size}² (zoom in for detail)` : `${seq} × ${seq}`}${loading}`;
  };

  const paintBase = () => {
    const s = shown();
    const scale = model.get("color_scale");
    scaleSelect.value = scale;
    weightingSelect.value = wantedWeighting();
    zoom.update();
    if (!s) return;
    title.textContent = `Layer ${s.layer} · head ${s.head}`;
    setLiveText(status, describeStatus(s));
    status.classList.toggle("is-preview", s.kind === "preview");
    // A box measured 0 wide (detached, or mid theme switch) keeps the last size it had.
    boxSize = Math.floor(f.box.getBoundingClientRect().width) || boxSize;
    const t = theme();
    const valueWeighted = s.weighting === "value_weighted";
    legend.paint(t, {
      lut: t.sequential, ticks: legendTicks(scale, maxOf(s.weights)), note: (valueWeighted ? VALUE_WEIGHTED_NOTES : SCALE_NOTES)[scale],
    });
    f.box.dataset.weighting = s.weighting;
    if (boxSize <= 0) return;
    // Never more pixels than the screen shows, nor than tokens in view; the canvas is enlarged with crisp pixels.
    const target = Math.min(zoomed() ? zoom.window.span : s.size, devicePixels(boxSize));
    const detail = detailPatch(model, s);
    putPixels(f.base, colorize(levels.levels(s, detail, zoom.window, scale, target), t.sequential, t.masked), target, target);
    // What the box shows now ("full 3 5", "pooled 3 5", "preview 3 5"): a stable hook for tests and
    // benchmarks to know that a head's full-resolution map has been painted.
    f.box.dataset.shown = `${s.kind} ${s.layer} ${s.head}`;
    f.box.dataset.detail = zoomed() && covers(detail, zoom.window) ? "window" : "overview";
    paintAxes();
  };

  const paintAxes = () =>
    paintTokenAxes(f, boxSize, zoom.window, (i) => texts[i], selection.hovered, selection.token, theme());

  const paintOverlay = () => {
    const c = clearOverlay(f, boxSize);
    if (!c) return;
    const t = theme();
    const win = zoom.window;
    paintTokenBands(c, boxSize, win, selection.hovered, selection.token, t);
    const s = shown();
    const cell = hover && s ? cellAtTokens(s, zoomed() ? detailPatch(model, s) : null, seq, hover.query, hover.key) : null;
    if (cell) {
      // The cell of the data shown (a pooled bin covers several tokens), clipped to the window.
      const x0 = Math.max(0, tokenOffset(cell.k0, win.k0, win.span, boxSize));
      const x1 = Math.min(boxSize, tokenOffset(cell.k1, win.k0, win.span, boxSize));
      const y0 = Math.max(0, tokenOffset(cell.q0, win.q0, win.span, boxSize));
      const y1 = Math.min(boxSize, tokenOffset(cell.q1, win.q0, win.span, boxSize));
      c.strokeStyle = cssColor(t.accent);
      c.lineWidth = 2;
      c.strokeRect(x0 - 1, y0 - 1, Math.max(2, x1 - x0) + 2, Math.max(2, y1 - y0) + 2);
    }
  };

  const hitAt = (event: MouseEvent) => {
    const p = pointIn(f.box, event);
    return windowCellAt(p.x, p.y, p.width, zoom.window);
  };

  const showTooltip = (event: MouseEvent) => {
    const s = shown();
    const hit = s && hitAt(event);
    if (!s || !hit) return;
    hover = hit;
    const cell = cellAtTokens(s, zoomed() ? detailPatch(model, s) : null, seq, hit.query, hit.key);
    tooltip.showAt(describeCell(texts, info.is_causal, cell, hit.query, hit.key, canRequest(), s.weighting), event);
    paintOverlay();
  };

  const onLeave = () => {
    if (zoom.dragging) return;
    hover = null;
    tooltip.hide();
    if (selection.hovered >= 0) selection.hover(-1);
    else paintOverlay();
  };
  lifetime.listen(f.box, "mousemove", (event) => {
    if (zoom.dragging) return;
    const hit = shown() && hitAt(event);
    if (!hit) return onLeave();
    if (hit.query !== selection.hovered) selection.hover(hit.query);
    showTooltip(event);
  });
  lifetime.listen(f.box, "mouseleave", onLeave);
  lifetime.listen(f.box, "click", (event) => {
    if (zoom.consumeClick()) return;
    const hit = shown() && hitAt(event);
    if (hit) selection.pin(hit.query === selection.token ? -1 : hit.query, "heatmap");
  });
  lifetime.listen(scaleSelect, "change", () => selection.setTrait("color_scale", scaleSelect.value as ColorScale));
  lifetime.listen(weightingSelect, "change", () => selection.setTrait("weighting", weightingSelect.value as Weighting));

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["layer", "head", "_attention_map", "color_scale", "weighting"], repaint);
  selection.on(["_map_window"], () => {
    if (zoomed()) repaint();
  });
  selection.onPreview(repaint);
  selection.on(["hovered_token", "token"], () => {
    paintOverlay();
    paintAxes();
  });
  onResize(f.box, lifetime, () => {
    if (Math.floor(f.box.getBoundingClientRect().width) !== boxSize) repaint();
  });

  return { name: "heatmap", root, repaint };
}
