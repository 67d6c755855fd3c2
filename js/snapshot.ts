// Saving a view as a file, without the DOM: a PNG is a list of pieces (the view's canvases, its text, its
// legend bars and ticks) drawn onto one canvas at 2× pixel density; the heatmap's SVG is built as text,
// cells as rects (pooled to at most SVG_MAX_CELLS per side), token labels as escaped text. Collecting the
// pieces from a view's elements and downloading the file: views/save.ts.
import { unpackRGBA } from "./color";

/** Device pixels per CSS pixel of a saved PNG. */
export const PNG_DENSITY = 2;
/** Most cells along each side of a saved SVG map (a longer prompt is max-pooled to this). */
export const SVG_MAX_CELLS = 200;

/** A box in CSS pixels, relative to the saved view's top-left corner. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type Piece =
  /** A canvas stretched over its box; `crisp`: scaled without smoothing (a map's cells). */
  | (Box & { kind: "image"; source: CanvasImageSource; crisp: boolean })
  | (Box & { kind: "rect"; fill: string })
  /** A colour bar, left to right. */
  | (Box & { kind: "gradient"; colours: string[] })
  /** One line of text whose left end is at x, vertically centred on y; cut to `clip` if given. */
  | { kind: "text"; text: string; x: number; y: number; font: string; fill: string; clip?: Box };

/** What `drawPieces` needs of a canvas 2D context. */
export interface Canvas2D {
  fillStyle: string | CanvasGradient | CanvasPattern;
  font: string;
  textAlign: CanvasTextAlign;
  textBaseline: CanvasTextBaseline;
  imageSmoothingEnabled: boolean;
  save(): void;
  restore(): void;
  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void;
  fillRect(x: number, y: number, w: number, h: number): void;
  fillText(text: string, x: number, y: number): void;
  drawImage(image: CanvasImageSource, dx: number, dy: number, dw: number, dh: number): void;
  beginPath(): void;
  rect(x: number, y: number, w: number, h: number): void;
  clip(): void;
  createLinearGradient(x0: number, y0: number, x1: number, y1: number): CanvasGradient;
}

/** Size in device pixels of a `width` × `height` CSS-pixel view saved at `density`. */
export function pngSize(width: number, height: number, density = PNG_DENSITY): { width: number; height: number } {
  return { width: Math.max(1, Math.round(width * density)), height: Math.max(1, Math.round(height * density)) };
}

/**
 * Draw `pieces` (CSS pixels) onto `ctx`, whose canvas is pngSize(width, height, density): the background
 * first, then each piece in order, everything scaled by `density`.
 */
export function drawPieces(
  ctx: Canvas2D, pieces: Piece[], size: { width: number; height: number }, density: number, background: string,
): void {
  ctx.setTransform(density, 0, 0, density, 0, 0);
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, size.width, size.height);
  for (const piece of pieces) {
    if (piece.kind === "image") {
      ctx.imageSmoothingEnabled = !piece.crisp;
      ctx.drawImage(piece.source, piece.x, piece.y, piece.w, piece.h);
    } else if (piece.kind === "rect") {
      ctx.fillStyle = piece.fill;
      ctx.fillRect(piece.x, piece.y, piece.w, piece.h);
    } else if (piece.kind === "gradient") {
      const gradient = ctx.createLinearGradient(piece.x, 0, piece.x + piece.w, 0);
      const last = Math.max(1, piece.colours.length - 1);
      piece.colours.forEach((colour, i) => gradient.addColorStop(i / last, colour));
      ctx.fillStyle = gradient;
      ctx.fillRect(piece.x, piece.y, piece.w, piece.h);
    } else {
      ctx.save();
      if (piece.clip) {
        ctx.beginPath();
        ctx.rect(piece.clip.x, piece.clip.y, piece.clip.w, piece.clip.h);
        ctx.clip();
      }
      ctx.font = piece.font;
      ctx.fillStyle = piece.fill;
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(piece.text, piece.x, piece.y);
      ctx.restore();
    }
  }
  ctx.imageSmoothingEnabled = true;
}

/**
 * Words of `text` as lines no wider than `width` (a word longer than that gets a line of its own):
 * how a wrapped note of a legend is drawn onto a canvas.
 */
export function wrapText(text: string, width: number, measure: (s: string) => number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure(next) > width) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** A file name's stem from its parts ("attention", "L3", "H5" → "attention-L3-H5"): only letters, digits,
 * ".", "_" and "-" (token text and model names can hold anything). */
export function fileStem(parts: (string | number)[]): string {
  const stem = parts
    .map((part) => String(part).replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+|_+$/g, ""))
    .filter(Boolean)
    .join("-");
  return stem || "attnwidget";
}

// ---- SVG ------------------------------------------------------------------------------------------------

