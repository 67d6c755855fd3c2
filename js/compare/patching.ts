// "Patch A → B" (data-testid="patch"): how much of prompt B's next-token prediction moves toward prompt A's
// when the selected head's output in B's run is taken from A's run (attnwidget/widgets/patching.py computes
// it; its numbers arrive in `_patch`). Python computes it while `patching` is on (the "patch" button); the
// pair is `patch_pair`. Shown: the fraction moved as a number and a 0..1 bar, A's and B's top tokens in the
// three runs, B's top 5 before → after; exact values in each number's tooltip.
import { formatWeight } from "../color";
import { formatSigned } from "../effects";
import { el } from "../dom";
import { hasKernel } from "../kernel";
import type { Lifetime } from "../lifetime";
import type { Selection } from "../selection";
import type { View } from "../views/view";
import { type PatchNumbers, type PatchRow, decodePatch, fractionBar, orderedPairs, patchIsFor } from "./logic";
import type { CompareModel } from "./model";

export interface PatchingContext {
  model: CompareModel;
  /** Any panel's selection: the selected layer and head are shared by all. */
  selection: Selection;
  lifetime: Lifetime;
}

/** A log-probability, short; its tooltip carries the exact value and the probability. */
const short = (value: number) => (Number.isFinite(value) ? value.toFixed(3).replace("-", "−") : "–");
const exact = (value: number) => `log p = ${value.toPrecision(7)} (p = ${formatWeight(Math.exp(value), 4)})`;
const quoted = (token: string) => `“${token}”`;

