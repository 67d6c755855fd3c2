// Small DOM helpers. Text only ever goes in through textContent (token text can be anything).
import type { Lifetime } from "./lifetime";

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K, className?: string, text?: string, attrs?: Record<string, string>,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (attrs) for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

/** Text that follows the pointer, in a line that may cut it short (CSS .aw-live/.aw-readout): all of it is
 * also the element's tooltip. */
export function setLiveText(node: HTMLElement, text: string): void {
  node.textContent = text;
  node.title = text;
}

export function canvas(className: string, layer?: "base" | "overlay"): HTMLCanvasElement {
  const c = el("canvas", className);
  if (layer) c.dataset.layer = layer;
  return c;
}

/**
 * The box of a canvas view: exactly the drawing (its data-testid hook), with a `base` canvas for the data
 * and an `overlay` canvas on top for hover and selection marks (redrawn alone on a hover).
 */
export function layeredBox(
  className: string, testid: string, attrs: Record<string, string> = {},
): { box: HTMLDivElement; base: HTMLCanvasElement; overlay: HTMLCanvasElement } {
  const box = el("div", `aw-box ${className}`.trim(), undefined, { "data-testid": testid, ...attrs });
  const base = canvas("aw-layer", "base");
  const overlay = canvas("aw-layer", "overlay");
  box.append(base, overlay);
  return { box, base, overlay };
}

let densityOverride: number | null = null;

/** Device pixels per CSS pixel the views paint at: the screen's, or the one `atDensity` asks for. */
export function pixelDensity(): number {
  return densityOverride ?? (window.devicePixelRatio || 1);
}

/** Run `fn` (a view's repaint) with canvases sized at `density` device pixels per CSS pixel: saving a
 * view as a 2× PNG repaints it at 2, takes its pixels, and repaints it at the screen's density again. */
export function atDensity<T>(density: number, fn: () => T): T {
  const before = densityOverride;
  densityOverride = density;
  try {
    return fn();
  } finally {
    densityOverride = before;
  }
}

/** Size a canvas's backing store to its CSS box × pixelDensity(); returns a context in CSS pixels. */
export function fitCanvas(c: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D | null {
  const dpr = pixelDensity();
  const w = Math.max(1, Math.round(width * dpr));
  const h = Math.max(1, Math.round(height * dpr));
  if (c.width !== w) c.width = w;
  if (c.height !== h) c.height = h;
  const ctx = c.getContext("2d");
  ctx?.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

export function devicePixels(cssPixels: number): number {
  return Math.max(1, Math.round(cssPixels * pixelDensity()));
}

/** Where a pointer event is over `target`: (x, y) from its top-left corner, and its size (CSS pixels). */
export function pointIn(target: Element, event: MouseEvent): { x: number; y: number; width: number; height: number } {
  const rect = target.getBoundingClientRect();
  return { x: event.clientX - rect.left, y: event.clientY - rect.top, width: rect.width, height: rect.height };
}

/** A tooltip inside `host` (which must be positioned); lines are set as text. */
export class Tooltip {
  readonly node = el("div", "aw-tooltip", undefined, { role: "tooltip" });

  constructor(private readonly host: HTMLElement) {
    this.node.hidden = true;
    host.append(this.node);
  }

  /** Show `lines` beside the pointer of `event`. */
  showAt(lines: string[], event: MouseEvent): void {
    const at = pointIn(this.host, event);
    this.show(lines, at.x, at.y, at.width);
  }

  show(lines: string[], x: number, y: number, hostWidth: number): void {
    while (this.node.childNodes.length > lines.length) this.node.lastChild?.remove();
    lines.forEach((line, i) => {
      const row = (this.node.childNodes[i] as HTMLElement | undefined) ?? this.node.appendChild(el("div"));
      if (row.textContent !== line) row.textContent = line;
    });
    this.node.hidden = false;
    // Keep the tooltip inside the host: flip to the left of the pointer near the right edge.
    const flip = x > hostWidth * 0.6;
    this.node.style.transform = `translate(${flip ? `calc(${x - 12}px - 100%)` : `${x + 14}px`}, ${y + 14}px)`;
  }

  hide(): void {
    this.node.hidden = true;
  }
}

/** Run `fn` whenever `target`'s size changes (and once when it first gets one), until `lifetime` ends. */
export function onResize(target: Element, lifetime: Lifetime, fn: () => void): void {
  if (typeof ResizeObserver === "undefined") return;
  const observer = new ResizeObserver(() => fn());
  observer.observe(target);
  lifetime.add(() => observer.disconnect());
}
