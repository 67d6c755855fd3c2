// Generation (data-testid="generation"), a side-panel tab: what the model wrote after the prompt, token by
// token, each with the probability it had when it was chosen (bar) and the entropy of that step (thin bar);
// a step cursor (`step`: a click on a token, ← → Home End with the view focused) and, for the selected step,
// the alternatives the model considered and where every head looked when it chose the token: one strip per
// layer × head (rows layers, columns heads), each the attention row of the position that chose it over keys
// 0..prompt + step − 1. Python pins `token` to that position, so the heatmap's row and the logit lens follow.
// While the model writes, tokens come in one by one (`_generation`); the strips come with the recorded pass
// once it is done (`_step_rows`). Numbers, stepping and geometry: generation.ts.
import { SCALE_NOTES, cssColor, legendTicks, scaleParams, weightLevels } from "../color";
import * as data from "../data";
import { Tooltip, el, fitCanvas, layeredBox, onResize, pixelDensity, pointIn, setLiveText } from "../dom";
import {
  type DecodedGeneration, choosingPosition, entropyFill, generationStatus, headRow, keyOffset,
  keyText, maxValue, probFill, samplingText, stepForKey, stepHeader, stepRows, stepValues, stripAt, stripGeometry,
  type StripGeometry,
} from "../generation";
import { hasKernel } from "../kernel";
import { labelStep, nearestScroll } from "../layout";
import { formatProb } from "../lens";
import type { GenerationInfo, StopGenerationMessage } from "../model";
import { colorize, putPixels, resampleMax } from "../raster";
import { createLegend } from "./legend";
import type { View, ViewContext } from "./view";

/** Prompt tokens shown before the generated ones (the rest of the prompt is in the token strip). */
const PROMPT_TAIL = 8;
/** Room the strips take when the view has not been measured yet (displayed while hidden). */
const FALLBACK_ROOM = 280;

