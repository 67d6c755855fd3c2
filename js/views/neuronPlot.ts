// The selected layer's most variable neurons (rows, most variable first) across tokens (columns), in
// diverging colours with each row scaled to its own largest |value|. data-testid="neuron-plot" is the plot;
// the tokens label its columns below it as they label the heatmap's (thinned; hovered and pinned bold).
import { cssColor, divergingLevels, formatWeight, rowMaxAbs } from "../color";
import * as data from "../data";
import { Tooltip, canvas, devicePixels, el, fitCanvas, layeredBox, onResize, pointIn } from "../dom";
import { type NeuronEffect, formatSigned } from "../effects";
import { cellAt, labelStep, tokenLabel } from "../layout";
import type { NeuronKind } from "../model";
import { colorize, putPixels, resampleMaxAbs } from "../raster";
import { fileStem } from "../snapshot";
import { createLegend } from "./legend";
import { X_AXIS, paintTokenAxis } from "./mapFrame";
import { createSaveButtons } from "./save";
import type { View, ViewContext } from "./view";

const Y_AXIS = 56;

export function rowHeight(k: number): number {
  return Math.max(3, Math.min(16, Math.floor(260 / k)));
}

export function createNeuronPlot({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const texts = data.tokens(model);
  const seq = info.seq_len;
  const kinds = Object.keys(info.neuron_widths) as NeuronKind[];
  // Kinds with no neurons recorded (width 0: a cache without the residual stream) bound nothing.
  const recorded = Object.values(info.neuron_widths).filter((w) => w > 0);
  const kMax = recorded.length ? Math.min(256, ...recorded) : 1;

  const root = el("section", "aw-panel aw-neuron-panel");
  const header = el("div", "aw-panel-header");
  const title = el("h3", "aw-title");
  const kindSelect = el("select", "aw-select", undefined, { "aria-label": "neuron kind" });
  for (const kind of kinds) kindSelect.append(el("option", undefined, kind === "mlp" ? "MLP neurons" : "residual stream", { value: kind }));
  const kInput = el("input", "aw-number", undefined, {
    type: "number", min: "1", max: String(kMax), step: "1", "aria-label": "number of neurons",
  });
  const kindLabel = el("label", "aw-control");
  kindLabel.append(kindSelect);
  const kLabel = el("label", "aw-control", "top k ");
  kLabel.append(kInput);
  header.append(title, el("span", "aw-hint", "most variable over tokens after the first; rows scaled to their max |value| after the first token"), kindLabel, kLabel);

  const frame = el("div", "aw-neuron-frame");
  frame.style.gridTemplateColumns = `${Y_AXIS}px minmax(0, 1fr)`;
  const yAxis = canvas("aw-axis aw-neuron-labels");
  yAxis.title = "click a neuron to list the tokens it promotes and suppresses";
  const { box, base, overlay } = layeredBox("aw-neuron-box", "neuron-plot", { tabindex: "0" });
  const xAxis = canvas("aw-axis aw-x-axis");
  frame.append(yAxis, box, el("span", "aw-axis-note", "token →"), xAxis);
  const legend = createLegend({ width: 220, testid: "neuron-legend" });
  // The chosen neuron (`neuron`): what its output direction promotes and suppresses (`_neuron_effects`).
  const effectsBox = el("div", "aw-neuron-effects", undefined, { "data-testid": "neuron-effects" });
  const unavailable = el("div", "aw-hint", undefined, { "data-testid": "neuron-unavailable" });
  unavailable.hidden = true;
  root.append(header, unavailable, frame, legend.root, effectsBox);
  const tooltip = new Tooltip(frame);
  const stem = () => {
    const neurons = data.neurons(model);
    return fileStem(["neurons", ...(neurons ? [`L${neurons.info.layer}`, neurons.info.kind, `top${neurons.info.k}`] : [])]);
  };
  header.append(createSaveButtons(lifetime, { name: "neuron-plot", root, repaint: () => repaint(), theme, fileStem: stem }));

  let width = 0;
  let height = 0;
  // `neuron` is absent from pages saved before it: nothing can be chosen there.
  const hasNeuron = () => typeof model.get("neuron") === "number";
  const chosenNeuron = () => (hasNeuron() ? model.get("neuron") : -1);
  const chooseNeuron = (n: number, save: boolean) => {
    if (!hasNeuron() || n === chosenNeuron()) return;
    model.set("neuron", n);
    if (save) model.save_changes();
  };
  // Each row's colour scale (its largest |value| after the first token), per neurons object.
  const scales = new WeakMap<Float32Array, Float32Array>();
  const rowScales = (neurons: data.DecodedNeurons) => {
    let out = scales.get(neurons.values);
    if (!out) scales.set(neurons.values, (out = rowMaxAbs(neurons.values, neurons.info.k, seq, true)));
    return out;
  };

  const paintBase = () => {
    const neurons = data.neurons(model);
    kindSelect.value = model.get("neuron_kind");
    if (document.activeElement !== kInput) kInput.value = String(model.get("neuron_k"));
    const why = data.neuronsUnavailable(model);
    unavailable.textContent = why;
    unavailable.hidden = !why;
    frame.hidden = legend.root.hidden = Boolean(why);
    if (why) title.textContent = `Neurons · layer ${model.get("layer")}`;
    if (why || !neurons) return;
    const k = neurons.info.k;
    title.textContent = `Neurons · layer ${neurons.info.layer}`;
    height = k * rowHeight(k);
    box.style.height = `${height}px`;
    width = Math.floor(box.getBoundingClientRect().width) || width;
    if (width <= 0) return;
    const t = theme();
    const columns = Math.min(seq, devicePixels(width));
    const values = resampleMaxAbs(neurons.values, k, seq, k, columns);
    putPixels(base, colorize(divergingLevels(values, k, columns, { skipFirstColumn: true }), t.diverging, t.masked), columns, k);
    const ends = rowScales(neurons);
    const [lo, hi] = [Math.min(...ends), Math.max(...ends)];
    legend.paint(t, {
      lut: t.diverging,
      ticks: [{ at: 0, label: "−row max" }, { at: 0.5, label: "0" }, { at: 1, label: "+row max" }],
      note: `each row scaled to its own largest |value| after the first token (row maxima ${formatWeight(lo)} to ${formatWeight(hi)}; hover for values)`,
    });
    const y = fitCanvas(yAxis, Y_AXIS, height);
    if (!y) return;
    y.clearRect(0, 0, Y_AXIS, height);
    y.font = `10px ${t.font}`;
    y.textAlign = "right";
    y.textBaseline = "middle";
    y.fillStyle = cssColor(t.muted);
    const per = height / k;
    const step = labelStep(per, 11);
    for (let r = 0; r < k; r += step) y.fillText(`n${neurons.info.indices[r]}`, Y_AXIS - 4, (r + 0.5) * per);
    paintAxis();
  };

  const paintAxis = () => paintTokenAxis(xAxis, "x", width, X_AXIS, 0, seq, (i) => texts[i], selection.hovered, selection.token, theme());

  const paintOverlay = () => {
    if (width <= 0 || height <= 0) return;
    const c = fitCanvas(overlay, width, height);
    if (!c) return;
    const t = theme();
    c.clearRect(0, 0, width, height);
    const neurons = data.neurons(model);
    const row = neurons ? neurons.info.indices.indexOf(chosenNeuron()) : -1;
    if (neurons && row >= 0) {
      const rh = height / neurons.info.k;
      c.strokeStyle = cssColor(t.accent);
      c.lineWidth = 2;
      c.strokeRect(1, row * rh + 1, width - 2, Math.max(2, rh - 2));
    }
    const per = width / seq;
    const w = Math.max(1, per);
    if (selection.hovered >= 0) {
      c.fillStyle = cssColor(t.fg, 0.25);
      c.fillRect(selection.hovered * per, 0, w, height);
    }
    if (selection.token >= 0) {
      c.strokeStyle = cssColor(t.pin);
      c.lineWidth = 1.5;
      c.strokeRect(selection.token * per, 0.75, w, height - 1.5);
    }
  };

  const hitAt = (event: MouseEvent) => {
    const neurons = data.neurons(model);
    const p = pointIn(box, event);
    const hit = neurons && cellAt(p.x, p.y, p.width, p.height, neurons.info.k, seq);
    return hit && neurons ? { hit, neurons } : null;
  };
  const onLeave = () => {
    tooltip.hide();
    selection.hover(-1);
  };
  lifetime.listen(box, "mousemove", (event) => {
    const found = hitAt(event);
    if (!found) return onLeave();
    const { hit, neurons } = found;
    selection.hover(hit.col);
    const value = neurons.values[hit.row * seq + hit.col];
    tooltip.showAt(
      [`neuron ${neurons.info.indices[hit.row]} (${neurons.info.kind}, layer ${neurons.info.layer})`,
        tokenLabel(hit.col, texts[hit.col]),
        `value ${value.toPrecision(4)} (row scale ±${formatWeight(rowScales(neurons)[hit.row])})`],
      event,
    );
  });
  lifetime.listen(box, "mouseleave", onLeave);
  // A click on a cell chooses its neuron and pins its token; the same cell again clears both. A click on a
  // row's label chooses (or clears) the neuron alone; Escape clears it.
  lifetime.listen(box, "click", (event) => {
    const found = hitAt(event);
    if (!found) return;
    const n = found.neurons.info.indices[found.hit.row];
    const again = n === chosenNeuron() && found.hit.col === selection.token;
    chooseNeuron(again ? -1 : n, false);
    selection.pin(again ? -1 : found.hit.col, "neuron-plot");
  });
  lifetime.listen(yAxis, "click", (event) => {
    const neurons = data.neurons(model);
    const p = pointIn(yAxis, event);
    const hit = neurons && cellAt(p.x, p.y, p.width, p.height, neurons.info.k, 1);
    if (!neurons || !hit) return;
    const n = neurons.info.indices[hit.row];
    chooseNeuron(n === chosenNeuron() ? -1 : n, true);
  });
  lifetime.listen(root, "keydown", (event) => {
    if (event.key === "Escape" && chosenNeuron() >= 0) {
      event.preventDefault();
      chooseNeuron(-1, true);
    }
  });
  lifetime.listen(kindSelect, "change", () => selection.setTrait("neuron_kind", kindSelect.value as NeuronKind));
  lifetime.listen(kInput, "change", () => {
    const k = Math.round(Number(kInput.value));
    if (Number.isFinite(k) && k >= 1 && k <= kMax && k !== model.get("neuron_k")) selection.setTrait("neuron_k", k);
  });

  const listEffects = () => {
    const n = chosenNeuron();
    const found = data.neuronEffects(model);
    effectsBox.replaceChildren();
    effectsBox.dataset.neuron = String(n);
    if (n < 0) {
      effectsBox.append(el("div", "aw-hint", "click a neuron (a row, or its label) to list the tokens it promotes and suppresses"));
      return;
    }
    const i = found?.info;
    const current = i && i.neuron === n;
    const kind = i ? (i.kind === "mlp" ? "MLP" : "residual") : model.get("neuron_kind") === "mlp" ? "MLP" : "residual";
    const title = el("div", "aw-neuron-effects-title");
    title.append(el("span", "aw-heads-name", `n${n}`), document.createTextNode(` · layer ${i?.layer ?? selection.layer} ${kind}: what its output direction does to the next-token logits`));
    effectsBox.append(title);
    if (!current) {
      effectsBox.append(el("div", "aw-hint", "computing…"));
      return;
    }
    if (i.unavailable || !found.effects) {
      effectsBox.dataset.state = "unavailable";
      effectsBox.append(el("div", "aw-hint", i.unavailable ?? "no effects for this neuron"));
      return;
    }
    effectsBox.dataset.state = "listed";
    const column = (heading: string, items: NeuronEffect[], testid: string) => {
      const col = el("div", "aw-neuron-effects-column");
      const list = el("ol", "aw-neuron-effects-list", undefined, { "data-testid": testid });
      for (const item of items) {
        const li = el("li", "aw-neuron-effects-item", undefined, { title: `“${item.text}” ${formatSigned(item.value, 5)}` });
        li.append(el("span", "aw-token-text aw-neuron-effects-tok", item.text), el("span", "aw-heads-value", formatSigned(item.value)));
        list.append(li);
      }
      col.append(el("div", "aw-effects-list-title", heading), list);
      return col;
    };
    const columns = el("div", "aw-neuron-effects-columns");
    columns.append(
      column("promotes", found.effects.promoted, "neuron-promoted"),
      column("suppresses", found.effects.suppressed, "neuron-suppressed"),
    );
    effectsBox.append(columns);
  };

  const repaint = () => {
    paintBase();
    paintOverlay();
    listEffects();
  };
  selection.on(["_neurons", "neuron_kind", "neuron_k"], repaint);
  selection.on(["neuron", "_neuron_effects"], () => {
    paintOverlay();
    listEffects();
  });
  selection.on(["hovered_token", "token"], () => {
    paintOverlay();
    paintAxis();
  });
  onResize(box, lifetime, () => {
    if (Math.floor(box.getBoundingClientRect().width) !== width) repaint();
  });

  return { name: "neuron-plot", root, repaint };
}
