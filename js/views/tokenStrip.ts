// The prompt's tokens as text. Hover highlights a token everywhere, click pins it (the `token` trait).
import { cssColor, formatWeight } from "../color";
import * as data from "../data";
import { binOf } from "../decode";
import { el } from "../dom";
import { nearestScroll } from "../layout";
import type { View, ViewContext } from "./view";

export function tokenLabel(index: number, text: string): string {
  return `#${index} “${text}”`;
}

export function createTokenStrip({ model, selection, theme }: ViewContext): View {
  const root = el("section", "aw-panel aw-tokens");
  const header = el("div", "aw-panel-header");
  const title = el("h3", "aw-title", "Tokens");
  const readout = el("span", "aw-readout");
  header.append(title, readout);
  const strip = el("div", "aw-strip", undefined, { "data-testid": "token-strip" });
  root.append(header, strip);

  const texts = data.tokens(model);
  const spans: HTMLSpanElement[] = texts.map((text, index) => {
    const span = el("span", "aw-token", text, { "data-token-index": String(index) });
    return span;
  });
  strip.append(...spans);

  let hovered = -1;
  let pinned = -1;
  // While the pointer is over the strip, hovering never scrolls it (the text would move under the pointer).
  let pointerInside = false;

  /** Scroll the strip (never the page) so that token `index` is visible, by the least movement. */
  const reveal = (index: number) => {
    const span = spans[index];
    if (!span || strip.clientHeight === 0 || strip.scrollHeight <= strip.clientHeight) return;
    // offsetTop is relative to the strip (position: relative in widget.css).
    const next = nearestScroll(span.offsetTop, span.offsetHeight, strip.scrollTop, strip.clientHeight);
    if (next !== strip.scrollTop) strip.scrollTop = next;
  };
  const indexOf = (target: EventTarget | null): number => {
    const node = target instanceof Element ? target.closest("[data-token-index]") : null;
    return node ? Number(node.getAttribute("data-token-index")) : -1;
  };

  const describe = (index: number): string => {
    if (index < 0) return "hover a token; click pins it";
    const parts = [tokenLabel(index, texts[index])];
    const predictions = model.get("_predictions");
    const probs = data.predictionProbs(model);
    const row = predictions[index];
    if (row && row.length) {
      const k = row.length;
      parts.push(`next: ${row.map((t, j) => `“${t}” ${formatWeight(probs[index * k + j] ?? 0)}`).join(", ")}`);
    }
    return parts.join(" · ");
  };

  const updateReadout = () => {
    const index = hovered >= 0 ? hovered : pinned;
    readout.textContent = describe(index);
  };

  const setHovered = () => {
    const next = selection.hovered;
    if (next === hovered) return;
    spans[hovered]?.classList.remove("is-hovered");
    hovered = next;
    spans[hovered]?.classList.add("is-hovered");
    if (hovered >= 0 && !pointerInside) reveal(hovered);
    updateReadout();
  };

  // The pinned query's attention over the prompt, from the head the heatmap shows at full resolution.
  let tinted = false;
  const tint = () => {
    const map = data.attentionMap(model);
    const shown = selection.shownHead;
    const usable = map && pinned >= 0 && map.info.layer === shown.layer && map.info.head === shown.head;
    if (!usable) {
      if (tinted) for (const span of spans) span.style.backgroundColor = "";
      tinted = false;
      return;
    }
    const n = map.info.size;
    const seq = map.info.seq_len;
    const row = binOf(pinned, seq, n) * n;
    let max = 0;
    for (let c = 0; c < n; c++) max = Math.max(max, map.weights[row + c]);
    const accent = theme().accent;
    spans.forEach((span, j) => {
      const w = map.weights[row + binOf(j, seq, n)];
      const alpha = max > 0 ? Math.sqrt(w / max) * 0.75 : 0;
      span.style.backgroundColor = alpha > 0.02 ? cssColor(accent, Math.round(alpha * 100) / 100) : "";
    });
    tinted = true;
  };

  const setPinned = () => {
    spans[pinned]?.classList.remove("is-pinned");
    pinned = selection.token;
    const span = spans[pinned];
    if (span) {
      span.classList.add("is-pinned");
      if (!pointerInside) reveal(pinned);
    }
    updateReadout();
    tint();
  };

  const onOver = (event: MouseEvent) => {
    const index = indexOf(event.target);
    if (index >= 0) selection.hover(index);
  };
  const onEnter = () => {
    pointerInside = true;
  };
  const onLeave = () => {
    pointerInside = false;
    selection.hover(-1);
  };
  const onClick = (event: MouseEvent) => {
    const index = indexOf(event.target);
    if (index >= 0) selection.pin(index === selection.token ? -1 : index, "token-strip");
  };
  strip.addEventListener("mouseover", onOver);
  strip.addEventListener("mouseenter", onEnter);
  strip.addEventListener("mouseleave", onLeave);
  strip.addEventListener("click", onClick);

  selection.on(["hovered_token"], setHovered);
  selection.on(["token"], setPinned);
  selection.on(["_attention_map", "layer", "head"], tint);
  selection.onPreview(tint);
  setHovered();
  setPinned();
  updateReadout();

  return {
    root,
    repaint: tint,
    dispose() {
      strip.removeEventListener("mouseover", onOver);
      strip.removeEventListener("mouseenter", onEnter);
      strip.removeEventListener("mouseleave", onLeave);
      strip.removeEventListener("click", onClick);
    },
  };
}
