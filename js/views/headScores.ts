// Head roles (data-testid="head-scores"): choose a head-role score (`head_score`), the head grid is coloured
// by it, and the top heads are listed in ranking order (entropy lowest first: most focused). Hover an item:
// the heatmap previews that head; click: select it.
import { cssColor, formatWeight, lutIndex, unpackRGBA } from "../color";
import { canvas, el, fitCanvas } from "../dom";
import { NO_SCORE, SCORE_TITLES, chosenScore, rankHeads, scoreIntensity } from "../scores";
import type { View, ViewContext } from "./view";

/** How many heads the list shows. */
export const LISTED_HEADS = 12;
const BAR_WIDTH = 120;
const BAR_HEIGHT = 8;

export function createHeadScores({ model, selection, theme }: ViewContext): View {
  const info = model.get("_info");
  const heads = info.num_heads;
  const names = info.score_names ?? [];

  const root = el("section", "aw-panel aw-roles-panel", undefined, { "data-testid": "head-scores" });
  const header = el("div", "aw-panel-header");
  const scoreSelect = el("select", "aw-select", undefined, { "aria-label": "head-role score", title: "head-role score" });
  scoreSelect.append(el("option", undefined, "none (thumbnails)", { value: NO_SCORE }));
  for (const name of names) scoreSelect.append(el("option", undefined, SCORE_TITLES[name] ?? name, { value: name }));
  const scoreLabel = el("label", "aw-control", "colour grid by ");
  scoreLabel.append(scoreSelect);
  const description = el("span", "aw-hint");
  header.append(el("h3", "aw-title", "Head roles"), description, scoreLabel);

  const legend = el("div", "aw-roles-legend");
  const legendLow = el("span", "aw-roles-legend-end");
  const legendBar = canvas("aw-roles-legend-bar");
  legendBar.style.width = `${BAR_WIDTH}px`;
  legendBar.style.height = `${BAR_HEIGHT}px`;
  const legendHigh = el("span", "aw-roles-legend-end");
  const legendNote = el("span", "aw-hint");
  legend.append(el("span", "aw-hint", "grid colour"), legendLow, legendBar, legendHigh, legendNote);
  const list = el("ol", "aw-roles-list");
  const readout = el("div", "aw-readout aw-roles-readout");
  root.append(header, legend, list, readout);

  const items: HTMLLIElement[] = [];
  const swatch = (intensity: number) => {
    const [r, g, b] = unpackRGBA(theme().sequential[lutIndex(intensity)]);
    return cssColor([r, g, b]);
  };

  const paintLegend = (range: [number, number], ascending: boolean) => {
    const ctx = fitCanvas(legendBar, BAR_WIDTH, BAR_HEIGHT);
    if (!ctx) return;
    for (let i = 0; i < BAR_WIDTH; i++) {
      ctx.fillStyle = swatch(i / (BAR_WIDTH - 1));
      ctx.fillRect(i, 0, 1.5, BAR_HEIGHT);
    }
    // Left is dark, right bright = the top of the ranking (for entropy: its lowest value).
    legendLow.textContent = formatWeight(ascending ? range[1] : range[0]);
    legendHigh.textContent = formatWeight(ascending ? range[0] : range[1]);
    legendNote.textContent = ascending ? "bright: low entropy (most focused)" : "";
  };

  const fill = () => {
    const chosen = chosenScore(model);
    scoreSelect.value = chosen ? chosen.name : NO_SCORE;
    list.replaceChildren();
    items.length = 0;
    legend.hidden = !chosen;
    if (!chosen) {
      description.textContent = "choose a score: the grid is coloured by it and the top heads are listed";
      readout.textContent = "";
      return;
    }
    description.textContent = chosen.label;
    paintLegend(chosen.range, chosen.ascending);
    const ranked = rankHeads(chosen.values, heads, chosen.ascending, LISTED_HEADS).filter((e) => !Number.isNaN(e.value));
    if (!ranked.length) {
      list.append(el("li", "aw-hint", "undefined for this prompt (no token occurs twice, or a single token)"));
    }
    ranked.forEach((entry, rank) => {
      const item = el("li", "aw-roles-item", undefined, {
        "data-layer": String(entry.layer), "data-head": String(entry.head), "data-rank": String(rank),
      });
      const button = el("button", "aw-roles-button", undefined, {
        type: "button", title: `select layer ${entry.layer}, head ${entry.head}`,
      });
      const dot = el("span", "aw-roles-swatch");
      dot.style.background = swatch(scoreIntensity(entry.value, chosen.range, chosen.ascending));
      button.append(
        el("span", "aw-roles-rank", `${rank + 1}.`),
        dot,
        el("span", "aw-roles-name", `L${entry.layer} · H${entry.head}`),
        el("span", "aw-roles-value", formatWeight(entry.value)),
      );
      item.append(button);
      list.append(item);
      items.push(item);
    });
    markSelected();
  };

  const markSelected = () => {
    for (const item of items) {
      const on = Number(item.dataset.layer) === selection.layer && Number(item.dataset.head) === selection.head;
      item.classList.toggle("is-selected", on);
    }
    const chosen = chosenScore(model);
    if (!chosen) return;
    const all = rankHeads(chosen.values, heads, chosen.ascending);
    const rank = all.findIndex((e) => e.layer === selection.layer && e.head === selection.head);
    const value = chosen.values[selection.layer * heads + selection.head];
    const shown = Number.isNaN(value) ? "undefined" : `${formatWeight(value)} · rank ${rank + 1} of ${all.length}`;
    readout.textContent = `selected L${selection.layer} · H${selection.head}: ${shown}`;
  };

  const itemOf = (event: Event) => (event.target as HTMLElement | null)?.closest<HTMLLIElement>(".aw-roles-item");
  const onClick = (event: MouseEvent) => {
    const item = itemOf(event);
    if (item) selection.selectHead(Number(item.dataset.layer), Number(item.dataset.head), "head-scores");
  };
  const onOver = (event: MouseEvent) => {
    const item = itemOf(event);
    selection.preview(item ? { layer: Number(item.dataset.layer), head: Number(item.dataset.head) } : null);
  };
  const onLeave = () => selection.preview(null);
  const onChange = () => selection.setTrait("head_score", scoreSelect.value);
  list.addEventListener("click", onClick);
  list.addEventListener("mouseover", onOver);
  list.addEventListener("mouseleave", onLeave);
  scoreSelect.addEventListener("change", onChange);

  selection.on(["head_score", "_head_scores"], fill);
  selection.on(["layer", "head"], markSelected);

  return {
    root,
    repaint: fill,
    dispose() {
      list.removeEventListener("click", onClick);
      list.removeEventListener("mouseover", onOver);
      list.removeEventListener("mouseleave", onLeave);
      scoreSelect.removeEventListener("change", onChange);
    },
  };
}
