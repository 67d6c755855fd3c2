// What every layers × heads grid shares (the head grid, the compare head-diff grid): head numbers above,
// layer numbers on the left, a box (data-testid) that is exactly its cells with a base and an overlay
// canvas, cells painted tile by tile, outlines for the selected and previewed heads, and which head is
// under the pointer.
import { devicePixels, el, fitCanvas, layeredBox, pointIn } from "../dom";
import { cellAt, gridCellSize, labelStep } from "../layout";
import { putPixels } from "../raster";
import type { HeadRef } from "../selection";

export interface LayerHeadGrid {
  frame: HTMLDivElement;
  box: HTMLDivElement;
  /** CSS pixels per cell. */
  cell: number;
  /** The head under the pointer, or null outside the cells. */
  headAt(event: MouseEvent): HeadRef | null;
  /**
   * Paint every cell: `fill(layer, head, tile, side)` writes packed colours into a side × side tile of
   * device pixels (one pixel of `gap` colour is left between cells once they are big enough to spare it).
   */
  paint(gap: number, fill: (layer: number, head: number, tile: Uint32Array, side: number) => void): void;
  /** The overlay, cleared, in CSS pixels (null while it has no context). */
  overlay(): CanvasRenderingContext2D | null;
  /** Outline one head's cell on the overlay. */
  outline(ctx: CanvasRenderingContext2D, head: HeadRef, color: string, width: number): void;
}

/** Layer numbers down the left of a grid whose rows are `rowHeight` px (thinned out when rows are thin). */
export function layerLabels(layers: number, rowHeight: number): HTMLDivElement {
  const column = el("div", "aw-grid-layer-labels");
  const step = labelStep(rowHeight, 12);
  for (let l = 0; l < layers; l++) {
    const label = el("span", "aw-axis-label", l % step === 0 ? String(l) : "");
    label.style.height = `${rowHeight}px`;
    label.style.lineHeight = `${rowHeight}px`;
    column.append(label);
  }
  return column;
}

export function createLayerHeadGrid(layers: number, heads: number, testid: string): LayerHeadGrid {
  const cell = gridCellSize(layers, heads);
  const frame = el("div", "aw-grid-frame");
  frame.style.gridTemplateColumns = `auto ${heads * cell}px`;
  const headLabels = el("div", "aw-grid-head-labels");
  const headStep = labelStep(cell, 14);
  for (let h = 0; h < heads; h++) {
    const label = el("span", "aw-axis-label", h % headStep === 0 ? String(h) : "");
    label.style.width = `${cell}px`;
    headLabels.append(label);
  }
  const { box, base, overlay: overlayCanvas } = layeredBox("", testid);
  const width = heads * cell;
  const height = layers * cell;
  box.style.width = `${width}px`;
  box.style.height = `${height}px`;
  frame.append(el("span", "aw-corner", "L\\H"), headLabels, layerLabels(layers, cell), box);

  return {
    frame,
    box,
    cell,
    headAt(event) {
      const p = pointIn(box, event);
      const hit = cellAt(p.x, p.y, p.width, p.height, layers, heads);
      return hit && { layer: hit.row, head: hit.col };
    },
    paint(gap, fill) {
      const dCell = devicePixels(cell);
      const space = dCell >= 12 ? 1 : 0;
      const side = dCell - space;
      const w = heads * dCell;
      const pixels = new Uint32Array(w * layers * dCell).fill(gap);
      const tile = new Uint32Array(side * side);
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          fill(l, h, tile, side);
          for (let r = 0; r < side; r++) pixels.set(tile.subarray(r * side, (r + 1) * side), (l * dCell + r) * w + h * dCell);
        }
      }
      putPixels(base, pixels, w, layers * dCell);
    },
    overlay() {
      const ctx = fitCanvas(overlayCanvas, width, height);
      ctx?.clearRect(0, 0, width, height);
      return ctx;
    },
    outline(ctx, { layer, head }, color, lineWidth) {
      ctx.strokeStyle = color;
      ctx.lineWidth = lineWidth;
      ctx.strokeRect(head * cell + lineWidth / 2, layer * cell + lineWidth / 2, cell - lineWidth, cell - lineWidth);
    },
  };
}
