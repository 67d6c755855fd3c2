// Whether a kernel stands behind the model a view draws. Views that ask Python for data (the logit lens of
// another token, the heatmap's full maps and zoom windows) say that this needs a running kernel instead of
// waiting ("computing…") for an answer that cannot come.
//
// Models with no kernel behind them:
// - static.ts's LocalModel (export_html pages, benchmarks) and the compare panels over one: `isStatic`;
// - an ipywidgets model without a live comm: a page rendered by @jupyter-widgets/html-manager (static
//   notebook pages; VS Code's renderer is built on it), a notebook reopened from its saved widget state in
//   JupyterLab or Notebook 7 (the fresh kernel holds no such widget), a widget whose comm was closed.
//   anywidget hands `render` a proxy of the model (get/set/on/send/widget_manager only: `comm_live` is not
//   on it), but ipywidgets' DOMWidgetView keeps the class below on its element, the `el` anywidget renders
//   into, for exactly as long as its model's comm is not live (ipywidgets 7 and 8 alike).
// Hosts with models of their own (marimo) always run a kernel.
const DISCONNECTED = "jupyter-widgets-disconnected";

/**
 * False when nothing can answer the model's requests: a model that says `isStatic`, or a render inside an
 * ipywidgets view marked disconnected. `node` is any element of the render; it tells only once it is in
 * the host's element (during `render`, a view's own root is not yet), so read this when it is needed.
 */
export function hasKernel(model: object, node?: Pick<Element, "closest"> | null): boolean {
  if ((model as { isStatic?: unknown }).isStatic === true) return false;
  return !node?.closest(`.${DISCONNECTED}`);
}
