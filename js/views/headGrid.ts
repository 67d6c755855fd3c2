// Every layer × head as a thumbnail: rows are layers (0 at the top), columns heads (0 at the left).
// The element with data-testid="head-grid" is exactly the cells; labels sit outside it.
import { cssColor, formatWeight } from "../color";
import * as data from "../data";
import { Tooltip, devicePixels, el, fitCanvas, layerHeadFrame } from "../dom";
import { cellAt, gridCellSize } from "../layout";
import { colorize, levelsAt, putPixels } from "../raster";
import { chosenScore, scoreColour } from "../scores";
import type { View, ViewContext } from "./view";

export function createHeadGrid({ model, selection, theme }: ViewContext): View {
  const info = data.info(model);
  const layers = info.num_layers;
  const heads = info.num_heads;
  const side = info.thumbnail_size;
  const cell = gridCellSize(layers, heads);

  const root = el("section", "aw-panel aw-grid-panel");
  const header = el("div", "aw-panel-header");
  header.append(el("h3", "aw-title", "Heads"), el("span", "aw-hint", "hover: preview · click: select"));
  const { frame, box, base, overlay } = layerHeadFrame(layers, heads, cell, "head-grid", "aw-layer aw-smooth");
  root.append(header, frame);
  const tooltip = new Tooltip(frame);

  const paintBase = () => {
    const thumbs = data.thumbnails(model);
    if (!thumbs.length) return;
    const t = theme();
    const dCell = devicePixels(cell);
    // One device pixel of background between cells once cells are big enough to spare it.
    const gap = dCell >= 12 ? 1 : 0;
    const inner = dCell - gap;
    const width = heads * dCell;
    const pixels = new Uint32Array(width * layers * dCell).fill(t.masked);
    const scale = model.get("color_scale");
    const tile = new Uint32Array(inner * inner);
    // With a head-role score chosen (head-scores view), each cell is one colour: its score.
    const chosen = chosenScore(model);
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < heads; h++) {
        if (chosen) tile.fill(scoreColour(chosen, l * heads + h, t.sequential, t.masked));
        else colorize(levelsAt(thumbs[l * heads + h], side, inner, scale, info.is_causal), t.sequential, t.masked, tile);
        const x0 = h * dCell;
        for (let r = 0; r < inner; r++) {
          pixels.set(tile.subarray(r * inner, (r + 1) * inner), (l * dCell + r) * width + x0);
        }
      }
    }
    putPixels(base, pixels, width, layers * dCell);
  };

  const paintOverlay = () => {
    const ctx = fitCanvas(overlay, heads * cell, layers * cell);
    if (!ctx) return;
    const t = theme();
    ctx.clearRect(0, 0, heads * cell, layers * cell);
    const seq = info.seq_len;
    const lines = (index: number, color: string) => {
      if (index < 0) return;
      const offset = ((index + 0.5) / seq) * cell;
      ctx.beginPath();
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          const x = h * cell;
          const y = l * cell;
          ctx.moveTo(x, y + offset);
          ctx.lineTo(x + cell, y + offset);
          ctx.moveTo(x + offset, y);
          ctx.lineTo(x + offset, y + cell);
        }
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = 1;
      ctx.stroke();
    };
    lines(selection.hovered, cssColor(t.fg, 0.35));
    lines(selection.token, cssColor(t.pin, 0.9));
    const outline = (layer: number, head: number, color: string, width: number) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.strokeRect(head * cell + width / 2, layer * cell + width / 2, cell - width, cell - width);
    };
    if (selection.isPreview) outline(selection.shownHead.layer, selection.shownHead.head, cssColor(t.fg, 0.8), 1);
    outline(selection.layer, selection.head, cssColor(t.accent), 2);
  };

  const stats = () => data.stats(model);
  const onMove = (event: MouseEvent) => {
    const rect = box.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const hit = cellAt(x, y, rect.width, rect.height, layers, heads);
    if (!hit) return onLeave();
    selection.preview({ layer: hit.row, head: hit.col });
    const values = stats();
    const at = (s: number) => values[(s * layers + hit.row) * heads + hit.col];
    const lines = [`layer ${hit.row} · head ${hit.col}`];
    info.stat_names.forEach((name, s) => lines.push(`${name}: ${formatWeight(at(s))}`));
    const chosen = chosenScore(model);
    if (chosen) lines.push(`${chosen.name} score: ${formatWeight(chosen.values[hit.row * heads + hit.col])}`);
    const frameRect = frame.getBoundingClientRect();
    tooltip.show(lines, event.clientX - frameRect.left, event.clientY - frameRect.top, frameRect.width);
  };
  const onLeave = () => {
    selection.preview(null);
    tooltip.hide();
  };
  const onClick = (event: MouseEvent) => {
    const rect = box.getBoundingClientRect();
    const hit = cellAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height, layers, heads);
    if (hit) selection.selectHead(hit.row, hit.col, "head-grid");
  };
  box.addEventListener("mousemove", onMove);
  box.addEventListener("mouseleave", onLeave);
  box.addEventListener("click", onClick);

  selection.on(["_thumbnails", "color_scale"], paintBase);
  selection.on(["head_score", "_head_scores"], paintBase);
  selection.on(["layer", "head", "token", "hovered_token"], paintOverlay);
  selection.onPreview(paintOverlay);
  const repaint = () => {
    paintBase();
    paintOverlay();
  };

  return {
    root,
    repaint,
    dispose() {
      box.removeEventListener("mousemove", onMove);
      box.removeEventListener("mouseleave", onLeave);
      box.removeEventListener("click", onClick);
    },
  };
}
