// The difference of two prompts' maps of the selected head (prompt b minus prompt a), drawn when they have
// the same number of tokens: red where b attends more, blue where a does, the page background for no
// change, one symmetric scale over the map. data-testid="compare-diff" is exactly the map.
import { cssColor, formatWeight, unpackRGBA } from "../color";
import * as data from "../data";
import { binRange } from "../decode";
import { Tooltip, canvas, devicePixels, el, fitCanvas, onResize } from "../dom";
import { cellAt, clipLabel, labelStep } from "../layout";
import { colorize, putPixels, resampleMax, resampleMaxAbs } from "../raster";
import type { Selection } from "../selection";
import type { Theme } from "../theme";
import { comparablePairs, differenceMap, divergingLevels, maxAbs } from "../compare/logic";
import type { CompareModel } from "../compare/model";
import type { PanelModel } from "../compare/panelModel";
import type { View } from "./view";

const Y_AXIS = 92;
const X_AXIS = 66;
const LABEL_GAP = 12;
const LEGEND_WIDTH = 220;
const LEGEND_HEIGHT = 30;

export interface CompareDiffContext {
  model: CompareModel;
  panels: PanelModel[];
  selections: Selection[];
  theme(): Theme;
}

interface Shown {
  diff: Float32Array;
  a: Float32Array;
  b: Float32Array;
  size: number;
  pooled: boolean;
  range: number;
}

