// A ranked list of heads (the head-roles view's top heads, the compare ranking): one button per head,
// "rank. [mark] L·H [parts]", with data-layer / data-head / data-rank on its item; hover previews the head,
// a click selects it.
import { el } from "../dom";
import type { Lifetime } from "../lifetime";
import type { SelectMessage } from "../model";
import type { HeadRef, Selection } from "../selection";

export interface HeadListEntry extends HeadRef {
  /** Before the head's name (a colour swatch). */
  mark?: HTMLElement;
  /** After the head's name: its value (text goes in through textContent only). */
  parts: HTMLElement[];
}

export interface HeadList {
  root: HTMLOListElement;
  /** Replace the items (in ranking order), or show `empty` when there are none. */
  fill(entries: HeadListEntry[], empty?: string): void;
  /** Mark the selected head's item. */
  markSelected(selected: HeadRef): void;
}

/** `className` sets the list's own layout (its columns) in the CSS. */
export function createHeadList(
  lifetime: Lifetime,
  className: string,
  on: { select(head: HeadRef): void; preview(head: HeadRef | null): void },
  attrs: Record<string, string> = {},
): HeadList {
  const root = el("ol", `aw-heads-list ${className}`, undefined, attrs);
  let items: HTMLLIElement[] = [];
  const headOf = (event: Event): HeadRef | null => {
    const item = event.target instanceof Element ? event.target.closest<HTMLElement>(".aw-heads-item") : null;
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
        const item = el("li", "aw-heads-item", undefined, {
          "data-layer": String(entry.layer), "data-head": String(entry.head), "data-rank": String(rank),
        });
        const button = el("button", "aw-heads-button", undefined, {
          type: "button", title: `select layer ${entry.layer}, head ${entry.head}`,
        });
        button.append(el("span", "aw-heads-rank", `${rank + 1}.`));
        if (entry.mark) button.append(entry.mark);
        button.append(el("span", "aw-heads-name", `L${entry.layer} · H${entry.head}`), ...entry.parts);
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

/** A list whose items select their head (Python's `on_select` sees `source`) and preview it on hover: the
 * lists of heads in the side panel's views. */
export function createSelectingHeadList(
  lifetime: Lifetime, selection: Selection, source: SelectMessage["source"], className: string,
  attrs: Record<string, string> = {},
): HeadList {
  return createHeadList(lifetime, className, {
    select: (head) => selection.selectHead(head.layer, head.head, source),
    preview: (head) => selection.preview(head),
  }, attrs);
}
