// Colours come from CSS custom properties (widget.css maps JupyterLab / VS Code variables onto --aw-*),
// read at paint time so that a theme switch repaints correctly.
import { type RGB, divergingLut, packRGBA, parseColor, sequentialLut } from "./color";
import type { Lifetime } from "./lifetime";

export interface Theme {
  fg: RGB;
  muted: RGB;
  bg: RGB;
  border: RGB;
  accent: RGB;
  pin: RGB;
  font: string;
  sequential: Uint32Array;
  diverging: Uint32Array;
  /** Packed colour of masked cells (keys a causal query cannot see). */
  masked: number;
}

const SEQUENTIAL = sequentialLut();

let probe: CanvasRenderingContext2D | null = null;

/** Any CSS colour ("white", "#abc", "rgb(...)", "hsl(...)") → RGB, through a canvas's own parser. */
export function resolveColor(text: string, fallback: RGB): RGB {
  const value = text.trim();
  if (!value) return fallback;
  probe ??= document.createElement("canvas").getContext("2d");
  if (!probe) return parseColor(value, fallback);
  probe.fillStyle = "#010203";
  probe.fillStyle = value;
  const normalised = String(probe.fillStyle);
  if (normalised === "#010203" && value !== "#010203") return parseColor(value, fallback);
  return parseColor(normalised, fallback);
}

export function readTheme(root: HTMLElement): Theme {
  const style = getComputedStyle(root);
  const read = (name: string, fallback: RGB) => resolveColor(style.getPropertyValue(name), fallback);
  const bg = read("--aw-bg", [255, 255, 255]);
  const fg = read("--aw-fg", [31, 35, 40]);
  const maskedRGB = read("--aw-masked", [240, 240, 240]);
  return {
    fg,
    muted: read("--aw-muted", [95, 99, 104]),
    bg,
    border: read("--aw-border", [208, 215, 222]),
    accent: read("--aw-accent", [25, 118, 210]),
    pin: read("--aw-pin", [232, 89, 12]),
    font: style.getPropertyValue("--aw-font").trim() || "system-ui, sans-serif",
    sequential: SEQUENTIAL,
    diverging: divergingLut(bg),
    masked: packRGBA(maskedRGB),
  };
}

/**
 * Call `onChange` when JupyterLab, VS Code or the OS switch between light and dark, until `lifetime` ends.
 * JupyterLab flips its body attributes while it swaps stylesheets (boxes can measure 0 wide in between), so
 * the call waits for the next frame, and runs once more a little later for stylesheets that load late.
 */
export function watchTheme(onChange: () => void, lifetime: Lifetime): void {
  let frame = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const schedule = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(onChange);
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(onChange, 400);
  };
  const observer = new MutationObserver(schedule);
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"] });
  const media = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  if (media) lifetime.listen(media, "change", schedule);
  lifetime.add(() => {
    observer.disconnect();
    cancelAnimationFrame(frame);
    if (timer !== null) clearTimeout(timer);
  });
}