// Characters XML 1.0 does not allow at all (a token can hold any of them): shown as U+FFFD.
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text (or an attribute value) safe inside SVG: markup characters escaped, characters XML forbids replaced. */
export function escapeXml(text: string): string {
  return text
    .replace(NOT_XML, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** A packed LUT colour (ABGR, as ImageData holds it) as "#rrggbb". */
export function packedHex(packed: number): string {
  const [r, g, b] = unpackRGBA(packed);
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}

/** Cells per side of a saved SVG map showing `span` tokens per side. */
export function svgCells(span: number, max = SVG_MAX_CELLS): number {
  return Math.max(1, Math.min(span, max));
}

/** A token label along an axis of the map: `at` px from the axis's start (the token's centre). */
export interface SvgLabel {
  axis: "x" | "y";
  at: number;
  text: string;
  bold: boolean;
  fill: string;
}

export interface SvgLegend {
  /** Width of the legend (its bar spans [pad, width − pad]), px. */
  width: number;
  pad: number;
  /** The bar's colours, left to right. */
  colours: string[];
  /** Tick positions (px from the legend's left end) and the labels drawn. */
  ticks: { x: number; label?: string; align: "left" | "center" | "right"; textX: number }[];
  note: string;
}

export interface SvgMap {
  title: string;
  /** n × cols packed colours, row-major (rows: queries); cells of colour `masked` are left to the box's fill. */
  cells: Uint32Array;
  n: number;
  /** Columns (keys) of `cells`: n for a square map, the source's for a cross-attention one. */
  cols?: number;
  masked: number;
  /** The map's width on the page, px (its side for a square map). */
  side: number;
  /** The map's height on the page, px (default: `side`). */
  height?: number;
  /** Room for the token labels left of the map and below it, px. */
  yAxis: number;
  xAxis: number;
  labels: SvgLabel[];
  legend: SvgLegend | null;
  font: string;
  fg: string;
  muted: string;
  background: string;
}

const TITLE_HEIGHT = 24;
const LEGEND_HEIGHT = 50;

/** The heatmap as an SVG document: the map's cells as rects (runs of one colour along a row merged), the
 * token labels as text, the legend as a gradient bar with its tick labels and note. */
export function heatmapSvg(m: SvgMap): string {
  const top = TITLE_HEIGHT;
  const cols = m.cols ?? m.n;
  const mapHeight = m.height ?? m.side;
  const width = Math.ceil(Math.max(m.yAxis + m.side + 8, m.legend ? m.yAxis + m.legend.width + 8 : 0));
  const height = Math.ceil(top + mapHeight + m.xAxis + (m.legend ? LEGEND_HEIGHT : 8));
  const font = escapeXml(m.font);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${font}" font-size="11">`,
    `<rect width="100%" height="100%" fill="${escapeXml(m.background)}"/>`,
    `<text x="4" y="16" font-size="12" font-weight="bold" fill="${escapeXml(m.fg)}">${escapeXml(m.title)}</text>`,
  );
  // The cells: one unit each, scaled to the map's width and height.
  out.push(
    `<g transform="translate(${m.yAxis} ${top}) scale(${round(m.side / cols)} ${round(mapHeight / m.n)})" shape-rendering="crispEdges">`,
    `<rect width="${cols}" height="${m.n}" fill="${packedHex(m.masked)}"/>`,
  );
  for (let r = 0; r < m.n; r++) {
    let c = 0;
    while (c < cols) {
      const colour = m.cells[r * cols + c];
      let end = c + 1;
      while (end < cols && m.cells[r * cols + end] === colour) end++;
      if (colour !== m.masked) out.push(`<rect x="${c}" y="${r}" width="${end - c}" height="1" fill="${packedHex(colour)}"/>`);
      c = end;
    }
  }
  out.push("</g>");
  for (const label of m.labels) {
    const weight = label.bold ? ` font-weight="bold"` : "";
    const text = escapeXml(label.text);
    if (label.axis === "y") {
      out.push(`<text x="${m.yAxis - 4}" y="${round(top + label.at)}" text-anchor="end" dominant-baseline="central" fill="${escapeXml(label.fill)}"${weight}>${text}</text>`);
    } else {
      const x = round(m.yAxis + label.at);
      out.push(`<text transform="translate(${x} ${top + mapHeight + 4}) rotate(-90)" text-anchor="end" dominant-baseline="central" fill="${escapeXml(label.fill)}"${weight}>${text}</text>`);
    }
  }
  if (m.legend) {
    const l = m.legend;
    const x0 = m.yAxis;
    const y0 = top + mapHeight + m.xAxis + 6;
    out.push(`<defs><linearGradient id="legend-colours" x1="0" x2="1" y1="0" y2="0">`);
    const last = Math.max(1, l.colours.length - 1);
    l.colours.forEach((colour, i) => out.push(`<stop offset="${round(i / last)}" stop-color="${escapeXml(colour)}"/>`));
    out.push(`</linearGradient></defs>`);
    out.push(`<rect x="${x0 + l.pad}" y="${y0}" width="${Math.max(0, l.width - 2 * l.pad)}" height="10" fill="url(#legend-colours)"/>`);
    for (const tick of l.ticks) {
      out.push(`<rect x="${round(x0 + tick.x - 0.5)}" y="${y0 + 10}" width="1" height="3" fill="${escapeXml(m.muted)}"/>`);
      if (tick.label === undefined) continue;
      const anchor = tick.align === "left" ? "start" : tick.align === "right" ? "end" : "middle";
      out.push(`<text x="${round(x0 + tick.textX)}" y="${y0 + 23}" font-size="10" text-anchor="${anchor}" fill="${escapeXml(m.fg)}">${escapeXml(tick.label)}</text>`);
    }
    if (l.note) out.push(`<text x="${x0}" y="${y0 + 40}" font-size="10" fill="${escapeXml(m.muted)}">${escapeXml(l.note)}</text>`);
  }
  out.push("</svg>");
  return out.join("\n");
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
