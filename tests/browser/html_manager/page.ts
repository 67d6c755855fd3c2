// A static notebook page as @jupyter-widgets/html-manager renders one, offline: the widget state and view
// tags written by `ipywidgets.embed.embed_data` (the format of nbconvert's HTML and `embed_minimal_html`),
// rendered by an HTMLManager whose loader hands it anywidget's front-end, bundled here from npm instead of
// loaded from a CDN. VS Code's notebook renderer builds its widget manager on the same HTMLManager.
//
// As libembed's `renderWidgets` does, without its JSON-schema validation (ajv compiles validators with
// `new Function`, which the page's CSP forbids). Built by tests/browser/test_html_manager.py with esbuild.
import { definitions } from "./amd";
import "anywidget";
import * as base from "@jupyter-widgets/base";
import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager";

const STATE = 'script[type="application/vnd.jupyter.widget-state+json"]';
const VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]';

function anywidgetModule(): Record<string, unknown> {
  const found = definitions.find((d) => d.deps.length === 1 && d.deps[0] === "@jupyter-widgets/base");
  if (!found) throw new Error("anywidget's front-end did not define itself");
  return found.factory(base) as Record<string, unknown>;
}

async function main(): Promise<void> {
  const anywidget = anywidgetModule();
  const manager = new HTMLManager({
    loader: (name: string, version: string) =>
      name === "anywidget" ? Promise.resolve(anywidget) : Promise.reject(new Error(`no module ${name}@${version} offline`)),
  });
  const stateTag = document.querySelector(STATE);
  if (!stateTag?.textContent) throw new Error("no widget state in the page");
  const models = await manager.set_state(JSON.parse(stateTag.textContent));
  for (const tag of Array.from(document.querySelectorAll(VIEW))) {
    const { model_id: id } = JSON.parse(tag.textContent ?? "{}") as { model_id: string };
    const model = models.find((m) => m.model_id === id);
    if (!model || !tag.parentElement) throw new Error(`no model ${id} in the widget state`);
    const host = document.createElement("div");
    host.className = "widget-subarea";
    host.dataset.modelId = id;
    tag.parentElement.insertBefore(host, tag);
    await manager.display_view(manager.create_view(model), host);
  }
  (globalThis as { widgetManager?: unknown }).widgetManager = manager;
}

main().then(
  () => {
    document.body.dataset.rendered = "yes";
  },
  (error: unknown) => {
    document.body.dataset.rendered = `failed: ${String(error)}`;
    throw error;
  },
);
