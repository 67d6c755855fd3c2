// "Save PNG" (and the heatmap's "SVG") buttons of the canvas views. A PNG is what the view shows, at 2×
// pixel density: the view is repainted at that density, its canvases, text, legend bars and ticks are
// collected as pieces (snapshot.ts) and drawn onto one canvas, and the view is repainted at the screen's
// density again. Files download through a blob URL.
import { cssColor } from "../color";
import { atDensity, el } from "../dom";
import type { Lifetime } from "../lifetime";
import { type Box, PNG_DENSITY, type Piece, drawPieces, pngSize, wrapText } from "../snapshot";
import type { Theme } from "../theme";
import { legendBarColours } from "./legend";

/** Never drawn into a saved image: controls, tooltips, the save buttons themselves (a ranked list of heads,
 * whose items are buttons, is drawn). */
const SKIPPED = "select, input, .aw-button, label.aw-control, label.aw-field, .aw-zoom, .aw-save, .aw-tooltip";

const TRANSPARENT = /^(transparent|rgba\(.*,\s*0\))$/;

let measurer: CanvasRenderingContext2D | null = null;

/** The pieces of what `root` shows, in CSS pixels from its top-left corner, in document order. */
export function collectPieces(root: HTMLElement): Piece[] {
  const origin = root.getBoundingClientRect();
  const pieces: Piece[] = [];
  const boxOf = (r: DOMRect): Box => ({ x: r.left - origin.left, y: r.top - origin.top, w: r.width, h: r.height });
  measurer ??= document.createElement("canvas").getContext("2d");

  const addText = (node: Text, style: CSSStyleDeclaration, parent: Element) => {
    const pre = style.whiteSpace.startsWith("pre");
    const text = pre ? (node.textContent ?? "") : (node.textContent ?? "").replace(/\s+/g, " ").trim();
    if (!text.trim()) return;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
    if (!lines.length) return;
    const font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const fill = style.color;
    const clip = style.overflowX !== "visible" || style.overflowY !== "visible" ? boxOf(parent.getBoundingClientRect()) : undefined;
    if (lines.length === 1) {
      const r = boxOf(lines[0]);
      pieces.push({ kind: "text", text, x: r.x, y: r.y + r.h / 2, font, fill, clip });
      return;
    }
    // Wrapped: the same words, broken where they fit the widest line the page drew.
    const width = Math.max(...lines.map((r) => r.width)) + 1;
    const measure = (s: string) => {
      if (!measurer) return s.length * 6;
      measurer.font = font;
      return measurer.measureText(s).width;
    };
    const step = lines[1].top - lines[0].top || lines[0].height;
    wrapText(text, width, measure).forEach((line, i) => {
      const r = boxOf(lines[Math.min(i, lines.length - 1)]);
      const y = i < lines.length ? r.y + r.h / 2 : r.y + r.h / 2 + (i - lines.length + 1) * step;
      pieces.push({ kind: "text", text: line, x: boxOf(lines[0]).x, y, font, fill, clip });
    });
  };

  const walk = (node: Element) => {
    if (node.matches(SKIPPED)) return;
    const style = getComputedStyle(node);
    if (style.display === "none") return;
    const visible = style.visibility === "visible";
    const rect = node.getBoundingClientRect();
    if (node instanceof HTMLCanvasElement) {
      if (visible && node.width > 0 && node.height > 0 && rect.width > 0 && rect.height > 0) {
        pieces.push({ kind: "image", source: node, ...boxOf(rect), crisp: node.dataset.layer === "base" });
      }
      return;
    }
    const colours = legendBarColours(node);
    if (visible && rect.width > 0 && rect.height > 0) {
      if (colours) pieces.push({ kind: "gradient", ...boxOf(rect), colours });
      else if (node !== root && style.backgroundImage === "none" && !TRANSPARENT.test(style.backgroundColor)) {
        pieces.push({ kind: "rect", ...boxOf(rect), fill: style.backgroundColor });
      }
    }
    for (const child of node.childNodes) {
      if (child instanceof Text) {
        if (visible) addText(child, style, node);
      } else if (child instanceof Element) {
        walk(child);
      }
    }
  };
  walk(root);
  return pieces;
}

/** `root` as a canvas at `density` (its views repainted at that density by `repaint`, then at the screen's). */
export function composeView(root: HTMLElement, repaint: () => void, theme: Theme, density = PNG_DENSITY): HTMLCanvasElement {
  const rect = root.getBoundingClientRect();
  const size = pngSize(rect.width, rect.height, density);
  const out = document.createElement("canvas");
  out.width = size.width;
  out.height = size.height;
  const ctx = out.getContext("2d");
  try {
    atDensity(density, () => {
      repaint();
      if (ctx) drawPieces(ctx, collectPieces(root), { width: rect.width, height: rect.height }, density, cssColor(theme.bg));
    });
  } finally {
    repaint();
  }
  return out;
}

/** Offer `blob` as a download named `name` (through a blob URL, revoked a little later). */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = el("a", undefined, undefined, { href: url, download: name });
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export interface SaveActions {
  /** The view's name (its data-testid): the buttons are save-png-<name> and save-svg-<name>. */
  name: string;
  /** What is saved: the view's panel. */
  root: HTMLElement;
  /** Redraw the view (at whatever density is asked). */
  repaint(): void;
  theme(): Theme;
  /** The file's name without extension ("attention-L3-H5"). */
  fileStem(): string;
  /** The view as SVG text, for views that have it. */
  svg?(): string | null;
}

/** "PNG" (and "SVG") buttons that save the view; appended to its header. */
export function createSaveButtons(lifetime: Lifetime, actions: SaveActions): HTMLElement {
  const group = el("span", "aw-save");
  const png = el("button", "aw-button", "PNG", {
    type: "button", title: "save what this view shows as a PNG image (2× pixel density)",
    "aria-label": "save as PNG", "data-testid": `save-png-${actions.name}`,
  });
  group.append(png);
  lifetime.listen(png, "click", () => {
    const canvas = composeView(actions.root, actions.repaint, actions.theme());
    canvas.toBlob((blob) => {
      if (blob) download(blob, `${actions.fileStem()}.png`);
    }, "image/png");
  });
  const svg = actions.svg;
  if (svg) {
    const button = el("button", "aw-button", "SVG", {
      type: "button", title: "save the map, its token labels and legend as an SVG image",
      "aria-label": "save as SVG", "data-testid": `save-svg-${actions.name}`,
    });
    group.append(button);
    lifetime.listen(button, "click", () => {
      const text = svg();
      if (text) download(new Blob([text], { type: "image/svg+xml" }), `${actions.fileStem()}.svg`);
    });
  }
  return group;
}
