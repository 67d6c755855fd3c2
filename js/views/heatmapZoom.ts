// The heatmap's zoom and pan: a square window of tokens, moved by the wheel (zoom about the pointer), a drag
// (pan), the − / + / reset buttons or the keyboard (+ − 0, arrows, Escape). When the map sent for the head
// is max-pooled (long prompts) the window is written to `map_window` once it has been still for a moment,
// and Python answers with that part of the map at full resolution (`_map_window`).
// A cross-attention map (decoder rows × source columns) zooms along the source only (`rows` given): every
// decoder row stays shown, the window is a run of source tokens, and the up/down keys and drags move nothing.
import { el } from "../dom";
import type { Lifetime } from "../lifetime";
import {
  type MapWindow, clampWindow, fullWindow, isZoomed, panWindow, windowBounds, windowFromBounds, zoomWindow,
} from "../layout";
import type { Model } from "../model";

/** Zoom factor of a button press or key; the wheel zooms continuously. */
const STEP = 2;
/** How long the window must stay still before it is requested from Python. */
const REQUEST_DELAY_MS = 120;
/** A press that moves less than this (px) is a click, not a drag. */
const DRAG_SLOP = 3;

export interface Zoom {
  /** The − / + / reset buttons (data-testid="heatmap-zoom"). */
  controls: HTMLElement;
  readonly window: MapWindow;
  /** True once after a drag ended: the click that ends a drag does not pin a token. */
  consumeClick(): boolean;
  readonly dragging: boolean;
  /** Enable the buttons and the box's data-window hook for the current window. */
  update(): void;
}

export interface ZoomOptions {
  model: Model;
  /** Tokens along a zoomed axis (a cross map: the source's). */
  seq: number;
  /** A cross map's decoder rows: zoom the source (columns) only, every row shown. */
  rows?: number;
  /** The element that is exactly the map: wheel, drag and keys act on it. */
  box: HTMLElement;
  lifetime: Lifetime;
  /** Whether the window can be sent to Python (a kernel behind the model, and a `map_window` trait). */
  canRequest: boolean;
  /** The window changed (by a person or from Python): repaint. */
  onChange(): void;
  /** After a wheel step: the pointer is still over the map (refresh the tooltip). */
  onWheel(event: WheelEvent): void;
  /** A drag started to move the map: hide the tooltip. */
  onDragStart(): void;
}

