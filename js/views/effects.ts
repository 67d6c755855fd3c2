// Effects (data-testid="effects"): what writes the logit of one next token at one position. The target (the
// model's prediction unless one is typed: `target`) and an optional contrast (`contrast`: the difference of
// the two logits); the parts of that logit (embeddings, biases, each layer's heads summed, each layer's MLP)
// as a waterfall: each bar starts where the running total stands and ends where the part takes it, so the
// bars visibly walk from 0 to the logit (the last row); then the heads that write most for and against the
// target. Python computes the parts (`_effects`, cached per position and target); numbers: effects.ts.
import { type RGB, cssColor, packedCss, unpackRGBA } from "../color";
import * as data from "../data";
import { Tooltip, el, fitCanvas, layeredBox, onResize, pointIn, setLiveText } from "../dom";
import {
  type Axis, type Effects, type Step, axisX, barSpan, effectParts, formatSigned, logitName, partLabel, partTitle, rowAt,
  rowLayout, strongestHead, symmetricRange, waterfall, waterfallAxis, writingHeads,
} from "../effects";
import { hasKernel } from "../kernel";
import { labelStep, tokenLabel } from "../layout";
import type { EffectsInfo } from "../model";
import { fileStem } from "../snapshot";
import { createSelectingHeadList } from "./headList";
import { createLegend } from "./legend";
import { createSaveButtons } from "./save";
import type { View, ViewContext } from "./view";

/** Left gutter (row labels) and the axis below the rows, px. */
const GUTTER = 40;
const AXIS = 16;
/** The rows share about this many px (30 layers: 60 rows of 5 px, and three labelled rows). */
const ROWS_ROOM = 366;
/** Heads listed for and against. */
export const EFFECT_HEADS = 5;

/** One row of the chart: a step of the waterfall, or the final sum. */
type Row = Step | { kind: "sum"; layer: -1; value: number; start: number; end: number };

const unpackRgb = (packed: number): RGB => unpackRGBA(packed).slice(0, 3) as RGB;

