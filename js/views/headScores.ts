// Head roles (data-testid="head-scores"): choose a per-head score (`head_score`); the head grid is coloured
// by it (its legend says how) and the top heads are listed in ranking order (entropy lowest first: most
// focused), each with its value. Hover an item: the heatmap previews that head; click: select it. Names
// and labels of the scores come from Python (`_info.scores`).
import { formatWeight, lutIndex, packedCss } from "../color";
import * as data from "../data";
import { el } from "../dom";
import { formatSigned } from "../effects";
import { rankHeads } from "../ranking";
import { ABLATION, ATTRIBUTION, NO_SCORE, chosenScore, colourReversed, scoreIntensity, scoreLut } from "../scores";
import { createSelectingHeadList } from "./headList";
import type { View, ViewContext } from "./view";

/** How many heads the list shows. */
export const LISTED_HEADS = 12;

export function createHeadScores({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const heads = info.num_heads;

  const root = el("section", "aw-panel aw-roles-panel", undefined, { "data-testid": "head-scores" });
  const header = el("div", "aw-panel-header");
  const scoreSelect = el("select", "aw-select", undefined, { "aria-label": "per-head score", title: "per-head score" });
  scoreSelect.append(el("option", undefined, "none (thumbnails)", { value: NO_SCORE }));
  for (const s of info.scores ?? []) {
    scoreSelect.append(el("option", undefined, s.ascending ? `${s.title} (low first)` : s.title, { value: s.name, title: s.label }));
  }
  // Each head's logit attribution to the effects view's target (a page saved before it has no `_effects`),
  // and its effect when ablated alone (computed by the Ablate tab's button).
  if (model.get("_effects") !== undefined) {
    scoreSelect.append(el("option", undefined, "logit attribution", {
      value: ATTRIBUTION, title: "each head's direct effect on the target's logit (the Effects tab)",
    }));
  }
  if (model.get("_head_effects") !== undefined) {
    scoreSelect.append(el("option", undefined, "Δ log p ablated (low first)", {
      value: ABLATION, title: "the change in the target's log-probability when the head alone is ablated (the Ablate tab)",
    }));
  }
  const scoreLabel = el("label", "aw-control", "colour grid by ");
  scoreLabel.append(scoreSelect);
  const description = el("span", "aw-hint");
  header.append(el("h3", "aw-title", "Head roles"), description, scoreLabel);
  const list = createSelectingHeadList(lifetime, selection, "head-scores", "aw-roles-list");
  const readout = el("div", "aw-readout aw-roles-readout");
  root.append(header, list.root, readout);
  lifetime.listen(scoreSelect, "change", () => selection.setTrait("head_score", scoreSelect.value));

  const fill = () => {
    const chosen = chosenScore(model);
    scoreSelect.value = chosen ? chosen.name : NO_SCORE;
    if (!chosen) {
      description.textContent = "choose a score: the grid is coloured by it and the top heads are listed";
      list.fill([]);
      readout.textContent = "";
      return;
    }
    description.textContent = chosen.label;
    const lut = scoreLut(chosen, theme());
    const ranked = rankHeads(chosen.values, heads, chosen.ascending, LISTED_HEADS).filter((e) => !Number.isNaN(e.value));
    const entries = ranked.map((entry) => {
      const mark = el("span", "aw-roles-swatch");
      mark.style.background = packedCss(lut[lutIndex(scoreIntensity(entry.value, chosen.range, colourReversed(chosen)))]);
      const value = chosen.diverging ? formatSigned(entry.value) : formatWeight(entry.value);
      return { layer: entry.layer, head: entry.head, mark, parts: [el("span", "aw-heads-value", value)] };
    });
    const empty = chosen.name === ABLATION
      ? "not computed yet (the Ablate tab's “head effects” button)"
      : chosen.diverging ? "no attribution (see the Effects tab)" : "undefined for this prompt (no token occurs twice, or a single token)";
    list.fill(entries, empty);
    markSelected();
  };

  const markSelected = () => {
    list.markSelected(selection);
    const chosen = chosenScore(model);
    if (!chosen) return;
    const all = rankHeads(chosen.values, heads, chosen.ascending);
    const rank = all.findIndex((e) => e.layer === selection.layer && e.head === selection.head);
    const value = chosen.values[selection.layer * heads + selection.head];
    const text = chosen.diverging ? formatSigned(value, 4) : formatWeight(value);
    const shown = Number.isNaN(value) ? "undefined" : `${text} · rank ${rank + 1} of ${all.length}`;
    readout.textContent = `selected L${selection.layer} · H${selection.head}: ${shown}`;
  };

  selection.on(["head_score", "_head_scores"], fill);
  selection.on(["_effects"], () => {
    if (model.get("head_score") === ATTRIBUTION) fill();
  });
  selection.on(["_head_effects"], () => {
    if (model.get("head_score") === ABLATION) fill();
  });
  selection.on(["layer", "head"], markSelected);

  return { name: "head-scores", root, repaint: fill };
}
