// Ablate (data-testid="ablation"): what happens to the prediction without some heads. The set of ablated
// heads is the `ablated` trait (chips here, removable; "ablate" adds the selected head; shift-click in the
// head grid adds or removes one); Python re-runs the model from the first ablated layer on and sends the
// next-token predictions before → after at the pinned (else last) token, the target's Δ log-probability and
// the KL divergence (`_ablation`). "Head effects" ablates every head alone (`_head_effects`, layer by layer):
// the head grid is coloured by it and the heads that matter most are listed. Numbers: ablation.ts.
import { type HeadPair, formatProbability, hasHead, headEffectsStatus, sameHeads, toggleHead } from "../ablation";
import { packedCss } from "../color";
import * as data from "../data";
import { Tooltip, el, setLiveText } from "../dom";
import { formatSigned, symmetricRange, writingHeads } from "../effects";
import { hasKernel } from "../kernel";
import { tokenLabel } from "../layout";
import { ABLATION_MODES, type AblationMode } from "../model";
import { ABLATION } from "../scores";
import { fileStem } from "../snapshot";
import { createSelectingHeadList } from "./headList";
import { createLegend } from "./legend";
import { createSaveButtons } from "./save";
import type { View, ViewContext } from "./view";

/** Heads listed on each side once the head effects are in. */
export const LISTED_EFFECTS = 5;

const headName = ([layer, head]: HeadPair) => `L${layer} · H${head}`;

