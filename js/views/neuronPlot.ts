// The selected layer's most variable neurons (rows, most variable first) across tokens (columns), in
// diverging colours with each row scaled to its own largest |value|. data-testid="neuron-plot" is the plot;
// the tokens label its columns below it as they label the heatmap's (thinned; hovered and pinned bold).
import { cssColor, divergingLevels, formatWeight, rowMaxAbs } from "../color";
import * as data from "../data";
import { Tooltip, canvas, devicePixels, el, fitCanvas, layeredBox, onResize, pointIn } from "../dom";
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
  const kMax = Math.min(256, info.neuron_widths.residual ?? 256);

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
  const yAxis = canvas("aw-axis");
  const { box, base, overlay } = layeredBox("aw-neuron-box", "neuron-plot");
  const xAxis = canvas("aw-axis aw-x-axis");
  frame.append(yAxis, box, el("span", "aw-axis-note", "token →"), xAxis);
  const legend = createLegend({ width: 220, testid: "neuron-legend" });
  root.append(header, frame, legend.root);
  const tooltip = new Tooltip(frame);
  const stem = () => {
    const neurons = data.neurons(model);
    return fileStem(["neurons", ...(neurons ? [`L${neurons.info.layer}`, neurons.info.kind, `top${neurons.info.k}`] : [])]);
  };
  header.append(createSaveButtons(lifetime, { name: "neuron-plot", root, repaint: () => repaint(), theme, fileStem: stem }));

  let width = 0;
  let height = 0;
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
    if (!neurons) return;
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
  lifetime.listen(box, "click", (event) => {
    const found = hitAt(event);
    if (found) selection.pin(found.hit.col === selection.token ? -1 : found.hit.col, "neuron-plot");
  });
  lifetime.listen(kindSelect, "change", () => selection.setTrait("neuron_kind", kindSelect.value as NeuronKind));
  lifetime.listen(kInput, "change", () => {
    const k = Math.round(Number(kInput.value));
    if (Number.isFinite(k) && k >= 1 && k <= kMax && k !== model.get("neuron_k")) selection.setTrait("neuron_k", k);
  });

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["_neurons", "neuron_kind", "neuron_k"], repaint);
  selection.on(["hovered_token", "token"], () => {
    paintOverlay();
    paintAxis();
  });
  onResize(box, lifetime, () => {
    if (Math.floor(box.getBoundingClientRect().width) !== width) repaint();
  });

  return { name: "neuron-plot", root, repaint };
}