export function createZoom(o: ZoomOptions): Zoom {
  const { model, seq, box, lifetime } = o;
  const zoomOut = el("button", "aw-button", "−", { type: "button", title: "zoom out (−)", "aria-label": "zoom out" });
  const zoomIn = el("button", "aw-button", "+", { type: "button", title: "zoom in (+, or the mouse wheel)", "aria-label": "zoom in" });
  const reset = el("button", "aw-button", "reset", { type: "button", title: "show every token (0)", "aria-label": "reset zoom" });
  const controls = el("span", "aw-zoom", undefined, { "data-testid": "heatmap-zoom" });
  controls.append(zoomOut, zoomIn, reset);

  const trait = () => (model.get("map_window") as number[] | undefined) ?? [];
  const keysOnly = o.rows !== undefined;
  /** The window as this map shows it: a cross map's keeps its first row (rows are never windowed). */
  const valid = (w: MapWindow): MapWindow => (keysOnly ? { ...w, q0: 0 } : w);
  let win: MapWindow = keysOnly ? fullWindow(seq) : windowFromBounds(trait(), seq);
  /** The map_window value this view wrote last (its echo from Python is not a new zoom). */
  let written = JSON.stringify(trait());
  let requestTimer: ReturnType<typeof setTimeout> | null = null;
  let drag: { x: number; y: number; start: MapWindow; moved: boolean } | null = null;
  let suppressClick = false;
  lifetime.add(() => {
    if (requestTimer !== null) clearTimeout(requestTimer);
  });

  const request = () => {
    requestTimer = null;
    // Detail is needed when the selected head's map was max-pooled (a long prompt).
    const sent = model.get("_attention_map");
    const pooled = "info" in sent && sent.info.pooled;
    const bounds = isZoomed(win, seq) && pooled ? windowBounds(win) : [];
    const text = JSON.stringify(bounds);
    if (text === JSON.stringify(trait())) return;
    written = text;
    model.set("map_window", bounds);
    model.save_changes();
  };

  const set = (wanted: MapWindow) => {
    const next = valid(wanted);
    if (next.q0 === win.q0 && next.k0 === win.k0 && next.span === win.span) return;
    win = next;
    o.onChange();
    if (o.canRequest) {
      if (requestTimer !== null) clearTimeout(requestTimer);
      requestTimer = setTimeout(request, REQUEST_DELAY_MS);
    }
  };

  // Set from Python (or another display of this widget): follow it.
  if (o.canRequest) {
    lifetime.onChange(model, ["map_window"], () => {
      const text = JSON.stringify(trait());
      if (text === written) return;
      written = text;
      win = windowFromBounds(trait(), seq);
      o.onChange();
    });
  }

  // ---- drag to pan: listeners on the window while the button is down ------------------------------------
  let dragEvents: AbortController | null = null;
  const endDrag = () => {
    dragEvents?.abort();
    dragEvents = null;
    box.classList.remove("is-dragging");
    suppressClick = !!drag?.moved;
    drag = null;
  };
  lifetime.add(endDrag);
  lifetime.listen(box, "mousedown", (event) => {
    if (event.button !== 0 || !isZoomed(win, seq)) return;
    event.preventDefault(); // no text selection while dragging
    box.focus({ preventScroll: true });
    drag = { x: event.clientX, y: event.clientY, start: win, moved: false };
    dragEvents = new AbortController();
    window.addEventListener("mousemove", (move: MouseEvent) => {
      if (!drag) return;
      const dx = move.clientX - drag.x;
      const dy = move.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < DRAG_SLOP) return;
      if (!drag.moved) {
        drag.moved = true;
        o.onDragStart();
        box.classList.add("is-dragging");
      }
      set(panWindow(drag.start, seq, dx, dy, box.getBoundingClientRect().width || 1));
    }, { signal: dragEvents.signal });
    window.addEventListener("mouseup", endDrag, { signal: dragEvents.signal });
  });

  // ---- wheel: zoom about the pointer ------------------------------------------------------------------------
  lifetime.listen(box, "wheel", (event: WheelEvent) => {
    const rect = box.getBoundingClientRect();
    const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? rect.height : 1;
    const factor = Math.min(2, Math.max(0.5, Math.exp(event.deltaY * unit * 0.002)));
    // Zooming out of the whole map scrolls the page as usual.
    if (factor >= 1 && !isZoomed(win, seq)) return;
    event.preventDefault();
    const fx = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    const fy = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
    set(zoomWindow(win, seq, factor, fx, fy));
    o.onWheel(event);
  }, { passive: false });

  // ---- keys and buttons -------------------------------------------------------------------------------------
  lifetime.listen(box, "keydown", (event: KeyboardEvent) => {
    const move = Math.max(1, Math.round(win.span / 8));
    const next: Record<string, () => MapWindow> = {
      "+": () => zoomWindow(win, seq, 1 / STEP),
      "=": () => zoomWindow(win, seq, 1 / STEP),
      "-": () => zoomWindow(win, seq, STEP),
      "0": () => fullWindow(seq),
      ArrowLeft: () => clampWindow({ ...win, k0: win.k0 - move }, seq),
      ArrowRight: () => clampWindow({ ...win, k0: win.k0 + move }, seq),
      ArrowUp: () => clampWindow({ ...win, q0: win.q0 - move }, seq),
      ArrowDown: () => clampWindow({ ...win, q0: win.q0 + move }, seq),
    };
    const make = next[event.key] ?? (event.key === "Escape" && isZoomed(win, seq) ? () => fullWindow(seq) : null);
    if (!make || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    set(make());
  });
  lifetime.listen(zoomIn, "click", () => set(zoomWindow(win, seq, 1 / STEP)));
  lifetime.listen(zoomOut, "click", () => set(zoomWindow(win, seq, STEP)));
  lifetime.listen(reset, "click", () => set(fullWindow(seq)));

  return {
    controls,
    get window() {
      return win;
    },
    get dragging() {
      return drag !== null;
    },
    consumeClick() {
      const was = suppressClick;
      suppressClick = false;
      return was;
    },
    update() {
      const zoomed = isZoomed(win, seq);
      zoomOut.disabled = !zoomed;
      reset.disabled = !zoomed;
      zoomIn.disabled = win.span <= Math.min(seq, 8);
      const [q0, q1, k0, k1] = windowBounds(win);
      box.dataset.window = (keysOnly ? [0, o.rows, k0, k1] : [q0, q1, k0, k1]).join(" ");
      box.classList.toggle("is-zoomed", zoomed);
    },
  };
}
