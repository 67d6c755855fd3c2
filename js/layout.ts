// Geometry shared by the views: sizes, which cell is under a point, which axis labels to draw.

/** CSS pixels per head-grid cell: the grid stays within about 300 × 720 px, cells 10..56 px. */
export function gridCellSize(layers: number, heads: number): number {
  return Math.max(10, Math.min(56, Math.floor(Math.min(300 / heads, 720 / layers))));
}

export interface Cell {
  row: number;
  col: number;
}

/**
 * The cell of a rows × cols grid drawn over a width × height box that holds the point (x, y) given
 * relative to the box's top-left corner; null outside the box.
 */
export function cellAt(x: number, y: number, width: number, height: number, rows: number, cols: number): Cell | null {
  if (!(x >= 0 && y >= 0 && x < width && y < height) || rows < 1 || cols < 1) return null;
  return {
    row: Math.min(rows - 1, Math.floor((y * rows) / height)),
    col: Math.min(cols - 1, Math.floor((x * cols) / width)),
  };
}

/** Top-left corner and size of a cell in the same box. */
export function cellRect(
  cell: Cell, width: number, height: number, rows: number, cols: number,
): { x: number; y: number; w: number; h: number } {
  const w = width / cols;
  const h = height / rows;
  return { x: cell.col * w, y: cell.row * h, w, h };
}

const NICE_STEPS = [1, 2, 5];

/** Smallest "nice" step (1, 2, 5, 10, 20, 50, ...) such that labels `step` items apart are ≥ minGap px apart. */
export function labelStep(pixelsPerItem: number, minGap: number): number {
  if (pixelsPerItem <= 0) return Infinity;
  for (let scale = 1; ; scale *= 10) {
    for (const s of NICE_STEPS) if (s * scale * pixelsPerItem >= minGap) return s * scale;
  }
}

/** Indices 0, step, 2·step, ... below count. */
export function thinnedIndices(count: number, pixelsPerItem: number, minGap: number): number[] {
  const step = labelStep(pixelsPerItem, minGap);
  const out: number[] = [];
  for (let i = 0; i < count; i += step) out.push(i);
  return out;
}

/** Clip a label to `max` characters with an ellipsis. */
export function clipLabel(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join("")}…`;
}

export interface StatsCell {
  layer: number;
  /** Which statistic's matrix, or -1 in a gap. */
  panel: number;
  /** The head, or -1 in a gap between matrices. */
  head: number;
}

/**
 * Layer-stats geometry: `panels` matrices side by side, each `heads` cells of `cellWidth` px, `gap` px
 * apart; rows are layers of equal height over the whole box. Null outside the box.
 */
export function statsCellAt(
  x: number, y: number, height: number, layers: number, heads: number, panels: number, cellWidth: number, gap: number,
): StatsCell | null {
  const panelWidth = heads * cellWidth;
  const width = panels * panelWidth + (panels - 1) * gap;
  if (!(x >= 0 && y >= 0 && x < width && y < height)) return null;
  const layer = Math.min(layers - 1, Math.floor((y * layers) / height));
  const panel = Math.floor(x / (panelWidth + gap));
  const offset = x - panel * (panelWidth + gap);
  if (panel >= panels || offset >= panelWidth) return { layer, panel: -1, head: -1 };
  return { layer, panel, head: Math.min(heads - 1, Math.floor(offset / cellWidth)) };
}

/** Layer-stats sizes: matrices cells cellWidth × rowHeight, `gap` px between matrices. */
export function statsGeometry(layers: number, heads: number, panels: number): {
  cellWidth: number; rowHeight: number; gap: number; width: number; height: number;
} {
  const gap = 16;
  const cellWidth = Math.max(6, Math.min(28, Math.floor((600 - (panels - 1) * gap) / (panels * heads))));
  const rowHeight = Math.max(6, Math.min(16, Math.floor(360 / layers)));
  return {
    cellWidth, rowHeight, gap,
    width: panels * heads * cellWidth + (panels - 1) * gap,
    height: layers * rowHeight,
  };
}