export function createGeneration({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const layers = info.num_layers;
  const heads = info.num_heads;
  const promptTexts = data.tokens(model);
  const live = () => hasKernel(model, root);

  const root = el("section", "aw-panel aw-generation-panel", undefined, {
    "data-testid": "generation", tabindex: "0",
    "aria-label": "generation: click a token or use ← → Home End to step through it",
  });
  const header = el("div", "aw-panel-header");
  const status = el("span", "aw-hint aw-live", undefined, { role: "status", "data-testid": "generation-status" });
  const stopButton = el("button", "aw-button", "stop", {
    type: "button", "data-testid": "generation-stop", title: "stop writing (what was written stays)",
  });
  header.append(el("h3", "aw-title", "Generation"), status, stopButton);
  const settings = el("div", "aw-hint aw-gen-settings", undefined, { "data-testid": "generation-settings" });
  const message = el("div", "aw-effects-message", undefined, { "data-testid": "generation-message" });

  // The text: the end of the prompt, then one chip per generated token.
  const text = el("div", "aw-gen-text", undefined, { "data-testid": "generation-tokens" });
  const promptTail = el("span", "aw-gen-prompt");
  text.append(promptTail);
  const key = el("div", "aw-effects-key aw-hint aw-gen-key", undefined, { "data-testid": "generation-key" });
  const keyItem = (className: string, words: string) => {
    const item = el("span", "aw-effects-key-item");
    const track = el("span", `aw-gen-key-track ${className}`);
    track.append(el("span", "aw-gen-key-fill"));
    item.append(track, document.createTextNode(words));
    return item;
  };
  key.append(
    keyItem("is-prob", "probability of the chosen token (full: 1)"),
    keyItem("is-entropy", "entropy of the step (full: ≥ 5 nats)"),
  );

  // The selected step.
  const stepBox = el("div", "aw-gen-step");
  const stepTitle = el("div", "aw-gen-step-title", undefined, { "data-testid": "generation-step-header" });
  const alternatives = el("ol", "aw-gen-alts", undefined, { "data-testid": "generation-alternatives" });
  const stripsTitle = el("div", "aw-effects-list-title", "where every head looked · rows: layers, columns: heads · click: select");
  const frame = el("div", "aw-grid-frame"); // laid out as the head grid: head labels on top, layers left
  const headLabels = el("div", "aw-grid-head-labels");
  const { box, base, overlay } = layeredBox("aw-gen-strips", "generation-strips");
  const stripsMessage = el("div", "aw-gen-strips-message", undefined, { "data-testid": "generation-strips-message" });
  const labels = el("div", "aw-grid-layer-labels aw-gen-layer-labels");
  box.append(stripsMessage);
  frame.append(el("span", "aw-corner", "L\\H"), headLabels, labels, box);
  const legend = createLegend({ width: 240, testid: "generation-legend" });
  stepBox.append(stepTitle, alternatives, stripsTitle, frame, legend.root);

  root.append(header, settings, message, text, key, stepBox);
  const tooltip = new Tooltip(root);

  let chips: HTMLSpanElement[] = [];
  let shownStep = -1;
  let geometry: StripGeometry = stripGeometry(layers, heads, FALLBACK_ROOM);
  let room = 0;
  let hover: { layer: number; head: number; key: number } | null = null;
  // The stop button was pressed: it stays disabled until the model has stopped.
  let stopAsked = false;

  const generation = () => data.generation(model);
  const steps = () => generation().decoded?.steps ?? 0;
  const current = (): number => {
    const s = model.get("step");
    return typeof s === "number" && s >= 0 && s < steps() ? s : -1;
  };
  const isEmpty = (g: GenerationInfo | null) => !g || (!g.steps && !g.running && !g.error && !g.stop_reason);

  const setStep = (step: number) => {
    if (step === model.get("step")) return;
    selection.setTrait("step", step);
  };

  // ---- the status lines --------------------------------------------------------------------------------
  const paintStatus = () => {
    const g = generation().info;
    const running = !!g?.running || model.get("generating") === true;
    root.dataset.running = String(running);
    if (!running) stopAsked = false;
    stopButton.hidden = !running;
    stopButton.disabled = !live() || stopAsked;
    stopButton.textContent = stopAsked ? "stopping…" : "stop";
    if (isEmpty(g)) {
      setLiveText(status, "");
      settings.textContent = "";
      message.textContent = "no generation in this widget: attnwidget.show(prompt, generate=30) writes one and shows it here";
      message.classList.remove("is-error");
      message.hidden = false;
      return;
    }
    setLiveText(status, generationStatus({ ...g!, running }));
    settings.textContent = samplingText(g!.sampling);
    message.textContent = g!.error ?? "";
    message.classList.toggle("is-error", !!g!.error);
    message.hidden = !g!.error;
  };

  // ---- the tokens ----------------------------------------------------------------------------------------
  const chipTip = (decoded: DecodedGeneration, tokens: string[], s: number, promptLength: number) =>
    `step ${s} · “${tokens[s] ?? ""}” at #${promptLength + s} · ${stepValues(decoded.probs[s], decoded.entropies[s])}`;

  const makeChip = (decoded: DecodedGeneration, tokens: string[], s: number, promptLength: number): HTMLSpanElement => {
    const chip = el("span", "aw-gen-chip", undefined, { "data-step": String(s) });
    chip.dataset.tip = chipTip(decoded, tokens, s, promptLength);
    const bar = el("span", "aw-gen-bar is-prob");
    const fill = el("span", "aw-gen-fill");
    fill.style.width = `${(probFill(decoded.probs[s]) * 100).toFixed(1)}%`;
    bar.append(fill);
    const entropy = el("span", "aw-gen-bar is-entropy");
    const entropyBar = el("span", "aw-gen-fill");
    entropyBar.style.width = `${(entropyFill(decoded.entropies[s]) * 100).toFixed(1)}%`;
    entropy.append(entropyBar);
    chip.append(el("span", "aw-gen-tok", tokens[s] ?? ""), bar, entropy);
    return chip;
  };

  const paintTokens = () => {
    const { info: g, decoded, tokens } = generation();
    const empty = isEmpty(g);
    text.hidden = key.hidden = empty;
    root.dataset.steps = String(decoded?.steps ?? 0);
    if (empty || !g) {
      for (const chip of chips) chip.remove();
      chips = [];
      return;
    }
    const p = g.prompt_length;
    if (promptTail.dataset.length !== String(p)) {
      // The end of the prompt, token by token as the token strip shows it (its texts do not always join
      // into the prompt: a WordPiece tokenizer's have no spaces).
      const first = Math.max(0, p - PROMPT_TAIL);
      promptTail.replaceChildren(
        ...(first > 0 ? [el("span", "aw-gen-prompt-more", "…")] : []),
        ...promptTexts.slice(first, p).map((t) => el("span", "aw-token", t)),
      );
      promptTail.dataset.length = String(p);
      promptTail.dataset.tip = `the prompt's last ${p - first} of ${p} tokens (all of them: the token strip)`;
    }
    const n = decoded?.steps ?? 0;
    // Tokens only ever come in at the end while the model writes: keep the chips there (and the scroll).
    if (chips.length > n) {
      for (const chip of chips.splice(n)) chip.remove();
    }
    for (let s = 0; s < chips.length && decoded; s++) chips[s].dataset.tip = chipTip(decoded, tokens, s, p);
    const atEnd = text.scrollTop + text.clientHeight >= text.scrollHeight - 2;
    if (decoded && chips.length < n) {
      const added: HTMLSpanElement[] = [];
      for (let s = chips.length; s < n; s++) added.push(makeChip(decoded, tokens, s, p));
      chips.push(...added);
      text.append(...added);
      // While the model writes, the newest token stays in view (unless the text was scrolled up).
      if (atEnd && current() < 0 && g.running) text.scrollTop = text.scrollHeight;
    }
    markStep();
  };

  /** Scroll the text (never the page) so that the selected chip is visible. */
  const reveal = (chip: HTMLElement, withPrompt: boolean) => {
    if (text.clientHeight === 0 || text.scrollHeight <= text.clientHeight) return;
    // The first token with the end of the prompt before it, when both fit.
    const top = withPrompt && chip.offsetTop + chip.offsetHeight <= text.clientHeight ? 0 : chip.offsetTop;
    const next = nearestScroll(top, chip.offsetTop + chip.offsetHeight - top, text.scrollTop, text.clientHeight);
    if (next !== text.scrollTop) text.scrollTop = next;
  };

  const markStep = () => {
    const s = current();
    chips[shownStep]?.classList.remove("is-selected");
    shownStep = s;
    const chip = chips[s];
    if (chip) {
      chip.classList.add("is-selected");
      reveal(chip, s === 0);
    }
    root.dataset.step = String(s);
  };

  // ---- the selected step --------------------------------------------------------------------------------
  const paintStep = () => {
    const { info: g, decoded, tokens } = generation();
    stepBox.hidden = isEmpty(g);
    const s = current();
    alternatives.replaceChildren();
    if (!g || !decoded || s < 0) {
      stepTitle.textContent = decoded?.steps ? "no step selected: click a token above, or ← → with this view focused" : "";
      stepTitle.classList.add("aw-hint");
      paintStrips();
      return;
    }
    stepTitle.classList.remove("aw-hint");
    stepTitle.textContent = `${stepHeader(s, tokens[s] ?? "", decoded.probs[s], g.prompt_length)} · entropy ${decoded.entropies[s].toFixed(2)} nats`;
    const alts = decoded.alternatives[s] ?? [];
    for (const alt of alts) {
      const item = el("li", alt.chosen ? "aw-gen-alt is-chosen" : "aw-gen-alt");
      const track = el("span", "aw-ablation-track");
      const fill = el("span", "aw-ablation-fill is-after");
      fill.style.width = `${(probFill(alt.p) * 100).toFixed(1)}%`;
      track.append(fill);
      item.append(
        el("span", "aw-gen-alt-mark", alt.chosen ? "✓" : ""),
        el("span", "aw-token-text aw-gen-alt-tok", `“${alt.text}”`),
        track,
        el("span", "aw-gen-alt-p", formatProb(alt.p)),
      );
      item.dataset.tip = `“${alt.text}” · p = ${alt.p.toFixed(4)}${alt.chosen ? " · the token written" : ""}`;
      alternatives.append(item);
    }
    if (!alts.some((a) => a.chosen)) {
      const item = el("li", "aw-gen-alt is-chosen is-outside");
      item.append(
        el("span", "aw-gen-alt-mark", "✓"),
        el("span", "aw-token-text aw-gen-alt-tok", `“${tokens[s] ?? ""}”`),
        el("span", "aw-hint", `${formatProb(decoded.probs[s])}: sampled from outside the ${alts.length} most likely`),
      );
      alternatives.append(item);
    }
    paintStrips();
  };

  // ---- where every head looked ------------------------------------------------------------------------
  const measure = () => {
    // The frame's width less the layer labels' column (a box measured 0 wide keeps the last room).
    const width = Math.floor(stepBox.getBoundingClientRect().width) - 26;
    if (width > 0) room = width;
    geometry = stripGeometry(layers, heads, room || FALLBACK_ROOM);
    box.style.width = `${geometry.width}px`;
    box.style.height = `${geometry.totalHeight}px`;
    frame.style.gridTemplateColumns = `auto ${geometry.width}px`;
  };

  const paintAxes = () => {
    const step = labelStep(geometry.column, 14);
    headLabels.replaceChildren(
      ...Array.from({ length: heads }, (_, h) => {
        const label = el("span", "aw-axis-label", h % step === 0 ? String(h) : "");
        label.style.width = `${geometry.column}px`;
        return label;
      }),
    );
    // One label every `every` layers, each as tall as the rows it stands for (rows are a few px).
    const every = labelStep(geometry.row, 11);
    labels.replaceChildren(
      ...Array.from({ length: Math.ceil(layers / every) }, (_, i) => {
        const label = el("span", "aw-axis-label", String(i * every));
        label.style.height = `${Math.min(every, layers - i * every) * geometry.row}px`;
        return label;
      }),
    );
  };

  /** The rows of the selected step, or why there are none. */
  const shownRows = (): { rows: Float32Array; keys: number; step: number } | { why: string } => {
    const g = generation().info;
    const s = current();
    if (!g) return { why: "" };
    if (!g.recorded) {
      return { why: "where every head looked comes once the model has finished writing (or is stopped)" };
    }
    if (s < 0) return { why: "click a token above to see where every head looked when the model chose it" };
    const sent = data.stepRows(model);
    const rows = sent.info ? stepRows(sent.values, sent.info, s) : null;
    if (rows && sent.info && sent.info.layers === layers && sent.info.heads === heads) {
      return { rows, keys: sent.info.prompt_length + s, step: s };
    }
    if (live()) return { why: `loading where every head looked at step ${s}…` };
    const held = sent.info && sent.info.count ? ` (this page holds steps ${sent.info.first}–${sent.info.first + sent.info.count - 1})` : "";
    return { why: `step ${s}'s attention rows were not saved in this page: they need a running kernel${held}` };
  };

  const paintStrips = () => {
    measure();
    paintAxes();
    const t = theme();
    const shown = shownRows();
    const dpr = pixelDensity();
    const width = Math.max(1, Math.round(geometry.width * dpr));
    const height = Math.max(1, Math.round(geometry.totalHeight * dpr));
    const pixels = new Uint32Array(width * height);
    if ("why" in shown) {
      stripsMessage.textContent = shown.why;
      stripsMessage.hidden = !shown.why;
      box.dataset.shown = "";
      box.classList.add("is-empty");
      putPixels(base, pixels, width, height);
      legend.blank();
      paintOverlay();
      return;
    }
    stripsMessage.hidden = true;
    box.classList.remove("is-empty");
    const { rows, keys, step } = shown;
    const scale = model.get("color_scale");
    const max = maxValue(rows);
    const params = scaleParams(max);
    const levels = new Float32Array(keys);
    for (let l = 0; l < layers; l++) {
      const y0 = Math.round(l * geometry.row * dpr);
      const y1 = Math.max(y0 + 1, Math.round((l * geometry.row + geometry.height) * dpr));
      for (let h = 0; h < heads; h++) {
        const row = headRow(rows, heads, keys, l, h);
        const rowMax = maxValue(row);
        weightLevels(row, 0, keys, scale, params, rowMax > 0 ? 1 / rowMax : 0, levels, 0);
        const x0 = Math.round(h * geometry.column * dpr);
        const x1 = Math.max(x0 + 1, Math.round((h * geometry.column + geometry.strip) * dpr));
        const colours = colorize(resampleMax(levels, 1, keys, 1, x1 - x0), t.sequential, t.masked);
        for (let y = y0; y < y1 && y < height; y++) pixels.set(colours, y * width + x0);
      }
    }
    putPixels(base, pixels, width, height);
    box.dataset.shown = `step ${step}`;
    legend.paint(t, {
      lut: t.sequential,
      ticks: legendTicks(scale, max),
      note: `${SCALE_NOTES[scale]}; each strip: one head's attention from #${choosingPosition(generation().info?.prompt_length ?? 0, step)} over the ${keys} tokens up to it; orange line: where the written text starts`,
    });
    paintOverlay();
  };

  const paintOverlay = () => {
    const ctx = fitCanvas(overlay, geometry.width, geometry.totalHeight);
    if (!ctx) return;
    ctx.clearRect(0, 0, geometry.width, geometry.totalHeight);
    const shown = shownRows();
    if ("why" in shown) return;
    const t = theme();
    const p = generation().info?.prompt_length ?? 0;
    // Where the generated text starts: a tick before key `prompt_length` in every column.
    if (shown.keys > p) {
      ctx.beginPath();
      for (let h = 0; h < heads; h++) {
        const x = Math.round(h * geometry.column + keyOffset(p, shown.keys, geometry.strip)) + 0.5;
        ctx.moveTo(x, 0);
        ctx.lineTo(x, geometry.totalHeight);
      }
      ctx.strokeStyle = cssColor(t.pin, 0.9);
      ctx.lineWidth = 1;
      ctx.stroke();
    }
    const outline = (layer: number, head: number, color: string, width: number) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.strokeRect(head * geometry.column - width / 2, layer * geometry.row - width / 2, geometry.strip + width, geometry.height + width);
    };
    if (hover) outline(hover.layer, hover.head, cssColor(t.fg, 0.8), 1);
    outline(selection.layer, selection.head, cssColor(t.accent), 2);
  };

  const hitAt = (event: MouseEvent) => {
    const shown = shownRows();
    if ("why" in shown) return null;
    const at = pointIn(box, event);
    const hit = stripAt(at.x, at.y, geometry, layers, heads, shown.keys);
    return hit && { ...hit, rows: shown.rows, keys: shown.keys };
  };

  // ---- events -------------------------------------------------------------------------------------------
  lifetime.listen(stopButton, "click", () => {
    const stop: StopGenerationMessage = { kind: "stop_generation" };
    model.send(stop);
    stopAsked = true;
    paintStatus();
  });
  lifetime.listen(text, "click", (event) => {
    const chip = event.target instanceof Element ? event.target.closest<HTMLElement>("[data-step]") : null;
    if (chip) setStep(Number(chip.dataset.step));
  });
  lifetime.listen(root, "keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target instanceof HTMLButtonElement && (event.key === "Enter" || event.key === " ")) return;
    const next = stepForKey(event.key, current(), steps());
    if (next === null) return;
    event.preventDefault();
    setStep(next);
  });
  // Tooltips: exact values of the chips, the alternatives and the strips.
  lifetime.listen(root, "mousemove", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (target && box.contains(target)) return;
    const tipped = target?.closest<HTMLElement>("[data-tip]");
    if (tipped?.dataset.tip) tooltip.showAt(tipped.dataset.tip.split(" · "), event);
    else tooltip.hide();
  });
  lifetime.listen(root, "mouseleave", () => tooltip.hide());
  const leaveStrips = () => {
    if (hover) {
      hover = null;
      paintOverlay();
    }
    selection.preview(null);
    tooltip.hide();
  };
  lifetime.listen(box, "mousemove", (event) => {
    const hit = hitAt(event);
    if (!hit) return leaveStrips();
    const g = generation();
    const weight = headRow(hit.rows, heads, hit.keys, hit.layer, hit.head)[hit.key];
    const keyName = keyText(hit.key, g.info?.prompt_length ?? 0, promptTexts, g.tokens);
    const part = hit.key < (g.info?.prompt_length ?? 0) ? "prompt" : "written";
    tooltip.showAt([`L${hit.layer} H${hit.head} → “${keyName}” (#${hit.key}, ${part}): ${weight.toFixed(4)}`, "click: select this head"], event);
    if (hover?.layer !== hit.layer || hover?.head !== hit.head) {
      hover = { layer: hit.layer, head: hit.head, key: hit.key };
      paintOverlay();
    }
    selection.preview({ layer: hit.layer, head: hit.head });
  });
  lifetime.listen(box, "mouseleave", leaveStrips);
  lifetime.listen(box, "click", (event) => {
    const hit = hitAt(event);
    if (hit) selection.selectHead(hit.layer, hit.head, "generation");
  });

  const repaint = () => {
    paintStatus();
    paintTokens();
    paintStep();
  };
  selection.on(["_generation", "generating"], repaint);
  selection.on(["step"], () => {
    markStep();
    paintStep();
  });
  selection.on(["_step_rows", "color_scale"], paintStrips);
  selection.on(["layer", "head"], paintOverlay);
  onResize(stepBox, lifetime, () => {
    const width = Math.floor(stepBox.getBoundingClientRect().width) - 26;
    if (width > 0 && width !== room) paintStrips();
  });

  return { name: "generation", root, repaint };
}
