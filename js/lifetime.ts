// Everything a render starts (DOM listeners, model subscriptions, observers, timers) is registered on one
// Lifetime, and the render's cleanup ends them all at once: no view writes its own removeEventListener.

type Handler = (...args: any[]) => void;

/** What a subscription needs of a model (anywidget's, a static page's, a compare panel's). */
interface Observable {
  on(eventName: string, callback: Handler): void;
  off(eventName?: string | null, callback?: Handler | null): void;
}

export class Lifetime {
  private readonly controller = new AbortController();
  private readonly disposers: (() => void)[] = [];

  /** Aborted when the render is cleaned up: pass it to addEventListener (`listen` does). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get ended(): boolean {
    return this.controller.signal.aborted;
  }

  /** `target.addEventListener(type, handler)` until the end of the render. */
  listen<K extends keyof HTMLElementEventMap>(
    target: HTMLElement, type: K, handler: (event: HTMLElementEventMap[K]) => void, options?: AddEventListenerOptions,
  ): void;
  listen(target: EventTarget, type: string, handler: (event: Event) => void, options?: AddEventListenerOptions): void;
  listen(target: EventTarget, type: string, handler: (event: any) => void, options: AddEventListenerOptions = {}): void {
    target.addEventListener(type, handler, { ...options, signal: this.controller.signal });
  }

  /** `model.on("change:<name>", handler)` for each name until the end of the render. */
  onChange(model: Observable, names: readonly string[], handler: Handler): void {
    for (const name of names) model.on(`change:${name}`, handler);
    this.add(() => {
      for (const name of names) model.off(`change:${name}`, handler);
    });
  }

  /** Run `dispose` when the render ends (a ResizeObserver's disconnect, a timer's clear, ...). */
  add(dispose: () => void): void {
    if (this.ended) dispose();
    else this.disposers.push(dispose);
  }

  end(): void {
    if (this.ended) return;
    this.controller.abort();
    for (const dispose of this.disposers.splice(0).reverse()) dispose();
  }
}
