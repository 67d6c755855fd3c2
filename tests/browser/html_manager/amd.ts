// anywidget's front-end on npm (`anywidget/dist/index.js`) is an AMD module: it calls
// `define(["@jupyter-widgets/base"], factory)` and exports nothing. This module gives it a `define` that keeps
// the factory; page.ts calls it with the same @jupyter-widgets/base the HTMLManager uses, so anywidget's
// AnyModel and AnyView extend the manager's own WidgetModel and DOMWidgetView. Imported before anywidget.
// No `define.amd`: the UMD modules in the bundle (Backbone, jQuery, underscore) test for it and would register
// themselves here instead of through esbuild's CommonJS wrappers.
type Factory = (...deps: unknown[]) => unknown;

export const definitions: { deps: string[]; factory: Factory }[] = [];

function define(deps: string[], factory: Factory): void {
  definitions.push({ deps, factory });
}

(globalThis as { define?: unknown }).define = define;