export function createCompareDiff({ model, panels, selections, theme }: CompareDiffContext): View {
  const info = model.get("_info");
  const pairs = comparablePairs(info.seq_lens);
  const pairOf = (): [number, number] => model.get("diff_pair");
  const comparable = () => {
    const [a, b] = pairOf();
    return info.seq_lens[a] === info.seq_lens[b];
  };

  const root = el("section", "aw-panel aw-compare-diff-panel");
  const header = el("div", "aw-panel-header");
  const title = el("h3", "aw-title");
  const status = el("span", "aw-hint");
  header.append(title, status);
  let pairSelect: HTMLSelectElement | null = null;
  if (pairs.length > 1) {
    pairSelect = el("select", "aw-select", undefined, { "aria-label": "prompts to compare", title: "prompts to compare" });
    for (const [a, b] of pairs) {
      pairSelect.append(el("option", undefined, `${info.labels[b]} − ${info.labels[a]}`, { value: `${a},${b}` }));
    }
    const label = el("label", "aw-control", "pair ");
    label.append(pairSelect);
    header.append(label);
  }
  const note = el("div", "aw-hint");
  const frame = el("div", "aw-heatmap-frame");
  frame.style.gridTemplateColumns = `${Y_AXIS}px minmax(0, 1fr)`;
  const yAxis = canvas("aw-axis aw-y-axis");
  const box = el("div", "aw-box aw-heatmap-box", undefined, { "data-testid": "compare-diff" });
  const base = canvas("aw-layer", "base");
  const overlay = canvas("aw-layer", "overlay");
  box.append(base, overlay);
  const xAxis = canvas("aw-axis aw-x-axis");
  frame.append(yAxis, box, el("span", "aw-axis-note", "query ↓  key →"), xAxis);
  const legend = canvas("aw-legend-bar");
  legend.style.width = `${LEGEND_WIDTH}px`;
  legend.style.height = `${LEGEND_HEIGHT}px`;
  const legendRow = el("div", "aw-legend");
  legendRow.append(legend);
  root.append(header, note, frame, legendRow);
  const tooltip = new Tooltip(frame);

  let boxSize = 0;
  let cached: { a: Float32Array; b: Float32Array; shown: Shown } | null = null;

  const shown = (): Shown | null => {
    if (!comparable()) return null;
    const [a, b] = pairOf();
    const want = selections[a].shownHead;
    const mapA = data.attentionMap(panels[a]);
    const mapB = data.attentionMap(panels[b]);
    const ok = (m: ReturnType<typeof data.attentionMap>) =>
      m && m.info.layer === want.layer && m.info.head === want.head;
    if (!mapA || !mapB || !ok(mapA) || !ok(mapB) || mapA.info.size !== mapB.info.size) return null;
    if (!cached || cached.a !== mapA.weights || cached.b !== mapB.weights) {
      const diff = differenceMap(mapA.weights, mapB.weights);
      cached = {
        a: mapA.weights, b: mapB.weights,
        shown: { diff, a: mapA.weights, b: mapB.weights, size: mapA.info.size, pooled: mapA.info.pooled, range: maxAbs(diff) },
      };
    }
    return cached.shown;
  };

  const tokenText = (i: number): string => {
    const [a, b] = pairOf();
    const ta = panels[a].get("_tokens")[i] ?? "";
    const tb = panels[b].get("_tokens")[i] ?? "";
    return ta === tb ? ta : `${ta}/${tb}`;
  };

  const paintLegend = (t: Theme, range: number) => {
    const ctx = fitCanvas(legend, LEGEND_WIDTH, LEGEND_HEIGHT);
    if (!ctx) return;
    ctx.clearRect(0, 0, LEGEND_WIDTH, LEGEND_HEIGHT);
    const pad = 20;
    const span = LEGEND_WIDTH - 2 * pad;
    for (let i = 0; i < 256; i++) {
      const [r, g, bl] = unpackRGBA(t.diverging[i]);
      ctx.fillStyle = `rgb(${r},${g},${bl})`;
      ctx.fillRect(pad + (i / 256) * span, 0, span / 256 + 0.5, 10);
    }
    ctx.strokeStyle = cssColor(t.border);
    ctx.strokeRect(pad - 0.5, -0.5, span + 1, 11);
    ctx.font = `10px ${t.font}`;
    ctx.textBaseline = "top";
    ctx.fillStyle = cssColor(t.fg);
    const [a, b] = pairOf();
    const ticks: [number, string, CanvasTextAlign][] = [
      [pad, `−${formatWeight(range)} ${info.labels[a]}`, "left"],
      [pad + span / 2, "0", "center"],
      [pad + span, `+${formatWeight(range)} ${info.labels[b]}`, "right"],
    ];
    for (const [x, label, align] of ticks) {
      ctx.textAlign = align;
      ctx.fillText(label, x, 14);
    }
  };

  const paintBase = () => {
    const [a, b] = pairOf();
    if (pairSelect) pairSelect.value = `${a},${b}`;
    const head = selections[a].shownHead;
    title.textContent = `Layer ${head.layer} · head ${head.head}`;
    const ok = comparable();
    frame.hidden = legendRow.hidden = !ok;
    note.textContent = ok
      ? `red: ${info.labels[b]} attends more · blue: ${info.labels[a]}`
      : `${info.labels[a]} and ${info.labels[b]} have different lengths (${info.seq_lens[a]} vs ${info.seq_lens[b]} tokens): no difference map`;
    const s = shown();
    status.textContent = s ? (s.pooled ? `max-pooled to ${s.size}²` : `${info.seq_lens[a]} × ${info.seq_lens[a]}`) : ok ? "loading…" : "";
    boxSize = Math.floor(box.getBoundingClientRect().width) || boxSize;
    if (!s || boxSize <= 0) return;
    const t = theme();
    paintLegend(t, s.range);
    const target = Math.min(s.size, devicePixels(boxSize));
    const levels =
      target < s.size
        ? divergingLevels(resampleMaxAbs(s.diff, s.size, s.size, target, target), target, s.range, info.is_causal)
        : resampleMax(divergingLevels(s.diff, s.size, s.range, info.is_causal), s.size, s.size, target, target);
    putPixels(base, colorize(levels, t.diverging, t.masked), target, target);
    box.dataset.shown = `${head.layer} ${head.head}`;
    paintAxes();
  };

  const seq = () => info.seq_lens[pairOf()[0]];

  const paintAxes = () => {
    if (boxSize <= 0 || !comparable()) return;
    const t = theme();
    const n = seq();
    const perToken = boxSize / n;
    const step = labelStep(perToken, LABEL_GAP);
    const sel = selections[pairOf()[0]];
    const label = (i: number) => clipLabel(step > 1 ? `${i} ${tokenText(i)}` : tokenText(i), 12);
    yAxis.style.height = `${boxSize}px`;
    xAxis.style.width = `${boxSize}px`;
    const y = fitCanvas(yAxis, Y_AXIS, boxSize);
    const x = fitCanvas(xAxis, boxSize, X_AXIS);
    if (!y || !x) return;
    for (const c of [y, x]) {
      c.clearRect(0, 0, Math.max(Y_AXIS, boxSize), Math.max(X_AXIS, boxSize));
      c.textBaseline = "middle";
      c.textAlign = "right";
    }
    const emphasis = [sel.hovered, sel.token];
    const draw = (i: number, strong: boolean) => {
      const at = Math.min(boxSize - 6, Math.max(6, (i + 0.5) * perToken));
      y.fillStyle = x.fillStyle = strong ? cssColor(i === sel.token ? t.pin : t.fg) : cssColor(t.muted);
      y.font = x.font = `${strong ? "bold " : ""}11px ${t.font}`;
      y.fillText(label(i), Y_AXIS - 4, at);
      x.save();
      x.translate(at, 4);
      x.rotate(-Math.PI / 2);
      x.fillText(label(i), 0, 0);
      x.restore();
    };
    const near = (i: number) => emphasis.some((e) => e >= 0 && Math.abs(e - i) * perToken < LABEL_GAP);
    for (let i = 0; i < n; i += step) if (!near(i)) draw(i, false);
    for (const i of emphasis) if (i >= 0) draw(i, true);
  };

  const paintOverlay = () => {
    if (boxSize <= 0 || !comparable()) return;
    const c = fitCanvas(overlay, boxSize, boxSize);
    if (!c) return;
    const t = theme();
    c.clearRect(0, 0, boxSize, boxSize);
    const perToken = boxSize / seq();
    const w = Math.max(1, perToken);
    const sel = selections[pairOf()[0]];
    if (sel.hovered >= 0) {
      c.fillStyle = cssColor(t.fg, 0.18);
      c.fillRect(0, sel.hovered * perToken, boxSize, w);
      c.fillRect(sel.hovered * perToken, 0, w, boxSize);
    }
    if (sel.token >= 0) {
      c.strokeStyle = cssColor(t.pin);
      c.lineWidth = 1.5;
      c.strokeRect(0.75, sel.token * perToken, boxSize - 1.5, w);
      c.strokeRect(sel.token * perToken, 0.75, w, boxSize - 1.5);
    }
  };

  const hit = (event: MouseEvent) => {
    const s = shown();
    const rect = box.getBoundingClientRect();
    const cell = s && cellAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height, s.size, s.size);
    return s && cell ? { s, cell } : null;
  };
  const onMove = (event: MouseEvent) => {
    const found = hit(event);
    if (!found) return onLeave();
    const { s, cell } = found;
    const [a, b] = pairOf();
    const n = seq();
    const [q] = binRange(cell.row, n, s.size);
    const [k] = binRange(cell.col, n, s.size);
    selections[a].hover(q);
    const i = cell.row * s.size + cell.col;
    const lines =
      info.is_causal && cell.col > cell.row
        ? [`query #${q} “${tokenText(q)}”`, `key #${k} “${tokenText(k)}”`, "masked (a causal query cannot see later keys)"]
        : [
            `query #${q} “${tokenText(q)}”`,
            `key #${k} “${tokenText(k)}”`,
            `${info.labels[a]}: ${formatWeight(s.a[i])} · ${info.labels[b]}: ${formatWeight(s.b[i])}`,
            `difference: ${s.diff[i] >= 0 ? "+" : ""}${formatWeight(s.diff[i])}${s.pooled ? " (of max-pooled maps)" : ""}`,
          ];
    const frameRect = frame.getBoundingClientRect();
    tooltip.show(lines, event.clientX - frameRect.left, event.clientY - frameRect.top, frameRect.width);
  };
  const onLeave = () => {
    tooltip.hide();
    const sel = selections[pairOf()[0]];
    if (sel.hovered >= 0) sel.hover(-1);
  };
  const onClick = (event: MouseEvent) => {
    const found = hit(event);
    if (!found) return;
    const sel = selections[pairOf()[0]];
    const [q] = binRange(found.cell.row, seq(), found.s.size);
    sel.pin(q === sel.token ? -1 : q, "compare-diff");
  };
  const onPair = () => {
    if (!pairSelect) return;
    const [a, b] = pairSelect.value.split(",").map(Number);
    model.set("diff_pair", [a, b]);
    model.save_changes();
  };
  box.addEventListener("mousemove", onMove);
  box.addEventListener("mouseleave", onLeave);
  box.addEventListener("click", onClick);
  pairSelect?.addEventListener("change", onPair);

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  const onHover = () => {
    paintOverlay();
    paintAxes();
  };
  const events = ["change:_maps", "change:_maps_info", "change:layer", "change:head", "change:diff_pair"] as const;
  for (const e of events) model.on(e, repaint);
  model.on("change:hovered_token", onHover);
  model.on("change:token", onHover);
  for (const s of selections) s.onPreview(repaint);
  const stopResize = onResize(box, () => {
    if (Math.floor(box.getBoundingClientRect().width) !== boxSize) repaint();
  });

  return {
    root,
    repaint,
    dispose() {
      stopResize();
      for (const e of events) model.off(e, repaint);
      model.off("change:hovered_token", onHover);
      model.off("change:token", onHover);
      box.removeEventListener("mousemove", onMove);
      box.removeEventListener("mouseleave", onLeave);
      box.removeEventListener("click", onClick);
      pairSelect?.removeEventListener("change", onPair);
    },
  };
}