export function createEffects({ model, selection, theme, lifetime }: ViewContext): View {
  const texts = data.tokens(model);
  const seq = data.info(model).seq_len;

  const root = el("section", "aw-panel aw-effects-panel", undefined, { "data-testid": "effects" });
  const header = el("div", "aw-panel-header");
  const readout = el("span", "aw-readout");
  header.append(el("h3", "aw-title", "Effects"), readout);

  const form = el("div", "aw-effects-form");
  const targetInput = el("input", "aw-text", undefined, {
    type: "text", spellcheck: "false", autocomplete: "off", "aria-label": "target token", "data-testid": "effects-target",
    title: "a text that is one token (leading space included, as in “ Paris”); empty: the model's prediction. Enter to apply",
  });
  const contrastInput = el("input", "aw-text", undefined, {
    type: "text", spellcheck: "false", autocomplete: "off", placeholder: "none", "aria-label": "contrast token",
    "data-testid": "effects-contrast", title: "explain target − contrast (the logit difference); empty: none. Enter to apply",
  });
  const targetLabel = el("label", "aw-field", "target ");
  targetLabel.append(targetInput);
  const contrastLabel = el("label", "aw-field", "vs ");
  contrastLabel.append(contrastInput);
  form.append(targetLabel, contrastLabel);
  const message = el("div", "aw-effects-message", undefined, { role: "status", "data-testid": "effects-message" });
  const summary = el("div", "aw-effects-summary", undefined, { "data-testid": "effects-summary" });

  const { box, base, overlay } = layeredBox("aw-effects-box", "effects-chart");
  const key = el("div", "aw-effects-key aw-hint");
  const lists = el("div", "aw-effects-lists");
  const listFor = createSelectingHeadList(lifetime, selection, "effects", "aw-effects-list", {
    "data-testid": "effects-heads-for",
  });
  const listAgainst = createSelectingHeadList(lifetime, selection, "effects", "aw-effects-list", {
    "data-testid": "effects-heads-against",
  });
  const titleFor = el("div", "aw-effects-list-title");
  const titleAgainst = el("div", "aw-effects-list-title");
  const columnFor = el("div", "aw-effects-column");
  columnFor.append(titleFor, listFor.root);
  const columnAgainst = el("div", "aw-effects-column");
  columnAgainst.append(titleAgainst, listAgainst.root);
  lists.append(columnFor, columnAgainst);
  const legend = createLegend({ width: 220, testid: "effects-legend" });
  const body = el("div", "aw-effects-body");
  body.append(summary, box, key, lists, legend.root);
  root.append(header, form, message, body);
  const tooltip = new Tooltip(root);
  const stem = () => {
    const i = data.effects(model).info;
    return fileStem(["effects", ...(i ? [`pos${i.position}`, i.target, ...(i.contrast ? ["vs", i.contrast] : [])] : [])]);
  };
  header.append(createSaveButtons(lifetime, { name: "effects", root, repaint: () => repaint(), theme, fileStem: stem }));

  let width = 0;
  let tops: number[] = [0];
  let layerRow = 0;
  let rows: Row[] = [];
  let axis: Axis | null = null;
  let hovered = -1;

  /** The position the parts should be for now: the pinned token, else the last. */
  const wantedPosition = () => (selection.token >= 0 ? selection.token : seq - 1);

  const syncInputs = () => {
    const i = data.effects(model).info;
    // Never overwrite what a person is typing.
    if (document.activeElement !== targetInput) targetInput.value = model.get("target") ?? "";
    if (document.activeElement !== contrastInput) contrastInput.value = model.get("contrast") ?? "";
    targetInput.placeholder = i?.target && !i.unavailable ? `prediction (${i.target})` : "prediction";
    const live = hasKernel(model, root);
    targetInput.disabled = contrastInput.disabled = !live;
    if (!live) targetInput.title = contrastInput.title = "changing the target needs a running kernel";
  };

  /** The state line above the chart: errors and why nothing is shown, as text. */
  const describe = (i: EffectsInfo | null, e: Effects | null): string => {
    if (!i) return hasKernel(model, root) ? "no attribution from Python yet" : "no attribution in this saved page (it needs a running kernel)";
    if (i.unavailable) return i.unavailable;
    if (!e) return hasKernel(model, root) ? "computing…" : "no attribution in this saved page";
    return "";
  };

  const paintBase = () => {
    const { info: i, parts: e } = data.effects(model);
    syncInputs();
    const error = i?.error ?? "";
    const why = describe(i, e);
    message.textContent = [error, why].filter(Boolean).join(" · ");
    message.classList.toggle("is-error", !!error);
    message.hidden = !message.textContent;
    body.hidden = !e || !i || !!i.unavailable;
    const stale = !!i && i.position !== wantedPosition();
    body.classList.toggle("is-stale", stale && hasKernel(model, root));
    root.dataset.position = String(i?.position ?? -1);
    root.dataset.target = i?.target ?? "";
    if (!e || !i || i.unavailable) {
      setLiveText(readout, "");
      rows = [];
      return;
    }
    const position = i.position;
    setLiveText(readout, `${tokenLabel(position, texts[position] ?? "")} → “${i.target}”`);
    summary.textContent = `${logitName(i)} = ${e.logit.toFixed(3)} · the parts sum to ${e.total.toFixed(3)}`;

    const { steps, sum } = waterfall(effectParts(e));
    rows = [...steps, { kind: "sum", layer: -1, value: sum, start: 0, end: sum }];
    axis = waterfallAxis(steps, e.logit);
    ({ tops, layerRow } = rowLayout(rows.map((row) => row.kind), ROWS_ROOM));
    const height = tops[rows.length] + AXIS;
    box.style.height = `${height}px`;
    width = Math.floor(box.getBoundingClientRect().width) || width;
    root.dataset.rows = String(rows.length);
    // Where each row starts (px), and what it is: hooks for tests that click a row.
    box.dataset.tops = tops.join(" ");
    box.dataset.kinds = rows.map((row) => (row.layer >= 0 ? `${row.kind}${row.layer}` : row.kind)).join(" ");
    if (width > 0) drawChart(e, height);

    // The lists and their swatches (the head grid's colours when it is coloured by attribution).
    const t = theme();
    const range = symmetricRange(e.perHead);
    const { promote, suppress } = writingHeads(e.perHead, e.heads, EFFECT_HEADS);
    const entry = (head: { layer: number; head: number; value: number }) => {
      const mark = el("span", "aw-roles-swatch");
      mark.style.background = packedCss(t.diverging[Math.round((0.5 + head.value / (2 * range)) * 255)]);
      return { layer: head.layer, head: head.head, mark, parts: [el("span", "aw-heads-value", formatSigned(head.value))] };
    };
    titleFor.textContent = "heads writing for it";
    titleAgainst.textContent = "heads writing against it";
    listFor.fill(promote.map(entry), "none");
    listAgainst.fill(suppress.map(entry), "none");
    markSelected();
    key.replaceChildren();
    const swatch = (className: string, text: string) => {
      const item = el("span", "aw-effects-key-item");
      const sw = el("span", `aw-effects-swatch ${className}`);
      item.append(sw, document.createTextNode(text));
      key.append(item);
      return sw;
    };
    swatch("is-up", "raises").style.background = packedCss(t.diverging[240]);
    swatch("is-down", "lowers").style.background = packedCss(t.diverging[15]);
    if (e.mlp) {
      const mlp = swatch("is-mlp", "MLP (outlined, below its layer's heads)");
      mlp.style.borderColor = packedCss(t.diverging[240]);
      mlp.style.background = cssColor(unpackRgb(t.diverging[240]), 0.4);
    }
    swatch("is-sum", "sum").style.background = cssColor(t.fg, 0.6);
    legend.paint(t, {
      lut: t.diverging,
      ticks: [
        { at: 0, label: formatSigned(-range) },
        { at: 0.5, label: "0" },
        { at: 1, label: formatSigned(range) },
      ],
      note: "one head's attribution (list swatches; the head grid when coloured by attribution)",
    });
  };

  const drawChart = (e: Effects, height: number) => {
    const ctx = fitCanvas(base, width, height);
    if (!ctx || !axis) return;
    const t = theme();
    ctx.clearRect(0, 0, width, height);
    const x0 = GUTTER;
    const plot = Math.max(10, width - GUTTER - 8);
    const bottom = tops[rows.length];
    ctx.font = `10px ${t.font}`;
    // Grid lines and the axis values, zero stronger.
    ctx.textBaseline = "top";
    ctx.textAlign = "center";
    for (const tick of axis.ticks) {
      const x = Math.round(axisX(tick, axis, x0, plot)) + 0.5;
      ctx.fillStyle = cssColor(tick === 0 ? t.muted : t.border, tick === 0 ? 0.9 : 0.6);
      ctx.fillRect(x - 0.5, 0, 1, bottom);
      ctx.fillStyle = cssColor(t.muted);
      ctx.fillText(formatSigned(tick, 3).replace(/^\+/, ""), Math.min(x0 + plot - 8, Math.max(x0 + 6, x)), bottom + 3);
    }
    // Heads solid; MLPs the same colour, translucent inside an outline (readable on light and dark pages).
    const up = packedCss(t.diverging[240]);
    const down = packedCss(t.diverging[15]);
    const layerStep = labelStep(layerRow * (e.mlp ? 2 : 1), 11);
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    rows.forEach((row, r) => {
      const y = tops[r];
      const rowH = tops[r + 1] - y;
      // A pixel between bars where rows can spare it; the labelled rows' bars keep the layers' thickness.
      const gap = rowH >= 6 ? 1 : 0;
      const barH = Math.max(2, Math.min(rowH, Math.max(layerRow, 6)) - gap);
      const barY = y + (rowH - barH) / 2;
      if (row.kind === "sum") {
        const span = barSpan(0, row.end, axis as Axis, x0, plot);
        ctx.fillStyle = cssColor(t.fg, 0.6);
        ctx.fillRect(span.x, barY, span.w, barH);
        // The model's own logit: a mark where the sum should end.
        const xl = axisX(e.logit, axis as Axis, x0, plot);
        ctx.fillStyle = cssColor(t.accent);
        ctx.fillRect(Math.round(xl) - 1, y - 2, 2, rowH + 2);
      } else {
        const span = barSpan(row.start, row.end, axis as Axis, x0, plot);
        const colour = row.value >= 0 ? up : down;
        if (row.kind === "mlp") {
          ctx.globalAlpha = 0.4;
          ctx.fillStyle = colour;
          ctx.fillRect(span.x, barY, span.w, barH);
          ctx.globalAlpha = 1;
          ctx.strokeStyle = colour;
          ctx.lineWidth = 1;
          ctx.strokeRect(span.x + 0.5, barY + 0.5, Math.max(0, span.w - 1), Math.max(0, barH - 1));
        } else {
          ctx.fillStyle = colour;
          ctx.fillRect(span.x, barY, span.w, barH);
        }
        // Where the running total stands: a thin connector down to the next row's bar.
        if (r + 1 < rows.length) {
          ctx.fillStyle = cssColor(t.muted, 0.6);
          ctx.fillRect(Math.round(axisX(row.end, axis as Axis, x0, plot)), barY + barH, 1, tops[r + 1] - barY - barH + 2);
        }
      }
      const label = row.kind === "sum" ? "sum" : partLabel(row, layerStep);
      if (label) {
        ctx.fillStyle = cssColor(row.kind === "heads" ? t.muted : t.fg);
        ctx.fillText(label, GUTTER - 5, y + rowH / 2 + (row.kind === "heads" && e.mlp ? rowH / 2 : 0));
      }
    });
    box.dataset.drawn = `${e.layers} ${rows.length}`;
  };

  const paintOverlay = () => {
    if (width <= 0 || !rows.length) return;
    const height = tops[rows.length] + AXIS;
    const ctx = fitCanvas(overlay, width, height);
    if (!ctx) return;
    const t = theme();
    ctx.clearRect(0, 0, width, height);
    const band = (r: number, color: string, line: number) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = line;
      ctx.strokeRect(GUTTER - 2 + line / 2, tops[r] + line / 2, width - GUTTER + 2 - line, Math.max(1, tops[r + 1] - tops[r] - line));
    };
    // The selected head's layer: its heads row.
    const selected = rows.findIndex((row) => row.kind === "heads" && row.layer === selection.layer);
    if (selected >= 0) band(selected, cssColor(t.accent), 1.5);
    if (hovered >= 0 && hovered < rows.length) band(hovered, cssColor(t.fg, 0.7), 1);
  };

  const describeRow = (row: Row, e: Effects, i: EffectsInfo): string[] => {
    if (row.kind === "sum") {
      return [
        `the parts summed: ${row.end.toFixed(4)}`,
        `${logitName(i)} (the model's own): ${e.logit.toFixed(4)} (blue mark)`,
      ];
    }
    const lines = [partTitle(row, e.heads), `${formatSigned(row.value, 4)} · running total ${row.start.toFixed(3)} → ${row.end.toFixed(3)}`];
    if (row.kind === "heads") {
      const h = strongestHead(e.perHead, e.heads, row.layer);
      lines.push(`strongest: H${h} ${formatSigned(e.perHead[row.layer * e.heads + h], 4)} (click to select it)`);
    }
    return lines;
  };

  const rowOf = (event: MouseEvent) => {
    const p = pointIn(box, event);
    return p.x >= 0 && p.x < p.width ? rowAt(p.y, tops) : -1;
  };
  const onLeave = () => {
    tooltip.hide();
    if (hovered !== -1) {
      hovered = -1;
      paintOverlay();
    }
  };
  lifetime.listen(box, "mousemove", (event) => {
    const { info: i, parts: e } = data.effects(model);
    const r = rowOf(event);
    if (r < 0 || !i || !e) return onLeave();
    if (r !== hovered) {
      hovered = r;
      paintOverlay();
    }
    tooltip.showAt(describeRow(rows[r], e, i), event);
  });
  lifetime.listen(box, "mouseleave", onLeave);
  lifetime.listen(box, "click", (event) => {
    const e = data.effects(model).parts;
    const r = rowOf(event);
    const row = r >= 0 ? rows[r] : null;
    if (!e || !row) return;
    if (row.kind === "heads") selection.selectHead(row.layer, strongestHead(e.perHead, e.heads, row.layer), "effects");
    else if (row.kind === "mlp") selection.selectLayer(row.layer, "effects");
  });

  const apply = (input: HTMLInputElement, name: "target" | "contrast") => {
    const value = input.value;
    if (value !== (model.get(name) ?? "")) selection.setTrait(name, value);
  };
  for (const [input, name] of [[targetInput, "target"], [contrastInput, "contrast"]] as const) {
    lifetime.listen(input, "change", () => apply(input, name));
    lifetime.listen(input, "keydown", (event) => {
      if (event.key === "Enter") apply(input, name);
      else if (event.key === "Escape") {
        input.value = model.get(name) ?? "";
        input.blur();
      }
    });
  }

  const markSelected = () => {
    listFor.markSelected(selection);
    listAgainst.markSelected(selection);
  };

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["_effects", "target", "contrast"], repaint);
  selection.on(["token"], () => {
    const i = data.effects(model).info;
    body.classList.toggle("is-stale", !!i && i.position !== wantedPosition() && hasKernel(model, root));
  });
  selection.on(["layer", "head"], () => {
    markSelected();
    paintOverlay();
  });
  onResize(box, lifetime, () => {
    if (Math.floor(box.getBoundingClientRect().width) !== width) repaint();
  });

  return { name: "effects", root, repaint };
}
