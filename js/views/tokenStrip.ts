// The prompt's tokens as text. Hover highlights a token everywhere, click pins it (the `token` trait).
// With a token pinned, each token is tinted by how much the pinned one attends to it (the shown head), and
// a legend says how much each tint is.
import { cssColor, formatWeight, legendTicks, tintLut } from "../color";
import * as data from "../data";
import { binOf } from "../decode";
import { el, setLiveText } from "../dom";
import { nearestScroll, tokenLabel } from "../layout";
import { createLegend } from "./legend";
import type { View, ViewContext } from "./view";

/** Opacity of the tint of the token the pinned one attends to most; the others: √(w / max) of it. */
const TINT = 0.75;

/** One span per token, its text as text (never markup); a token that holds part of a character (its bytes,
 * ⟨f0 9f⟩) is drawn apart, and says which on hover (`notes`). Shared with the two strips of tokenStrips.ts. */
export function tokenSpans(texts: string[], notes: Record<string, string>): HTMLSpanElement[] {
  return texts.map((text, index) => {
    const note = notes[String(index)];
    const attrs: Record<string, string> = { "data-token-index": String(index) };
    if (note) attrs.title = note;
    return el("span", note ? "aw-token is-piece" : "aw-token", text, attrs);
  });
}

/** The index of the token span under an event's target, -1 for none. */
export function tokenIndexOf(target: EventTarget | null): number {
  const node = target instanceof Element ? target.closest("[data-token-index]") : null;
  return node ? Number(node.getAttribute("data-token-index")) : -1;
}

export function createTokenStrip({ model, selection, theme, lifetime }: ViewContext): View {
  const root = el("section", "aw-panel aw-tokens");
  const header = el("div", "aw-panel-header");
  const title = el("h3", "aw-title", "Tokens");
  const readout = el("span", "aw-readout");
  header.append(title, readout);
  const strip = el("div", "aw-strip", undefined, { "data-testid": "token-strip" });
  const legend = createLegend({ width: 220, testid: "token-tint-legend" });
  root.append(header, strip, legend.root);

  const texts = data.tokens(model);
  const notes = data.info(model).token_notes ?? {};
  const spans = tokenSpans(texts, notes);
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

  // The pinned query's attention row over the tokens, while the strip is tinted by it.
  let tintRow: { head: string; weight(j: number): number; max: number } | null = null;

  const describe = (index: number): string => {
    if (index < 0) return "hover a token; click pins it";
    const parts = [tokenLabel(index, texts[index])];
    const note = notes[String(index)];
    if (note) parts.push(note);
    const { tokens: next, probs, k } = data.predictions(model);
    const row = next[index];
    if (row && row.length) {
      parts.push(`next: ${row.map((t, j) => `“${t}” ${formatWeight(probs[index * k + j] ?? 0)}`).join(", ")}`);
    }
    if (tintRow && index !== pinned) parts.push(`#${pinned} attends ${formatWeight(tintRow.weight(index))} (${tintRow.head})`);
    return parts.join(" · ");
  };

  const updateReadout = () => {
    const index = hovered >= 0 ? hovered : pinned;
    setLiveText(readout, describe(index));
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
  const tint = () => {
    const map = data.attentionMap(model);
    const shown = selection.shownHead;
    const usable = map && pinned >= 0 && map.info.layer === shown.layer && map.info.head === shown.head;
    if (!usable) {
      if (tintRow) for (const span of spans) span.style.backgroundColor = "";
      tintRow = null;
      // Pinned, but another head previewed: blank, keeping its room (nothing may move under the pointer).
      legend.root.hidden = pinned < 0;
      legend.blank();
      return;
    }
    const n = map.info.size;
    const seq = map.info.seq_len;
    const row = binOf(pinned, seq, n) * n;
    let max = 0;
    for (let c = 0; c < n; c++) max = Math.max(max, map.weights[row + c]);
    const weight = (j: number) => map.weights[row + binOf(j, seq, n)];
    const t = theme();
    spans.forEach((span, j) => {
      const alpha = max > 0 ? Math.sqrt(weight(j) / max) * TINT : 0;
      span.style.backgroundColor = alpha > 0.02 ? cssColor(t.accent, Math.round(alpha * 100) / 100) : "";
    });
    const head = `layer ${shown.layer} · head ${shown.head}${map.info.pooled ? ", max-pooled" : ""}`;
    tintRow = { head, weight, max };
    legend.root.hidden = false;
    legend.paint(t, {
      lut: tintLut(t.accent, t.bg, TINT),
      ticks: legendTicks("gamma", max),
      note: `tint: attention of the pinned token #${pinned} (${head}), square root`,
    });
  };

  const setPinned = () => {
    spans[pinned]?.classList.remove("is-pinned");
    pinned = selection.token;
    const span = spans[pinned];
    if (span) {
      span.classList.add("is-pinned");
      if (!pointerInside) reveal(pinned);
    }
    tint();
    updateReadout();
  };

  lifetime.listen(strip, "mouseover", (event) => {
    const index = tokenIndexOf(event.target);
    if (index >= 0) selection.hover(index);
  });
  lifetime.listen(strip, "mouseenter", () => {
    pointerInside = true;
  });
  lifetime.listen(strip, "mouseleave", () => {
    pointerInside = false;
    selection.hover(-1);
  });
  lifetime.listen(strip, "click", (event) => {
    const index = tokenIndexOf(event.target);
    if (index >= 0) selection.pin(index === selection.token ? -1 : index, "token-strip");
  });

  const repaint = () => {
    tint();
    updateReadout();
  };
  selection.on(["hovered_token"], setHovered);
  selection.on(["token"], setPinned);
  selection.on(["_attention_map", "layer", "head"], repaint);
  selection.onPreview(repaint);
  setHovered();
  setPinned();

  return { name: "token-strip", root, repaint };
}
