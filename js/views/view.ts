import type { Lifetime } from "../lifetime";
import type { Model } from "../model";
import type { Selection } from "../selection";
import type { Theme } from "../theme";

/** What every view of a render shares. */
export interface ViewContext {
  model: Model;
  selection: Selection;
  /** The current theme (re-read after a theme switch). */
  theme(): Theme;
  /** DOM listeners, model subscriptions, observers and timers of the render: all end with it, so no view
   * disposes anything by hand. */
  lifetime: Lifetime;
}

export interface View {
  /** What the view is (its data-testid), for timings. */
  name: string;
  /** The view's panel, placed by the render shell. */
  root: HTMLElement;
  /** Redraw everything (after a theme switch or when the view becomes visible). */
  repaint(): void;
}
