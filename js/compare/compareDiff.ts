// The difference of two prompts' maps of the selected head (prompt b minus prompt a), drawn when they have
// the same number of tokens: red where b attends more, blue where a does, the page background for no
// change, one symmetric scale over the map. data-testid="compare-diff" is exactly the map; its token axes
// and hover bands are the heatmap's (views/mapFrame.ts).
import { divergingLevels, divergingTicks, formatWeight, maxAbs } from "../color";
import * as data from "../data";
import { binRange } from "../decode";
import { Tooltip, devicePixels, el, onResize, pointIn } from "../dom";
import { cellAt, fullWindow, tokenLabel } from "../layout";
import type { Lifetime } from "../lifetime";
import { colorize, putPixels, resampleMax, resampleMaxAbs } from "../raster";
import type { Selection } from "../selection";
import { fileStem } from "../snapshot";
import type { Theme } from "../theme";
import { createLegend } from "../views/legend";
import { clearOverlay, createMapFrame, paintTokenAxes, paintTokenBands } from "../views/mapFrame";
import { createSaveButtons } from "../views/save";
import type { View } from "../views/view";
import { comparablePairs, differenceMap } from "./logic";
import type { CompareModel } from "./model";
import type { PanelModel } from "./panelModel";

export interface CompareDiffContext {
  model: CompareModel;
  panels: PanelModel[];
  selections: Selection[];
  theme(): Theme;
  lifetime: Lifetime;
}

interface Shown {
  diff: Float32Array;
  a: Float32Array;
  b: Float32Array;
  size: number;
  pooled: boolean;
  range: number;
}

