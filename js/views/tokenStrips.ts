// The token strips of an encoder-decoder run: the source's tokens and the decoder's (its start token, then
// the target's), each labelled. The strip of the shown kind's queries (the source for "encoder", the decoder
// for "decoder" and "cross") works as the single strip of other models does (tokenStrip.ts): hover
// highlights a token everywhere, click pins it. With "cross", hovering a decoder token (else the pinned one)
// tints the source tokens by what it reads through the shown head (that head's row), and hovering a source
// token tints the decoder tokens by how much each reads it (the head's column). Each tinted token carries its
// weight in `data-weight`. With "encoder" / "decoder" the other text's strip is shown muted.
import { cssColor, formatWeight, legendTicks, tintLut } from "../color";
import { crossColumn, crossRow, tintAlphas } from "../cross";
import * as data from "../data";
import { binOf, mapShape } from "../decode";
import { el, setLiveText } from "../dom";
import { tokenLabel } from "../layout";
import { createLegend } from "./legend";
import { tokenIndexOf, tokenSpans } from "./tokenStrip";
import type { View, ViewContext } from "./view";

/** Opacity of the tint of the most-read token; the others: √(w / max) of it. */
const TINT = 0.75;

interface Strip {
  row: HTMLElement;
  strip: HTMLElement;
  spans: HTMLSpanElement[];
  texts: string[];
}

function makeStrip(label: string, texts: string[], notes: Record<string, string>, testid: string, title: string): Strip {
  const row = el("div", "aw-strip-row");
  const strip = el("div", "aw-strip", undefined, { "data-testid": testid, "aria-label": label });
  const spans = tokenSpans(texts, notes);
  strip.append(...spans);
  row.append(el("span", "aw-strip-label", label, { title }), strip);
  return { row, strip, spans, texts };
}

