// Every layer × head as a thumbnail: rows are layers (0 at the top), columns heads (0 at the left); or, with
// a per-head score chosen (`head_score`), each cell one colour: that head's score. The element with
// data-testid="head-grid" is exactly the cells; labels and the legend sit outside it.
import { hasHead, toggleHead } from "../ablation";
import { cssColor, formatWeight, legendTicks, packRGBA, rangeTicks } from "../color";
import { fitRect, rectLevels } from "../cross";
import * as data from "../data";
import { Tooltip, el } from "../dom";
import { formatSigned } from "../effects";
import { colorize, levelsAt } from "../raster";
import { hasKernel } from "../kernel";
import { ABLATION, chosenScore, scoreColour } from "../scores";
import { fileStem } from "../snapshot";
import { createLayerHeadGrid } from "./layerHeadGrid";
import { createKindSwitch } from "./kindSwitch";
import { createLegend } from "./legend";
import { createSaveButtons } from "./save";
import type { View, ViewContext } from "./view";

export function createHeadGrid({ model, selection, theme, lifetime }: ViewContext): View {
  const info = data.info(model);
  const layers = info.num_layers;
  const heads = info.num_heads;
  const side = info.thumbnail_size;
  // Cross-attention thumbnails are rows (decoder tokens) × columns (source tokens), drawn with their aspect.
  const shape = data.thumbnailShape(info);
  const rect = data.isCross(info);

  const root = el("section", "aw-panel aw-grid-panel");
  const header = el("div", "aw-panel-header");
  // An encoder-decoder run has no Ablate tab: no shift-click.
  const hint = info.kinds?.length ? "hover: preview · click: select" : "hover: preview · click: select · shift-click: ablate";
  header.append(el("h3", "aw-title", "Heads"), el("span", "aw-hint", hint));
  const grid = createLayerHeadGrid(layers, heads, "head-grid");
  // As wide as the grid, its note wrapping below the bar: the panel keeps the grid's width.
  const legendWidth = Math.max(160, heads * grid.cell + 24);
  const legend = createLegend({ width: legendWidth, testid: "head-grid-legend" });
  legend.root.style.maxWidth = `${legendWidth}px`;
  const kinds = createKindSwitch({ model, lifetime });
  root.append(header, ...(kinds ? [kinds] : []), grid.frame, legend.root);
  const tooltip = new Tooltip(grid.frame);
  const stem = () => fileStem(["heads", chosenScore(model)?.name ?? model.get("color_scale")]);
  header.append(createSaveButtons(lifetime, { name: "head-grid", root, repaint: () => repaint(), theme, fileStem: stem }));

  /** What the grid's crosses mean, when it has any. */
  const crossNote = () => ((model.get("ablated") ?? []).length ? " · ✕: ablated (the Ablate tab)" : "");

  const paintBase = () => {
    const thumbs = data.thumbnails(model);
    if (!thumbs.length) return;
    const t = theme();
    const scale = model.get("color_scale");
    const chosen = chosenScore(model);
    if (chosen?.diverging) {
      grid.paint(t.masked, (l, h, tile) => tile.fill(scoreColour(chosen, l * heads + h, t.diverging, t.masked)));
      const [lo, hi] = chosen.range;
      legend.paint(t, {
        lut: t.diverging,
        ticks: rangeTicks(lo, hi),
        note: `${chosen.label}; grey: ${chosen.name === ABLATION ? "not computed" : "none"}${crossNote()}`,
      });
    } else if (chosen) {
      grid.paint(t.masked, (l, h, tile) => tile.fill(scoreColour(chosen, l * heads + h, t.sequential, t.masked)));
      // Left dark, right bright = the top of the ranking (for an ascending score, its lowest value).
      const [lo, hi] = chosen.range;
      legend.paint(t, {
        lut: t.sequential,
        ticks: chosen.ascending ? rangeTicks(hi, lo) : rangeTicks(lo, hi),
        note: `${chosen.title}${chosen.ascending ? ", bright: lowest" : ""}${chosen.unit_interval ? "" : " (the range of this prompt)"}; grey: undefined${crossNote()}`,
      });
    } else if (rect) {
      const background = packRGBA(t.bg);
      grid.paint(t.masked, (l, h, tile, inner) => {
        const r = fitRect(shape.rows, shape.cols, inner);
        const pixels = colorize(rectLevels(thumbs[l * heads + h], shape.rows, shape.cols, r.h, r.w, scale), t.sequential, t.masked);
        tile.fill(background);
        for (let y = 0; y < r.h; y++) tile.set(pixels.subarray(y * r.w, (y + 1) * r.w), (r.y + y) * inner + r.x);
      });
      legend.paint(t, {
        lut: t.sequential,
        ticks: legendTicks(scale, 1),
        note: `each head's map (${shape.rows} decoder × ${shape.cols} source tokens) as a fraction of its largest weight, ${scale} scale${crossNote()}`,
      });
    } else {
      grid.paint(t.masked, (l, h, tile, inner) =>
        colorize(levelsAt(thumbs[l * heads + h], side, inner, scale, info.is_causal), t.sequential, t.masked, tile),
      );
      legend.paint(t, {
        lut: t.sequential,
        ticks: legendTicks(scale, 1),
        note: `each head's map (${side}² thumbnail) as a fraction of its largest weight, ${scale} scale${crossNote()}`,
      });
    }
  };

  const paintOverlay = () => {
    const ctx = grid.overlay();
    if (!ctx) return;
    const t = theme();
    const { cell } = grid;
    const seq = info.seq_len;
    // The hovered and pinned tokens as a row and a column in every thumbnail. A cross-attention map's rows
    // are the decoder's tokens and its columns the source's: there a decoder token marks a row, and the
    // source token hovered in the source strip a column.
    const box = rect ? fitRect(shape.rows, shape.cols, 1000) : { x: 0, y: 0, w: 1000, h: 1000 };
    const lines = (index: number, color: string) => {
      if (index < 0) return;
      const offset = ((index + 0.5) / seq) * cell;
      const rowAt = ((box.y + ((index + 0.5) / seq) * box.h) / 1000) * cell;
      const [left, width] = [(box.x / 1000) * cell, (box.w / 1000) * cell];
      ctx.beginPath();
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          const x = h * cell;
          const y = l * cell;
          ctx.moveTo(x + left, y + rowAt);
          ctx.lineTo(x + left + width, y + rowAt);
          if (rect) continue;
          ctx.moveTo(x + offset, y);
          ctx.lineTo(x + offset, y + cell);
        }
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = 1;
      ctx.stroke();
    };
    const sourceColumn = (index: number, color: string) => {
      const keyLen = info.key_len ?? 0;
      if (!rect || index < 0 || index >= keyLen) return;
      const colAt = ((box.x + ((index + 0.5) / keyLen) * box.w) / 1000) * cell;
      const [top, height] = [(box.y / 1000) * cell, (box.h / 1000) * cell];
      ctx.beginPath();
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          ctx.moveTo(h * cell + colAt, l * cell + top);
          ctx.lineTo(h * cell + colAt, l * cell + top + height);
        }
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = 1;
      ctx.stroke();
    };
    if (!chosenScore(model)) {
      lines(selection.hovered, cssColor(t.fg, 0.35));
      lines(selection.token, cssColor(t.pin, 0.9));
      sourceColumn(selection.hoveredKey, cssColor(t.fg, 0.35));
    }
    // Ablated heads (the Ablate tab's set): crossed out.
    const ablated = model.get("ablated") ?? [];
    if (ablated.length) {
      const { cell: size } = grid;
      const inset = Math.max(2, Math.round(size * 0.22));
      ctx.beginPath();
      for (const [l, h] of ablated) {
        const x = h * size;
        const y = l * size;
        ctx.moveTo(x + inset, y + inset);
        ctx.lineTo(x + size - inset, y + size - inset);
        ctx.moveTo(x + size - inset, y + inset);
        ctx.lineTo(x + inset, y + size - inset);
      }
      ctx.lineCap = "round";
      ctx.strokeStyle = cssColor(t.bg, 0.9);
      ctx.lineWidth = 3.5;
      ctx.stroke();
      ctx.strokeStyle = cssColor(t.fg);
      ctx.lineWidth = 1.5;
      ctx.stroke();
      ctx.lineCap = "butt";
    }
    if (selection.isPreview) grid.outline(ctx, selection.shownHead, cssColor(t.fg, 0.8), 1);
    grid.outline(ctx, selection, cssColor(t.accent), 2);
  };

  const onLeave = () => {
    selection.preview(null);
    tooltip.hide();
  };
  lifetime.listen(grid.box, "mousemove", (event) => {
    const hit = grid.headAt(event);
    if (!hit) return onLeave();
    selection.preview(hit);
    const index = hit.layer * heads + hit.head;
    const lines = [`layer ${hit.layer} · head ${hit.head}`];
    const chosen = chosenScore(model);
    // The chosen score first, then the layer statistics: exact values of the numbers the views colour.
    if (chosen) {
      const v = chosen.values[index];
      const shown = Number.isNaN(v) ? "undefined" : chosen.diverging ? formatSigned(v, 4) : formatWeight(v);
      lines.push(`${chosen.title}: ${shown}`);
    }
    for (const name of info.layer_stats.filter((n) => n !== chosen?.name)) {
      const found = data.score(model, name);
      const v = found?.values[index];
      if (found && v !== undefined) lines.push(`${found.title}: ${Number.isNaN(v) ? "undefined" : formatWeight(v)}`);
    }
    if (hasKernel(model, grid.frame) && !info.kinds?.length) {
      lines.push(hasHead(model.get("ablated"), hit.layer, hit.head) ? "ablated · shift-click: restore" : "shift-click: ablate");
    } else if (hasHead(model.get("ablated"), hit.layer, hit.head)) {
      lines.push("ablated");
    }
    tooltip.showAt(lines, event);
  });
  lifetime.listen(grid.box, "mouseleave", onLeave);
  lifetime.listen(grid.box, "click", (event) => {
    const hit = grid.headAt(event);
    if (!hit) return;
    // Shift-click adds the head to the Ablate tab's set, or takes it out (Python recomputes the predictions).
    if (event.shiftKey && hasKernel(model, grid.frame) && !info.kinds?.length) {
      selection.setTrait("ablated", toggleHead(model.get("ablated"), hit.layer, hit.head));
    } else {
      selection.selectHead(hit.layer, hit.head, "head-grid");
    }
  });

  const repaint = () => {
    paintBase();
    paintOverlay();
  };
  selection.on(["_thumbnails", "color_scale", "head_score", "_head_scores"], repaint);
  selection.on(["_effects"], () => {
    if (model.get("head_score") === "attribution") repaint();
  });
  selection.on(["_head_effects"], () => {
    if (model.get("head_score") === ABLATION) repaint();
  });
  selection.on(["layer", "head", "token", "hovered_token"], paintOverlay);
  selection.onKeyHover(paintOverlay);
  selection.on(["ablated"], repaint);
  selection.onPreview(paintOverlay);

  return { name: "head-grid", root, repaint };
}