export function createCompareDiff({ model, panels, selections, theme, lifetime }: CompareDiffContext): View {
  const info = model.get("_info");
  const pairs = comparablePairs(info.seq_lens);
  const pairOf = (): [number, number] => model.get("diff_pair");
  const comparable = () => {
    const [a, b] = pairOf();
    return info.seq_lens[a] === info.seq_lens[b];
  };
  /** The selection of the pair's first prompt (every panel's selection holds the same shared traits). */
  const selection = () => selections[pairOf()[0]];
  const seq = () => info.seq_lens[pairOf()[0]];

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
    const select = pairSelect;
    lifetime.listen(select, "change", () => {
      const [a, b] = select.value.split(",").map(Number);
      model.set("diff_pair", [a, b]);
      model.save_changes();
    });
  }
  const note = el("div", "aw-hint");
  const f = createMapFrame("compare-diff");
  const legend = createLegend({ width: 240, fit: true, testid: "compare-diff-legend" });
  root.append(header, note, f.frame, legend.root);
  const tooltip = new Tooltip(f.frame);
  const stem = () => {
    const [a, b] = pairOf();
    const { layer, head } = selection().shownHead;
    return fileStem(["attention-difference", `L${layer}`, `H${head}`, `${info.labels[b]}-minus-${info.labels[a]}`]);
  };
  header.append(createSaveButtons(lifetime, { name: "compare-diff", root, repaint: () => repaint(), theme, fileStem: stem }));

  let boxSize = 0;
  let cached: { a: Float32Array; b: Float32Array; shown: Shown } | null = null;

  const shown = (): Shown | null => {
    if (!comparable()) return null;
    const [a, b] = pairOf();
    const want = selections[a].shownHead;
    const mapA = data.attentionMap(panels[a]);
    const mapB = data.attentionMap(panels[b]);
    const ok = (m: ReturnType<typeof data.attentionMap>) => m && m.info.layer === want.layer && m.info.head === want.head;
    if (!mapA || !mapB || !ok(mapA) || !ok(mapB) || mapA.info.size !== mapB.info.size) return null;
    if (!cached || cached.a !== mapA.weights || cached.b !== mapB.weights) {
      const diff = differenceMap(mapA.weights, mapB.weights);
      const s = { diff, a: mapA.weights, b: mapB.weights, size: mapA.info.size, pooled: mapA.info.pooled, range: maxAbs(diff) };
      cached = { a: mapA.weights, b: mapB.weights, shown: s };
    }
    return cached.shown;
  };

  const tokenText = (i: number): string => {
    const [a, b] = pairOf();
    const ta = panels[a].get("_tokens")[i] ?? "";
    const tb = panels[b].get("_tokens")[i] ?? "";
    return ta === tb ? ta : `${ta}/${tb}`;
  };

  const paintBase = () => {
    const [a, b] = pairOf();
    if (pairSelect) pairSelect.value = `${a},${b}`;
    const head = selections[a].shownHead;
    title.textContent = `Layer ${head.layer} · head ${head.head}`;
    const ok = comparable();
    f.frame.hidden = legend.root.hidden = !ok;
    note.textContent = ok
      ? `red: ${info.labels[b]} attends more · blue: ${info.labels[a]}`
      : `${info.labels[a]} and ${info.labels[b]} have different lengths (${info.seq_lens[a]} vs ${info.seq_lens[b]} tokens): no difference map`;
    const s = shown();
    status.textContent = s ? (s.pooled ? `max-pooled to ${s.size}²` : `${seq()} × ${seq()}`) : ok ? "loading…" : "";
    boxSize = Math.floor(f.box.getBoundingClientRect().width) || boxSize;
    if (!s || boxSize <= 0) return;
    const t = theme();
    legend.paint(t, {
      lut: t.diverging,
      ticks: divergingTicks(s.range, info.labels[a], info.labels[b]),
      note: `${info.labels[b]} − ${info.labels[a]}, attention weight; one scale over the map`,
    });
    const target = Math.min(s.size, devicePixels(boxSize));
    const options = { range: s.range, causal: info.is_causal };
    const levels =
      target < s.size
        ? divergingLevels(resampleMaxAbs(s.diff, s.size, s.size, target, target), target, target, options)
        : resampleMax(divergingLevels(s.diff, s.size, s.size, options), s.size, s.size, target, target);
    putPixels(f.base, colorize(levels, t.diverging, t.masked), target, target);
    f.box.dataset.shown = `${head.layer} ${head.head}`;
    paintAxes();
  };

  const paintAxes = () => {
    if (!comparable()) return;
    const sel = selection();
    paintTokenAxes(f, boxSize, fullWindow(seq()), tokenText, sel.hovered, sel.token, theme());
  };

  const paintOverlay = () => {
    const c = comparable() ? clearOverlay(f, boxSize) : null;
    if (!c) return;
    const sel = selection();
    paintTokenBands(c, boxSize, fullWindow(seq()), sel.hovered, sel.token, theme());
  };

  const hit = (event: MouseEvent) => {
    const s = shown();
    const p = pointIn(f.box, event);
    const cell = s && cellAt(p.x, p.y, p.width, p.height, s.size, s.size);
    if (!s || !cell) return null;
    const [q] = binRange(cell.row, seq(), s.size);
    const [k] = binRange(cell.col, seq(), s.size);
    return { s, cell, q, k };
  };
  const onLeave = () => {
    tooltip.hide();
    if (selection().hovered >= 0) selection().hover(-1);
  };
  lifetime.listen(f.box, "mousemove", (event) => {
    const found = hit(event);
    if (!found) return onLeave();
    const { s, cell, q, k } = found;
    const [a, b] = pairOf();
    selection().hover(q);
    const i = cell.row * s.size + cell.col;
    const lines = [`query ${tokenLabel(q, tokenText(q))}`, `key ${tokenLabel(k, tokenText(k))}`];
    if (info.is_causal && cell.col > cell.row) lines.push("masked (a causal query cannot see later keys)");
    else {
      lines.push(
        `${info.labels[a]}: ${formatWeight(s.a[i])} · ${info.labels[b]}: ${formatWeight(s.b[i])}`,
        `difference: ${s.diff[i] >= 0 ? "+" : ""}${formatWeight(s.diff[i])}${s.pooled ? " (of max-pooled maps)" : ""}`,
      );
    }
    tooltip.showAt(lines, event);
  });
  lifetime.listen(f.box, "mouseleave", onLeave);
  lifetime.listen(f.box, "click", (event) => {
    const found = hit(event);
    if (found) selection().pin(found.q === selection().token ? -1 : found.q, "compare-diff");
  });

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  lifetime.onChange(model, ["_maps", "layer", "head", "diff_pair"], repaint);
  lifetime.onChange(model, ["hovered_token", "token"], () => {
    paintOverlay();
    paintAxes();
  });
  for (const s of selections) s.onPreview(repaint);
  onResize(f.box, lifetime, () => {
    if (Math.floor(f.box.getBoundingClientRect().width) !== boxSize) repaint();
  });

  return { name: "compare-diff", root, repaint };
}