export function createTokenStrips({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const kind = info.kind ?? "cross";
  const cross = kind === "cross";
  const root = el("section", "aw-panel aw-tokens aw-tokens-seq2seq", undefined, { "data-testid": "token-strip", "data-kind": kind });
  const header = el("div", "aw-panel-header");
  const readout = el("span", "aw-readout");
  header.append(el("h3", "aw-title", "Tokens"), readout);
  const target = info.target_given === false ? "decoder (model's output)" : "decoder (target)";
  const source = makeStrip("source", info.source_tokens ?? [], info.source_token_notes ?? {}, "source-strip", "the encoder's text");
  const decoder = makeStrip(target, info.decoder_tokens ?? [], info.decoder_token_notes ?? {}, "decoder-strip",
    "the decoder's tokens: its start token, then the target's (row i predicts target token i)");
  const legend = createLegend({ width: 220, testid: "token-tint-legend" });
  root.append(header, source.row, decoder.row, legend.root);

  // The strip whose tokens are the queries (`token`, `hovered_token` index it); with cross, the source's are
  // the keys; otherwise the other strip is muted.
  const queries = kind === "encoder" ? source : decoder;
  const other = queries === source ? decoder : source;
  other.row.classList.toggle("is-inactive", !cross);
  if (!cross) other.row.title = `switch the kind to ${kind === "encoder" ? "decoder or cross" : "encoder"} to explore these tokens`;

  /** The shown head's map when it has arrived (a previewed head has only its thumbnail: no tint). */
  const shownMap = () => {
    const map = data.attentionMap(model);
    const shown = selection.shownHead;
    return map && map.info.layer === shown.layer && map.info.head === shown.head ? map : null;
  };
  const headName = () => {
    const { layer, head } = selection.shownHead;
    return `layer ${layer} · head ${head}${shownMap()?.info.pooled ? ", max-pooled" : ""}`;
  };

  let tinted: Strip[] = [];
  const clearTint = () => {
    for (const s of tinted) {
      for (const span of s.spans) {
        span.style.backgroundColor = "";
        span.removeAttribute("data-weight");
      }
      s.strip.removeAttribute("data-tinted-by");
    }
    tinted = [];
  };
  const paintTint = (s: Strip, weights: Float32Array, by: string) => {
    const t = theme();
    const alphas = tintAlphas(weights, TINT);
    s.spans.forEach((span, j) => {
      span.style.backgroundColor = alphas[j] > 0.02 ? cssColor(t.accent, Math.round(alphas[j] * 100) / 100) : "";
      span.dataset.weight = String(weights[j] ?? 0);
    });
    s.strip.dataset.tintedBy = by;
    tinted.push(s);
  };

  /** What the strips are tinted by: [strip, weights, who reads, legend note] or null. */
  const tintSource = (): { strip: Strip; weights: Float32Array; by: string; note: string } | null => {
    const map = shownMap();
    if (!map) return null;
    if (cross && map.info.cols !== undefined) {
      const m = { weights: map.weights, ...mapShape(map.info), seqLen: map.info.seq_len, keyLen: map.info.key_len ?? source.texts.length };
      if (selection.hoveredKey >= 0) {
        const j = selection.hoveredKey;
        return { strip: decoder, weights: crossColumn(m, j), by: `source ${j}`, note: `tint: how much each decoder token reads source #${j} (${headName()}), square root` };
      }
      const i = selection.hovered >= 0 ? selection.hovered : selection.token;
      if (i < 0) return null;
      return { strip: source, weights: crossRow(m, i), by: `decoder ${i}`, note: `tint: what decoder token #${i} reads in the source (${headName()}), square root` };
    }
    // Self-attention: the pinned token's row over its own text, as the single strip does.
    const i = selection.token;
    if (i < 0 || map.info.cols !== undefined) return null;
    const n = map.info.size;
    const seq = map.info.seq_len;
    const row = binOf(i, seq, n) * n;
    const weights = Float32Array.from(queries.texts, (_, j) => map.weights[row + binOf(j, seq, n)]);
    return { strip: queries, weights, by: `${kind} ${i}`, note: `tint: attention of the pinned token #${i} (${headName()}), square root` };
  };

  const tint = () => {
    clearTint();
    const found = tintSource();
    if (!found) {
      legend.root.hidden = !cross && selection.token < 0;
      legend.blank();
      return null;
    }
    paintTint(found.strip, found.weights, found.by);
    let max = 0;
    for (const w of found.weights) if (w > max) max = w;
    const t = theme();
    legend.root.hidden = false;
    legend.paint(t, { lut: tintLut(t.accent, t.bg, TINT), ticks: legendTicks("gamma", max), note: found.note });
    return found;
  };

  const describe = (found: ReturnType<typeof tintSource>): string => {
    if (cross && selection.hoveredKey >= 0) {
      const j = selection.hoveredKey;
      return `source ${tokenLabel(j, source.texts[j] ?? "")}${found ? ` · read most by decoder ${strongest(found.weights, decoder.texts)}` : ""}`;
    }
    const i = selection.hovered >= 0 ? selection.hovered : selection.token;
    if (i < 0) return cross ? "hover a decoder token: what it reads in the source; a source token: who reads it" : "hover a token; click pins it";
    const name = queries === source ? "source" : "decoder";
    const reads = cross && found ? ` · reads most source ${strongest(found.weights, source.texts)}` : "";
    return `${name} ${tokenLabel(i, queries.texts[i] ?? "")}${reads}`;
  };

  const update = () => {
    for (const s of [source, decoder]) for (const span of s.spans) span.classList.remove("is-hovered", "is-pinned");
    queries.spans[selection.hovered]?.classList.add("is-hovered");
    queries.spans[selection.token]?.classList.add("is-pinned");
    if (cross) source.spans[selection.hoveredKey]?.classList.add("is-hovered");
    setLiveText(readout, describe(tint()));
  };

  lifetime.listen(queries.strip, "mouseover", (event) => {
    const index = tokenIndexOf(event.target);
    if (index >= 0) selection.hover(index);
  });
  lifetime.listen(queries.strip, "mouseleave", () => selection.hover(-1));
  lifetime.listen(queries.strip, "click", (event) => {
    const index = tokenIndexOf(event.target);
    if (index >= 0) selection.pin(index === selection.token ? -1 : index, "token-strip");
  });
  if (cross) {
    lifetime.listen(source.strip, "mouseover", (event) => {
      const index = tokenIndexOf(event.target);
      if (index >= 0) selection.hoverKey(index);
    });
    lifetime.listen(source.strip, "mouseleave", () => selection.hoverKey(-1));
  }

  selection.on(["hovered_token", "token", "_attention_map", "layer", "head"], update);
  selection.onPreview(update);
  selection.onKeyHover(update);
  update();

  return { name: "token-strip", root, repaint: update };
}

/** `#3 “cat” 0.412` for the largest weight. */
function strongest(weights: Float32Array, texts: string[]): string {
  let best = 0;
  for (let j = 1; j < weights.length; j++) if (weights[j] > weights[best]) best = j;
  return `${tokenLabel(best, texts[best] ?? "")} ${formatWeight(weights[best] ?? 0)}`;
}
