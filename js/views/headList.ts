// A ranked list of heads (the head-scores view's top heads, the compare ranking): one button per head with
// data-layer / data-head / data-rank on its item; hover previews the head, a click selects it.
import { el } from "../dom";
import type { Lifetime } from "../lifetime";
import type { HeadRef } from "../selection";

export interface HeadListEntry extends HeadRef {
  /** What the button shows, in order (text goes in through textContent only). */
  parts: HTMLElement[];
}

export interface HeadList {
  root: HTMLOListElement;
  /** Replace the items (in ranking order), or show `empty` when there are none. */
  fill(entries: HeadListEntry[], empty?: string): void;
  /** Mark the selected head's item. */
  markSelected(selected: HeadRef): void;
}

/** `prefix` names the CSS classes: `<prefix>-list`, `-item`, `-button`. */
export function createHeadList(
  lifetime: Lifetime,
  prefix: string,
  on: { select(head: HeadRef): void; preview(head: HeadRef | null): void },
  attrs: Record<string, string> = {},
): HeadList {
  const root = el("ol", `${prefix}-list`, undefined, attrs);
  let items: HTMLLIElement[] = [];
  const headOf = (event: Event): HeadRef | null => {
    const item = event.target instanceof Element ? event.target.closest<HTMLElement>(`.${prefix}-item`) : null;
    return item ? { layer: Number(item.dataset.layer), head: Number(item.dataset.head) } : null;
  };
  lifetime.listen(root, "click", (event) => {
    const head = headOf(event);
    if (head) on.select(head);
  });
  lifetime.listen(root, "mouseover", (event) => on.preview(headOf(event)));
  lifetime.listen(root, "mouseleave", () => on.preview(null));

  return {
    root,
    fill(entries, empty) {
      items = entries.map((entry, rank) => {
        const item = el("li", `${prefix}-item`, undefined, {
          "data-layer": String(entry.layer), "data-head": String(entry.head), "data-rank": String(rank),
        });
        const button = el("button", `${prefix}-button`, undefined, {
          type: "button", title: `select layer ${entry.layer}, head ${entry.head}`,
        });
        button.append(...entry.parts);
        item.append(button);
        return item;
      });
      root.replaceChildren(...items);
      if (!items.length && empty) root.append(el("li", "aw-hint", empty));
    },
    markSelected({ layer, head }) {
      for (const item of items) {
        item.classList.toggle("is-selected", Number(item.dataset.layer) === layer && Number(item.dataset.head) === head);
      }
    },
  };
}
