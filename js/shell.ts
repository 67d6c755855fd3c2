// The render shell both widgets share: the root element, the theme (read again after a switch), one
// repaint of every view, and the per-render Lifetime whose end is the cleanup anywidget gets back.
import { el, onResize } from "./dom";
import { Lifetime } from "./lifetime";
import { type Theme, readTheme, watchTheme } from "./theme";
import type { View } from "./views/view";

export interface Shell {
  /** The widget's root element, already in the host. */
  root: HTMLElement;
  /** Everything the render starts ends with it. */
  lifetime: Lifetime;
  /** The current theme. */
  theme(): Theme;
}

/** The header line of a widget: the model's name, then what is shown. */
export function widgetHeader(modelName: string, description: string): HTMLElement {
  const header = el("div", "aw-header");
  header.append(el("span", "aw-model", modelName), el("span", "aw-hint", description));
  return header;
}

/** The shape of a model as the headers say it: "30 layers × 9 heads (3 KV heads)". */
export function modelShape(info: { num_layers: number; num_heads: number; num_kv_heads: number }): string {
  const kv = info.num_kv_heads !== info.num_heads ? ` (${info.num_kv_heads} KV heads)` : "";
  return `${info.num_layers} layers × ${info.num_heads} heads${kv}`;
}

/**
 * Render into `host`: `build` creates the views (appending them to `shell.root`) and returns them; each is
 * painted once now and again after a theme switch. Returns the cleanup (ends the lifetime, removes the root).
 */
export function renderShell(host: HTMLElement, className: string, build: (shell: Shell) => View[]): () => void {
  const root = el("div", className);
  host.append(root);
  const lifetime = new Lifetime();
  let theme: Theme = readTheme(root);
  let themeFromPage = root.isConnected;
  const cleanup = () => {
    lifetime.end();
    root.remove();
  };
  let views: View[];
  try {
    views = build({ root, lifetime, theme: () => theme });
  } catch (error) {
    cleanup();
    throw error;
  }
  const repaintAll = () => {
    theme = readTheme(root);
    themeFromPage = root.isConnected;
    for (const view of views) {
      // Per-view timings for benchmarks/bench_widget_paint.py (performance.getEntriesByType("measure")).
      const start = performance.now();
      view.repaint();
      performance.measure(`attnwidget:paint:${view.name}`, { start, end: performance.now() });
    }
  };
  repaintAll();
  watchTheme(repaintAll, lifetime);
  // Displayed before being attached (colours could not be read yet): repaint once it is on the page.
  onResize(root, lifetime, () => {
    if (!themeFromPage && root.isConnected) repaintAll();
  });
  return cleanup;
}
