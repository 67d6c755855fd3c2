// The selected layer's most variable neurons (rows, most variable first) across tokens (columns), in
// diverging colours with each row scaled to its own largest |value|. data-testid="neuron-plot" is the plot.
import { cssColor, divergingIntensities } from "../color";
import * as data from "../data";
import { Tooltip, canvas, devicePixels, el, fitCanvas, onResize } from "../dom";
import { cellAt, labelStep } from "../layout";
import type { NeuronKind } from "../model";
import { colorize, putPixels, resampleMaxAbs } from "../raster";
import { tokenLabel } from "./tokenStrip";
import type { View, ViewContext } from "./view";

const Y_AXIS = 56;

export function rowHeight(k: number): number {
  return Math.max(3, Math.min(16, Math.floor(260 / k)));
}

export function createNeuronPlot({ model, selection, theme }: ViewContext): View {
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
  const box = el("div", "aw-box aw-neuron-box", undefined, { "data-testid": "neuron-plot" });
  const base = canvas("aw-layer", "base");
  const overlay = canvas("aw-layer", "overlay");
  box.append(base, overlay);
  frame.append(yAxis, box);
  root.append(header, frame);
  const tooltip = new Tooltip(frame);

  let width = 0;
  let height = 0;

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
    putPixels(base, colorize(divergingIntensities(values, k, columns, true), t.diverging, t.masked), columns, k);
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
  };

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
    const rect = box.getBoundingClientRect();
    const hit = neurons && cellAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height, neurons.info.k, seq);
    return hit && neurons ? { hit, neurons } : null;
  };
  const onMove = (event: MouseEvent) => {
    const found = hitAt(event);
    if (!found) return onLeave();
    const { hit, neurons } = found;
    selection.hover(hit.col);
    const value = neurons.values[hit.row * seq + hit.col];
    const frameRect = frame.getBoundingClientRect();
    tooltip.show(
      [`neuron ${neurons.info.indices[hit.row]} (${neurons.info.kind}, layer ${neurons.info.layer})`,
        tokenLabel(hit.col, texts[hit.col]), `value ${value.toPrecision(4)}`],
      event.clientX - frameRect.left, event.clientY - frameRect.top, frameRect.width,
    );
  };
  const onLeave = () => {
    tooltip.hide();
    selection.hover(-1);
  };
  const onClick = (event: MouseEvent) => {
    const found = hitAt(event);
    if (found) selection.pin(found.hit.col === selection.token ? -1 : found.hit.col, "neuron-plot");
  };
  const onKind = () => selection.setTrait("neuron_kind", kindSelect.value as NeuronKind);
  const onK = () => {
    const k = Math.round(Number(kInput.value));
    if (Number.isFinite(k) && k >= 1 && k <= kMax && k !== model.get("neuron_k")) selection.setTrait("neuron_k", k);
  };
  box.addEventListener("mousemove", onMove);
  box.addEventListener("mouseleave", onLeave);
  box.addEventListener("click", onClick);
  kindSelect.addEventListener("change", onKind);
  kInput.addEventListener("change", onK);

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["_neurons", "_neurons_info", "neuron_kind", "neuron_k"], repaint);
  selection.on(["hovered_token", "token"], paintOverlay);
  const stopResize = onResize(box, () => {
    if (Math.floor(box.getBoundingClientRect().width) !== width) repaint();
  });

  return {
    root,
    repaint,
    dispose() {
      stopResize();
      box.removeEventListener("mousemove", onMove);
      box.removeEventListener("mouseleave", onLeave);
      box.removeEventListener("click", onClick);
      kindSelect.removeEventListener("change", onKind);
      kInput.removeEventListener("change", onK);
    },
  };
}