export function createPatching({ model, selection, lifetime }: PatchingContext): View {
  const info = model.get("_info");
  const labels = info.labels;
  const pairOf = (): [number, number] => model.get("patch_pair");
  const live = () => hasKernel(model, root);

  const root = el("section", "aw-panel aw-patch-panel", undefined, { "data-testid": "patch" });
  const header = el("div", "aw-panel-header");
  const title = el("h3", "aw-title");
  const headText = el("span", "aw-hint");
  const pairSelect = el("select", "aw-select", undefined, { "aria-label": "prompts to patch", title: "patch the head from the first prompt into the second" });
  for (const [a, b] of orderedPairs(labels.length)) {
    pairSelect.append(el("option", undefined, `${labels[a]} → ${labels[b]}`, { value: `${a},${b}` }));
  }
  const pairLabel = el("label", "aw-control", "pair ");
  pairLabel.append(pairSelect);
  const button = el("button", "aw-button aw-patch-button", "patch", { type: "button", "aria-pressed": "false", "data-testid": "patch-button" });
  header.append(title, headText, pairLabel, button);

  const definition = el("div", "aw-hint aw-patch-definition");
  const status = el("div", "aw-patch-status", undefined, { role: "status", "data-testid": "patch-status" });

  // The result: fraction (or Δ log p when A and B predict one token), the two tops in three runs, B's top 5.
  const result = el("div", "aw-patch-result", undefined, { "data-testid": "patch-result" });
  const moved = el("div", "aw-patch-moved");
  const movedLabel = el("span", "aw-patch-moved-label");
  const fraction = el("span", "aw-patch-fraction", undefined, { "data-testid": "patch-fraction" });
  moved.append(movedLabel, fraction);
  const bar = el("div", "aw-patch-bar", undefined, { "data-testid": "patch-bar" });
  const track = el("div", "aw-patch-track");
  const fill = el("div", "aw-patch-fill");
  track.append(fill);
  const scale = el("div", "aw-patch-scale");
  const scaleLeft = el("span");
  const scaleRight = el("span");
  scale.append(scaleLeft, scaleRight);
  bar.append(track, scale);
  const table = el("table", "aw-patch-table", undefined, { "data-testid": "patch-tops" });
  const tops = el("div", "aw-patch-top", undefined, { "data-testid": "patch-top" });
  result.append(moved, bar, table, tops);
  root.append(header, definition, status, result);

  const setPair = () => {
    const [a, b] = pairSelect.value.split(",").map(Number);
    model.set("patch_pair", [a, b]);
    model.save_changes();
  };
  lifetime.listen(pairSelect, "change", setPair);
  lifetime.listen(button, "click", () => {
    model.set("patching", !model.get("patching"));
    model.save_changes();
  });

  const fillTable = (n: PatchNumbers, a: string, b: string) => {
    table.replaceChildren();
    const head = el("tr");
    head.append(
      el("th", "aw-patch-rowname", "log p", { title: "log-probability of the next token after the last one, in each run" }),
      ...[a, b, `${b} patched`].map((text) => el("th", undefined, text, { title: `in ${text === `${b} patched` ? `${b}'s patched run` : `${text}'s run`}` })),
    );
    const thead = el("thead");
    thead.append(head);
    const body = el("tbody");
    const row = (name: string, rowTitle: string, values: number[], titles: string[]) => {
      const tr = el("tr");
      const th = el("th", "aw-patch-rowname", name, { title: rowTitle });
      tr.append(th, ...values.map((v, i) => el("td", undefined, short(v), { title: titles[i] })));
      body.append(tr);
    };
    const tokenRow = (who: string, r: PatchRow) =>
      row(`${who}'s top ${quoted(r.token)}`, `${who}'s top next token ${quoted(r.token)} (id ${r.id})`, [r.source, r.target, r.patched], [
        `in ${a}'s run: ${exact(r.source)}`, `in ${b}'s run: ${exact(r.target)}`, `in ${b}'s run, patched: ${exact(r.patched)}`,
      ]);
    tokenRow(n.info.same_top ? `${a}'s and ${b}` : a, n.sourceTop);
    if (!n.info.same_top) {
      tokenRow(b, n.targetTop);
      const ldTitle = `LD = log p(${quoted(n.sourceTop.token)}) − log p(${quoted(n.targetTop.token)}), the logit difference`;
      row("LD", ldTitle, [n.ld.source, n.ld.target, n.ld.patched], [
        `LD in ${a}'s run = ${n.ld.source.toPrecision(7)}`, `LD in ${b}'s run = ${n.ld.target.toPrecision(7)}`,
        `LD in ${b}'s patched run = ${n.ld.patched.toPrecision(7)}`,
      ]);
    }
    table.append(thead, body);
  };

  const fillTops = (n: PatchNumbers, b: string) => {
    tops.replaceChildren();
    const column = (name: string, rows: PatchRow[], value: (r: PatchRow) => number, where: string) => {
      const box = el("div", "aw-patch-top-column");
      const list = el("ol", "aw-patch-top-list");
      for (const r of rows) {
        const item = el("li", "aw-patch-top-item", undefined, { title: `${quoted(r.token)} (id ${r.id}) ${where}: ${exact(value(r))}` });
        item.append(el("span", "aw-token-text aw-patch-tok", r.token), el("span", "aw-patch-p", formatWeight(Math.exp(value(r)))));
        list.append(item);
      }
      box.append(el("div", "aw-patch-top-title", name), list);
      return box;
    };
    tops.append(
      column(`${b}'s top ${n.before.length} (p), before`, n.before, (r) => r.target, `in ${b}'s run`),
      el("span", "aw-patch-arrow", "→", { "aria-hidden": "true" }),
      column("after the patch", n.after, (r) => r.patched, `in ${b}'s patched run`),
    );
  };

  const fillMoved = (n: PatchNumbers, a: string, b: string) => {
    if (n.info.same_top) {
      movedLabel.textContent = `${a} and ${b} both predict ${quoted(n.targetTop.token)}: no fraction. Its Δ log p in ${b}:`;
      fraction.textContent = formatSigned(n.delta);
      fraction.title = `log p(${quoted(n.targetTop.token)}) in ${b}'s run: ${n.targetTop.target.toPrecision(7)} → ${n.targetTop.patched.toPrecision(7)} patched (Δ = ${n.delta.toPrecision(7)})`;
      root.dataset.fraction = "undefined";
      bar.hidden = true;
      return;
    }
    const { ld } = n;
    movedLabel.textContent = `moved toward ${a}'s prediction:`;
    fraction.textContent = Number.isFinite(n.fraction) ? short(n.fraction) : "undefined";
    fraction.title =
      `(LD_patched − LD_${b}) / (LD_${a} − LD_${b}) = (${ld.patched.toPrecision(6)} − ${ld.target.toPrecision(6)}) / ` +
      `(${ld.source.toPrecision(6)} − ${ld.target.toPrecision(6)}) = ${n.fraction.toPrecision(7)}`;
    root.dataset.fraction = String(n.fraction);
    const { fill: share, beyond } = fractionBar(n.fraction);
    bar.hidden = false;
    fill.style.width = `${100 * share}%`;
    track.title = `fraction moved ${n.fraction.toPrecision(5)}${beyond === "below" ? ` (below 0: ${b}'s prediction moved away from ${a}'s)` : beyond === "above" ? ` (above 1: past ${a}'s)` : ""}`;
    scaleLeft.textContent = beyond === "below" ? `◂ 0 (moved away)` : `0: ${b}'s own`;
    scaleRight.textContent = beyond === "above" ? `1 (went past) ▸` : `1: all the way to ${a}'s`;
  };

  const paint = () => {
    const [a, b] = pairOf();
    const la = labels[a];
    const lb = labels[b];
    const on = model.get("patching");
    const layer = selection.layer;
    const head = selection.head;
    pairSelect.value = `${a},${b}`;
    title.textContent = `Patch ${la} → ${lb}`;
    headText.textContent = `layer ${layer} · head ${head}`;
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "patching ✓" : "patch";
    button.title = on
      ? "click to stop computing the patch for each selected head"
      : `compute it for the selected head (and for each head selected after)`;
    const sameLength = info.seq_lens[a] === info.seq_lens[b];
    definition.textContent = sameLength
      ? `${lb}'s run with this head's output taken from ${la}'s run at all ${info.seq_lens[b]} positions; read after the last token.`
      : `${lb}'s run with this head's output taken from ${la}'s run at the last position only (${lb} has ${info.seq_lens[b]} tokens, ${la} ${info.seq_lens[a]}); read after it.`;

    const patch = model.get("_patch");
    const shownInfo = patch && "info" in patch ? patch.info : undefined;
    const numbers = decodePatch(patch);
    const current = patchIsFor(shownInfo, [a, b], layer, head);
    const kernel = live();
    let state: string;
    let message = "";
    if (shownInfo?.unavailable) {
      state = "unavailable";
      message = shownInfo.unavailable;
    } else if (!on) {
      state = "off";
      message = kernel
        ? `“patch”: how much of ${lb}'s prediction moves toward ${la}'s with this head taken from ${la}.`
        : "Patching needs a running kernel (this page has none).";
    } else if (current && numbers) {
      state = "shown";
    } else if (kernel) {
      state = "computing";
      message = "computing…";
    } else {
      state = "no-kernel";
      message = `This head's patch is not in the saved page: it needs a running kernel.`;
    }
    root.dataset.state = state;
    root.dataset.shown = numbers ? `${numbers.info.pair.join(" ")} ${numbers.info.layer} ${numbers.info.head}` : "";
    status.textContent = message;
    status.hidden = !message;
    button.disabled = state === "unavailable" || (!kernel && !on);
    pairSelect.disabled = state === "unavailable";
    // While Python computes, the previous patch stays in view, dimmed (no jump); without a kernel none is coming.
    result.hidden = !numbers || !(state === "shown" || state === "computing");
    result.classList.toggle("is-stale", state !== "shown");
    if (!numbers || result.hidden) return;
    const sa = labels[numbers.info.pair[0]];
    const sb = labels[numbers.info.pair[1]];
    fillMoved(numbers, sa, sb);
    fillTable(numbers, sa, sb);
    fillTops(numbers, sb);
  };

  lifetime.onChange(model, ["_patch", "patching", "patch_pair", "layer", "head"], paint);
  paint();
  return { name: "patch", root, repaint: paint };
}
