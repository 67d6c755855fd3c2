// The logit lens for one position (the pinned token, else the hovered one): a table whose rows are the
// embeddings (top) and the output of each layer, and whose columns are the top-k next tokens predicted from
// that row of the residual stream (final norm + unembedding), each cell shaded by its probability. Python
// computes the rows when the position changes (`_lens_*` traits); text goes in through textContent only.
import { cssColor, tintLut } from "../color";
import * as data from "../data";
import { el, setLiveText } from "../dom";
import { hasKernel } from "../kernel";
import { LENS_SHADE, formatProb, lensLegendTicks, lensRowLabel, lensRowTitle, lensStatus, probShade } from "../lens";
import { createLegend } from "./legend";
import type { View, ViewContext } from "./view";

export function createLogitLens({ model, selection, theme }: ViewContext): View {
  const root = el("section", "aw-panel aw-lens-panel");
  const header = el("div", "aw-panel-header");
  const readout = el("span", "aw-readout");
  const status = el("span", "aw-hint");
  header.append(el("h3", "aw-title", "Logit lens"), readout, status);
  const box = el("div", "aw-lens", undefined, { "data-testid": "logit-lens" });
  const empty = el("div", "aw-lens-empty");
  const table = el("table", "aw-lens-table");
  const head = el("thead");
  const body = el("tbody");
  table.append(head, body);
  box.append(empty, table);
  const foot = el(
    "div",
    "aw-hint aw-lens-foot",
    "rows: embeddings (top), then each layer's output, through the final norm and unembedding; the last row is the model's prediction",
  );
  const legend = createLegend({ width: 220, testid: "lens-legend" });
  root.append(header, box, legend.root, foot);

  const texts = data.tokens(model);
  let cells: { cell: HTMLTableCellElement; p: number }[] = [];


  const shade = () => {
    const t = theme();
    for (const { cell, p } of cells) {
      const alpha = probShade(p, LENS_SHADE);
      cell.style.backgroundColor = alpha > 0.01 ? cssColor(t.accent, alpha) : "";
    }
    legend.root.hidden = cells.length === 0;
    if (cells.length) legend.paint(t, { lut: tintLut(t.accent, t.bg, LENS_SHADE), ticks: lensLegendTicks(), note: "cell shade: probability" });
  };

  // Rebuild the rows from the data traits (when Python sends a new position).
  const build = () => {
    const lens = data.lens(model);
    head.replaceChildren();
    body.replaceChildren();
    cells = [];
    box.dataset.position = String(lens.info.position);
    box.dataset.rows = "0";
    if (!lens.complete) return;
    const { k, tokens: rows, probs } = lens;
    const headRow = el("tr");
    headRow.append(el("th", "aw-lens-corner", "layer"));
    for (let j = 0; j < k; j++) headRow.append(el("th", "aw-lens-rank", j === 0 ? "top 1" : String(j + 1)));
    head.append(headRow);
    rows.forEach((row, r) => {
      const tr = el("tr", r === rows.length - 1 ? "is-output" : undefined, undefined, { "data-row": String(r) });
      tr.append(el("th", "aw-lens-label", lensRowLabel(r), { title: lensRowTitle(r, rows.length) }));
      row.forEach((text, j) => {
        const p = probs[r * k + j];
        const cell = el("td", "aw-lens-cell", undefined, { title: `“${text}” ${formatProb(p)} (${lensRowTitle(r, rows.length)})` });
        const inner = el("div", "aw-lens-inner");
        inner.append(el("span", "aw-lens-tok", text), el("span", "aw-lens-p", formatProb(p)));
        cell.append(inner);
        tr.append(cell);
        cells.push({ cell, p });
      });
      body.append(tr);
    });
    box.dataset.rows = String(rows.length);
    shade();
  };

  // Header and empty/stale state (on every hover: cheap, no rebuild).
  const update = () => {
    const lens = data.lens(model);
    const shown = lens.info.position;
    const s = lensStatus({
      pinned: selection.token,
      hovered: selection.hovered,
      shown,
      complete: lens.complete,
      isStatic: !hasKernel(model, root),
      unavailable: lens.info.unavailable,
    });
    table.hidden = s.mode !== "table";
    empty.hidden = s.mode === "table";
    empty.textContent = s.mode === "table" ? "" : s.message;
    box.classList.toggle("is-stale", s.stale);
    box.dataset.state = s.mode === "table" ? (s.stale ? "stale" : "fresh") : "empty";
    setLiveText(readout, s.mode === "table" && shown >= 0 ? `#${shown} “${texts[shown] ?? ""}”` : "");
    status.textContent = s.mode === "table" ? s.message : "";
    status.classList.toggle("is-preview", s.stale);
  };

  const refresh = () => {
    build();
    update();
  };
  selection.on(["_lens"], refresh);
  selection.on(["token", "hovered_token"], update);
  refresh();

  // The repaint after the render is in place also re-reads whether a kernel is behind it (kernel.ts).
  const repaint = () => {
    update();
    shade();
  };
  return { name: "logit-lens", root, repaint };
}
