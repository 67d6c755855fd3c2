import type { Model } from "../model";
import type { Selection } from "../selection";
import type { Theme } from "../theme";

export interface ViewContext {
  model: Model;
  selection: Selection;
  /** The current theme (re-read after a theme switch). */
  theme(): Theme;
}

export interface View {
  /** The view's panel, appended by widget.ts. */
  root: HTMLElement;
  /** Redraw everything (after a theme switch). */
  repaint(): void;
  dispose(): void;
}
