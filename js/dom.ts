// Small DOM helpers. Text only ever goes in through textContent (token text can be anything).
import { labelStep } from "./layout";

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K, className?: string, text?: string, attrs?: Record<string, string>,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (attrs) for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

export function canvas(className: string, layer?: "base" | "overlay"): HTMLCanvasElement {
  const c = el("canvas", className);
  if (layer) c.dataset.layer = layer;
  return c;
}

/** Size a canvas's backing store to its CSS box × devicePixelRatio; returns a context in CSS pixels. */
/**
 * A layers × heads grid: head numbers above, layer numbers on the left, and a box (with base and overlay
 * canvases) that is exactly its cells, `cell` CSS pixels each. Used by the head grid and the head-diff view.
 */
export function layerHeadFrame(
  layers: number, heads: number, cell: number, testid: string, baseClass = "aw-layer",
): { frame: HTMLDivElement; box: HTMLDivElement; base: HTMLCanvasElement; overlay: HTMLCanvasElement } {
  const frame = el("div", "aw-grid-frame");
  frame.style.gridTemplateColumns = `auto ${heads * cell}px`;
  const headLabels = el("div", "aw-grid-head-labels");
  const layerLabels = el("div", "aw-grid-layer-labels");
  const headStep = labelStep(cell, 14);
  for (let h = 0; h < heads; h++) {
    const label = el("span", "aw-axis-label", h % headStep === 0 ? String(h) : "");
    label.style.width = `${cell}px`;
    headLabels.append(label);
  }
  const layerStep = labelStep(cell, 12);
  for (let l = 0; l < layers; l++) {
    const label = el("span", "aw-axis-label", l % layerStep === 0 ? String(l) : "");
    label.style.height = `${cell}px`;
    label.style.lineHeight = `${cell}px`;
    layerLabels.append(label);
  }
  const box = el("div", "aw-box", undefined, { "data-testid": testid });
  box.style.width = `${heads * cell}px`;
  box.style.height = `${layers * cell}px`;
  const base = canvas(baseClass, "base");
  const overlay = canvas("aw-layer", "overlay");
  box.append(base, overlay);
  frame.append(el("span", "aw-corner", "L\\H"), headLabels, layerLabels, box);
  return { frame, box, base, overlay };
}

export function fitCanvas(c: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(width * dpr));
  const h = Math.max(1, Math.round(height * dpr));
  if (c.width !== w) c.width = w;
  if (c.height !== h) c.height = h;
  const ctx = c.getContext("2d");
  ctx?.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

export function devicePixels(cssPixels: number): number {
  return Math.max(1, Math.round(cssPixels * (window.devicePixelRatio || 1)));
}

/** A tooltip inside `host` (which must be positioned); lines are set as text. */
export class Tooltip {
  readonly node = el("div", "aw-tooltip", undefined, { role: "tooltip" });

  constructor(host: HTMLElement) {
    this.node.hidden = true;
    host.append(this.node);
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

/** Run `fn` whenever `target`'s size changes (and once when it first gets one). */
export function onResize(target: Element, fn: () => void): () => void {
  if (typeof ResizeObserver === "undefined") return () => {};
  const observer = new ResizeObserver(() => fn());
  observer.observe(target);
  return () => observer.disconnect();
}