export function createAblation({ model, selection, theme, lifetime }: ViewContext): View {
  const texts = data.tokens(model);
  const info = data.info(model);
  const seq = info.seq_len;

  const root = el("section", "aw-panel aw-ablation-panel", undefined, { "data-testid": "ablation" });
  const header = el("div", "aw-panel-header");
  const readout = el("span", "aw-readout");
  header.append(el("h3", "aw-title", "Ablate"), readout);

  // The set: chips, then what can change it.
  const controls = el("div", "aw-ablation-controls");
  const addButton = el("button", "aw-button", "ablate", { type: "button", "data-testid": "ablation-add" });
  const clearButton = el("button", "aw-button", "clear", {
    type: "button", "data-testid": "ablation-clear", title: "ablate no head",
  });
  const modeSelect = el("select", "aw-select", undefined, {
    "aria-label": "ablation mode", "data-testid": "ablation-mode",
    title: "zero: the head's output set to 0 · mean: set to its mean over this prompt's positions",
  });
  for (const mode of ABLATION_MODES) modeSelect.append(el("option", undefined, mode === "zero" ? "zero" : "mean", { value: mode }));
  const modeLabel = el("label", "aw-control", "mode ");
  modeLabel.append(modeSelect);
  controls.append(addButton, clearButton, modeLabel);
  const chips = el("div", "aw-ablation-chips", undefined, { "data-testid": "ablation-chips" });

  const message = el("div", "aw-effects-message", undefined, { role: "status", "data-testid": "ablation-message" });
  const body = el("div", "aw-ablation-body");
  const summary = el("div", "aw-effects-summary", undefined, { "data-testid": "ablation-summary" });
  const table = el("table", "aw-ablation-table", undefined, { "data-testid": "ablation-predictions" });
  const key = el("div", "aw-effects-key aw-hint");
  body.append(summary, table, key);

  // Every head alone.
  const effectsBox = el("div", "aw-ablation-effects");
  const effectsButton = el("button", "aw-button", "head effects", {
    type: "button", "data-testid": "ablation-head-effects",
    title: "ablate each head alone and colour the head grid by the change in the target's log-probability",
  });
  const progress = el("progress", "aw-ablation-progress", undefined, { max: String(info.num_layers), value: "0" });
  const status = el("span", "aw-hint aw-live", undefined, { "data-testid": "ablation-effects-status" });
  const effectsRow = el("div", "aw-ablation-effects-row");
  effectsRow.append(effectsButton, progress, status);
  const lists = el("div", "aw-effects-lists");
  const listHurt = createSelectingHeadList(lifetime, selection, "ablation", "aw-effects-list", {
    "data-testid": "ablation-heads-needed",
  });
  const listHelp = createSelectingHeadList(lifetime, selection, "ablation", "aw-effects-list", {
    "data-testid": "ablation-heads-against",
  });
  const titleHurt = el("div", "aw-effects-list-title", "without it, the target drops most");
  const titleHelp = el("div", "aw-effects-list-title", "without it, the target rises most");
  const columnHurt = el("div", "aw-effects-column");
  columnHurt.append(titleHurt, listHurt.root);
  const columnHelp = el("div", "aw-effects-column");
  columnHelp.append(titleHelp, listHelp.root);
  lists.append(columnHurt, columnHelp);
  const legend = createLegend({ width: 220, testid: "ablation-legend" });
  effectsBox.append(effectsRow, lists, legend.root);

  root.append(header, controls, chips, message, body, effectsBox);
  const tooltip = new Tooltip(root);
  const stem = () => {
    const i = data.ablation(model).info;
    return fileStem(["ablation", ...(i ? [`pos${i.position}`, i.target, ...(i.heads ?? []).map(([l, h]) => `L${l}H${h}`)] : [])]);
  };
  header.append(createSaveButtons(lifetime, { name: "ablation", root, repaint: () => repaint(), theme, fileStem: stem }));

  const ablated = (): HeadPair[] => model.get("ablated") ?? [];
  const wantedPosition = () => (selection.token >= 0 ? selection.token : seq - 1);
  const live = () => hasKernel(model, root);
  const setAblated = (set: HeadPair[]) => selection.setTrait("ablated", set);

  const paintControls = () => {
    const selected: HeadPair = [selection.layer, selection.head];
    const isIn = hasHead(ablated(), ...selected);
    addButton.textContent = `${isIn ? "restore" : "ablate"} ${headName(selected)}`;
    addButton.title = isIn ? "take the selected head out of the set" : "add the selected head to the set (or shift-click heads in the grid)";
    const canRun = live() && !data.ablation(model).info?.unavailable;
    addButton.disabled = modeSelect.disabled = !canRun;
    clearButton.disabled = !canRun || !ablated().length;
    modeSelect.value = model.get("ablation_mode") ?? "zero";

    chips.replaceChildren();
    if (!ablated().length) {
      chips.append(el("span", "aw-hint", "no head ablated: “ablate” adds the selected head; shift-click heads in the grid"));
      return;
    }
    chips.append(el("span", "aw-hint", "ablated:"));
    for (const pair of ablated()) {
      const chip = el("span", "aw-chip", undefined, { "data-layer": String(pair[0]), "data-head": String(pair[1]) });
      const name = el("button", "aw-chip-name", headName(pair), { type: "button", title: "select this head" });
      const remove = el("button", "aw-chip-remove", "×", {
        type: "button", "aria-label": `restore ${headName(pair)}`, title: "restore this head", "data-testid": "ablation-chip-remove",
      });
      remove.disabled = !canRun;
      chip.append(name, remove);
      chips.append(chip);
    }
  };

  const paintPredictions = () => {
    const { info: i, shown } = data.ablation(model);
    const rows = shown?.rows ?? [];
    const why = !i
      ? live() ? "no ablation from Python yet" : "no ablation in this saved page (it needs a running kernel)"
      : i.unavailable ?? "";
    message.textContent = why;
    message.hidden = !why;
    body.hidden = !i || !!i.unavailable || !rows.length;
    effectsBox.hidden = !i || !!i.unavailable;
    root.dataset.position = String(i?.position ?? -1);
    root.dataset.heads = (i?.heads ?? []).map(([l, h]) => `${l}:${h}`).join(" ");
    root.dataset.mode = i?.mode ?? "";
    if (!i || i.unavailable || !shown) {
      setLiveText(readout, "");
      return;
    }
    // Dimmed while Python computes what the set, the token or the mode now asks for.
    const stale = i.position !== wantedPosition() || !sameHeads(i.heads, ablated()) || i.mode !== model.get("ablation_mode");
    body.classList.toggle("is-stale", stale && live());
    setLiveText(readout, `${tokenLabel(i.position, texts[i.position] ?? "")} → “${i.target}”`);
    const nothing = !i.heads.length;
    const fmt = (v: number, digits = 3) => v.toFixed(digits).replace("-", "−");
    const { target } = shown;
    summary.textContent = nothing
      ? `log p(“${i.target}”) = ${fmt(target.before)} (${formatProbability(target.before)}) · ablate heads to see it move`
      : `log p(“${i.target}”) ${fmt(target.before)} → ${fmt(target.after)} (Δ ${formatSigned(target.delta)}) · KL ${shown.kl > 0 && shown.kl < 1e-3 ? shown.kl.toExponential(2) : fmt(shown.kl, 4)} nats · ${i.mode} ablation of ${i.heads.length} head${i.heads.length === 1 ? "" : "s"}`;
    summary.dataset.delta = String(target.delta);
    summary.dataset.kl = String(shown.kl);

    const t = theme();
    table.replaceChildren();
    const head = el("tr");
    for (const [text, title] of [
      ["next token", "the top next tokens before and after, and the target"],
      ["before", "probability in the model's own run"],
      ["after", "probability with the heads ablated"],
      ["Δ log p", "after − before, in log-probability (nats)"],
    ]) head.append(el("th", undefined, text, { title }));
    table.append(head);
    const up = packedCss(t.diverging[240]);
    const down = packedCss(t.diverging[15]);
    for (const row of rows) {
      const tr = el("tr", row.isTarget ? "is-target" : undefined, undefined, { "data-token-id": String(row.id) });
      const token = el("td", "aw-ablation-token", `“${row.text}”`);
      token.dataset.tip = `“${row.text}”${row.isTarget ? " · the target" : ""} · token id ${row.id}`;
      const bar = (logprob: number, className: string) => {
        const cell = el("td", "aw-ablation-prob");
        const track = el("span", "aw-ablation-track");
        const fill = el("span", `aw-ablation-fill ${className}`);
        fill.style.width = `${Math.min(100, Math.exp(logprob) * 100).toFixed(2)}%`;
        track.append(fill);
        cell.append(track, el("span", "aw-ablation-number", formatProbability(logprob)));
        cell.dataset.tip = `log p = ${logprob.toFixed(5)} · p = ${Math.exp(logprob).toPrecision(5)}`;
        return cell;
      };
      const delta = el("td", "aw-ablation-delta", nothing ? "" : formatSigned(row.delta));
      if (!nothing && Math.abs(row.delta) >= 0.0005) delta.style.color = row.delta > 0 ? up : down;
      if (!nothing) delta.dataset.tip = `Δ log p = ${formatSigned(row.delta, 6)} nats · p × ${Math.exp(row.delta).toPrecision(4)}`;
      tr.append(token, bar(row.before, "is-before"), bar(row.after, "is-after"), delta);
      table.append(tr);
    }
    key.replaceChildren();
    const swatch = (className: string, text: string, colour?: string) => {
      const item = el("span", "aw-effects-key-item");
      const sw = el("span", `aw-effects-swatch ${className}`);
      if (colour) sw.style.background = colour;
      item.append(sw, document.createTextNode(text));
      key.append(item);
    };
    swatch("aw-ablation-target", "the target");
    swatch("aw-ablation-fill is-before", "before");
    swatch("aw-ablation-fill is-after", "after");
    swatch("", "Δ raised", up);
    swatch("", "Δ lowered", down);
  };

  const paintEffects = () => {
    const { info: i, values } = data.headEffects(model);
    const running = i?.state === "running";
    const current = !!i && i.state !== "none";
    effectsButton.disabled = !live() || running || !!i?.unavailable || i?.state === "done";
    effectsButton.textContent = i?.state === "done" ? "head effects ✓" : running ? "computing…" : "head effects";
    progress.hidden = !running;
    progress.value = i?.done ?? 0;
    setLiveText(status, current ? headEffectsStatus(i, info.num_layers) : live()
      ? "ablate each head alone (one re-run per layer); the grid is coloured by the result"
      : "needs a running kernel");
    root.dataset.effects = i ? `${i.state} ${i.done}` : "";
    lists.hidden = legend.root.hidden = !values;
    if (!values || !i) return;
    const t = theme();
    const range = symmetricRange(values);
    const { promote: rises, suppress: drops } = writingHeads(values, i.heads, LISTED_EFFECTS);
    const entry = (h: { layer: number; head: number; value: number }) => {
      const mark = el("span", "aw-roles-swatch");
      mark.style.background = packedCss(t.diverging[Math.round((0.5 + h.value / (2 * range)) * 255)]);
      return { layer: h.layer, head: h.head, mark, parts: [el("span", "aw-heads-value", formatSigned(h.value))] };
    };
    listHurt.fill(drops.map(entry), running ? "…" : "none");
    listHelp.fill(rises.map(entry), running ? "…" : "none");
    markSelected();
    legend.paint(t, {
      lut: t.diverging,
      ticks: [
        { at: 0, label: formatSigned(-range) },
        { at: 0.5, label: "0" },
        { at: 1, label: formatSigned(range) },
      ],
      note: `Δ log p(“${i.target}”) with the head ablated alone (list swatches; the head grid's colours)`,
    });
  };

  const markSelected = () => {
    listHurt.markSelected(selection);
    listHelp.markSelected(selection);
  };

  lifetime.listen(addButton, "click", () => setAblated(toggleHead(ablated(), selection.layer, selection.head)));
  lifetime.listen(clearButton, "click", () => setAblated([]));
  lifetime.listen(modeSelect, "change", () => selection.setTrait("ablation_mode", modeSelect.value as AblationMode));
  lifetime.listen(chips, "click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const chip = target?.closest<HTMLElement>(".aw-chip");
    if (!chip) return;
    const pair: HeadPair = [Number(chip.dataset.layer), Number(chip.dataset.head)];
    if (target?.closest(".aw-chip-remove")) setAblated(ablated().filter(([l, h]) => l !== pair[0] || h !== pair[1]));
    else selection.selectHead(pair[0], pair[1], "ablation");
  });
  lifetime.listen(effectsButton, "click", () => {
    // The grid shows the effects as they come in; Python computes them on this message.
    if (model.get("head_score") !== ABLATION) selection.setTrait("head_score", ABLATION);
    model.send({ kind: "head_effects" });
  });
  lifetime.listen(table, "mousemove", (event) => {
    const cell = event.target instanceof Element ? event.target.closest<HTMLElement>("[data-tip]") : null;
    if (cell?.dataset.tip) tooltip.showAt(cell.dataset.tip.split(" · "), event);
    else tooltip.hide();
  });
  lifetime.listen(table, "mouseleave", () => tooltip.hide());

  const repaint = () => {
    paintControls();
    paintPredictions();
    paintEffects();
  };
  selection.on(["_ablation", "ablated", "ablation_mode", "token"], () => {
    paintControls();
    paintPredictions();
  });
  selection.on(["_head_effects"], paintEffects);
  selection.on(["layer", "head"], () => {
    paintControls();
    markSelected();
  });

  return { name: "ablation", root, repaint };
}
