// Pure logic of the logit-lens view (js/views/logitLens.ts): which position it shows, what it says, how a
// row is labelled, how a probability is written and shaded. No DOM here (tested in lens.test.ts).
import type { Tick } from "./color";

export interface LensInput {
  /** Pinned token, -1 for none. */
  pinned: number;
  /** Token under the pointer, -1 for none. */
  hovered: number;
  /** Position the data describes (`_lens_info.position`), -1 when there is none. */
  shown: number;
  /** Whether the data is complete: rows × k texts and probabilities. */
  complete: boolean;
  /** No kernel behind the model (kernel.ts: exported page, saved widget state, html-manager page): nothing
   * new can be computed, only what the saved state holds is shown. */
  isStatic: boolean;
  /** Why the model has no logit lens (encoders), if so. */
  unavailable?: string;
}

export interface LensStatus {
  /** "table": draw the rows; "empty": only the message. */
  mode: "table" | "empty";
  /** The rows are for another position than the one wanted (being computed, or no kernel). */
  stale: boolean;
  /** The position the person is pointing at or pinned (-1: none). */
  wanted: number;
  /** How the shown position was chosen. */
  why: "pinned" | "hovered" | "last" | "none";
  /** Sentence for the header, beside the position. */
  message: string;
}

/** The position the view should show: the pinned token, else the hovered one. */
export function lensTarget(pinned: number, hovered: number): number {
  return pinned >= 0 ? pinned : hovered;
}

export function lensStatus(input: LensInput): LensStatus {
  const wanted = lensTarget(input.pinned, input.hovered);
  if (input.unavailable) return { mode: "empty", stale: false, wanted, why: "none", message: input.unavailable };
  const has = input.shown >= 0 && input.complete;
  if (!has) {
    let message = "hover a token to see what each layer predicts next; click pins it";
    if (input.isStatic) {
      message = "no token was pinned when this widget was saved: hover needs the live widget (a running kernel)";
    } else if (wanted >= 0) {
      message = "computing…";
    }
    return { mode: "empty", stale: false, wanted, why: "none", message };
  }
  if (wanted < 0) {
    return { mode: "table", stale: false, wanted, why: "last", message: "last hovered token; click a token to pin it" };
  }
  const why = input.pinned >= 0 ? "pinned" : "hovered";
  if (wanted === input.shown) return { mode: "table", stale: false, wanted, why, message: why };
  const message = input.isStatic
    ? `#${wanted} is not in the saved state: hover needs the live widget (a running kernel)`
    : `computing #${wanted}…`;
  return { mode: "table", stale: true, wanted, why, message };
}

/** Row label: row 0 is the embeddings, row r the output of layer r - 1; the last row is the model's output. */
export function lensRowLabel(row: number): string {
  if (row === 0) return "emb";
  return `L${row - 1}`;
}

/** Tooltip text of a row. */
export function lensRowTitle(row: number, rows: number): string {
  if (row === 0) return "embeddings (before layer 0), through the final norm and unembedding";
  const last = row === rows - 1 ? " = the model's own prediction" : "";
  return `output of layer ${row - 1}, through the final norm and unembedding${last}`;
}

/** A probability as a short percentage: "42%", "3.1%", "0.27%", "<0.01%". */
export function formatProb(p: number): string {
  if (!(p > 0)) return "0%";
  const pct = p * 100;
  if (pct >= 99.5) return "100%";
  if (pct >= 10) return `${Math.round(pct)}%`;
  if (pct >= 1) return `${pct.toFixed(1)}%`;
  if (pct >= 0.01) return `${pct.toFixed(2)}%`;
  return "<0.01%";
}

/** Opacity of a cell's shade for probability p: square root, so 1% is still visible; at most `max`. */
export function probShade(p: number, max = 0.6): number {
  if (!(p > 0)) return 0;
  return Math.round(Math.min(1, Math.sqrt(p)) * max * 1000) / 1000;
}

/** The most opaque shade of a cell (probability 1). */
export const LENS_SHADE = 0.55;

/** Legend ticks of the cell shade: a position along the bar is the shade's opacity / LENS_SHADE = √p. */
export function lensLegendTicks(): Tick[] {
  return [0, 0.01, 0.1, 0.5, 1].map((p) => ({ at: Math.sqrt(p), label: formatProb(p) }));
}
