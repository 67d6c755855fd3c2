// The selection every view shares: layer, head, pinned and hovered token live in the model (so two
// displays of one widget stay linked); a head previewed by hovering the grid is local to one display.
import type { Lifetime } from "./lifetime";
import type { Model, SelectMessage, WidgetTraits } from "./model";

/** Call `fn` at most once per `ms` (first call at once, the last one of a burst when the interval ends). */
export function throttle<A extends unknown[]>(
  fn: (...args: A) => void, ms: number, now: () => number = () => Date.now(),
): { (...args: A): void; cancel(): void } {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending: A | null = null;
  const run = (args: A) => {
    last = now();
    fn(...args);
  };
  const throttled = (...args: A) => {
    const wait = last + ms - now();
    if (wait <= 0 && timer === null) {
      run(args);
      return;
    }
    pending = args;
    if (timer === null) {
      timer = setTimeout(() => {
        timer = null;
        if (pending) {
          const next = pending;
          pending = null;
          run(next);
        }
      }, Math.max(0, wait));
    }
  };
  throttled.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    pending = null;
  };
  return throttled;
}

export interface HeadRef {
  layer: number;
  head: number;
}

type Listener = () => void;

/** How often hover changes are sent to Python; the views themselves follow every event. */
export const HOVER_SYNC_MS = 80;

/** One display's view of the selection; its subscriptions and pending hover save end with `lifetime`. */
export class Selection {
  private readonly previewListeners = new Set<Listener>();
  private previewHead: HeadRef | null = null;
  private readonly keyListeners = new Set<Listener>();
  private keyHovered = -1;
  private readonly saveHover: ReturnType<typeof throttle<[]>>;

  constructor(readonly model: Model, private readonly lifetime: Lifetime) {
    this.saveHover = throttle(() => model.save_changes(), HOVER_SYNC_MS);
    lifetime.add(() => {
      this.saveHover.cancel();
      this.previewListeners.clear();
      this.keyListeners.clear();
    });
  }

  get layer(): number {
    return this.model.get("layer");
  }
  get head(): number {
    return this.model.get("head");
  }
  get token(): number {
    return this.model.get("token");
  }
  get hovered(): number {
    return this.model.get("hovered_token");
  }
  /** The head the heatmap shows: the previewed one while the grid is hovered, else the selected one. */
  get shownHead(): HeadRef {
    return this.previewHead ?? { layer: this.layer, head: this.head };
  }
  get isPreview(): boolean {
    return this.previewHead !== null;
  }

  /** Call `listener` when any of these synced traits changes, until the end of the render. */
  on(names: (keyof WidgetTraits)[], listener: Listener): void {
    this.lifetime.onChange(this.model, names, listener);
  }

  /** Cross-attention: the source token (a key, not a query) under the pointer in the source strip, -1 for
   * none; local to one display, like the previewed head. */
  get hoveredKey(): number {
    return this.keyHovered;
  }

  hoverKey(index: number): void {
    if (index === this.keyHovered) return;
    this.keyHovered = index;
    for (const listener of this.keyListeners) listener();
  }

  /** Call `listener` when the hovered source token changes, until the end of the render. */
  onKeyHover(listener: Listener): void {
    if (!this.lifetime.ended) this.keyListeners.add(listener);
  }

  /** Call `listener` when the previewed head changes, until the end of the render. */
  onPreview(listener: Listener): void {
    if (!this.lifetime.ended) this.previewListeners.add(listener);
  }

  hover(index: number): void {
    if (index === this.hovered) return;
    this.model.set("hovered_token", index);
    this.saveHover();
  }

  preview(head: HeadRef | null): void {
    const same = head && this.previewHead && head.layer === this.previewHead.layer && head.head === this.previewHead.head;
    if (same || (head === null && this.previewHead === null)) return;
    this.previewHead = head;
    for (const listener of this.previewListeners) listener();
  }

  pin(index: number, source: SelectMessage["source"]): void {
    this.model.set("token", index);
    this.commit(source);
  }

  selectHead(layer: number, head: number, source: SelectMessage["source"]): void {
    this.model.set("layer", layer);
    this.model.set("head", head);
    this.commit(source);
  }

  selectLayer(layer: number, source: SelectMessage["source"]): void {
    this.model.set("layer", layer);
    this.commit(source);
  }

  setTrait<
    K extends
      | "color_scale" | "neuron_kind" | "neuron_k" | "head_score" | "panel" | "target" | "contrast" | "weighting" | "neuron"
      | "ablated" | "ablation_mode" | "step",
  >(name: K, value: WidgetTraits[K]): void {
    this.model.set(name, value);
    this.model.save_changes();
  }

  private commit(source: SelectMessage["source"]): void {
    this.model.save_changes();
    const message: SelectMessage = { kind: "select", source, layer: this.layer, head: this.head, token: this.token };
    this.model.send(message);
  }
}
