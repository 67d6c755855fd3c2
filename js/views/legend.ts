// The colour legend under the heatmap: the LUT as a bar, with ticks in attention weights.
import { cssColor, legendTicks, unpackRGBA } from "../color";
import { canvas, el, fitCanvas } from "../dom";
import type { ColorScale } from "../model";
import type { Theme } from "../theme";

const FULL_WIDTH = 260;
const MIN_WIDTH = 140;
const HEIGHT = 30;
const BAR = 10;
const PAD = 20;

const DESCRIPTIONS: Record<ColorScale, string> = {
  linear: "linear in weight",
  gamma: "square root: small weights visible",
  row: "each query row scaled to its own max",
  log: "log scale, 4 decades below the max",
};

export function createLegend(): { root: HTMLElement; paint(theme: Theme, scale: ColorScale, max: number): void } {
  const root = el("div", "aw-legend");
  const bar = canvas("aw-legend-bar");
  bar.style.width = `${FULL_WIDTH}px`;
  bar.style.height = `${HEIGHT}px`;
  const note = el("span", "aw-hint");
  root.append(bar, note);

  const paint = (theme: Theme, scale: ColorScale, max: number) => {
    note.textContent = DESCRIPTIONS[scale];
    // Narrower than FULL_WIDTH only when the legend's own box is (a CompareWidget panel); 0 while detached.
    const room = root.clientWidth - (parseFloat(getComputedStyle(root).paddingLeft) || 0);
    const width = room > 0 ? Math.max(MIN_WIDTH, Math.min(FULL_WIDTH, Math.floor(room))) : FULL_WIDTH;
    bar.style.width = `${width}px`;
    const ctx = fitCanvas(bar, width, HEIGHT);
    if (!ctx) return;
    ctx.clearRect(0, 0, width, HEIGHT);
    const span = width - 2 * PAD;
    for (let i = 0; i < 256; i++) {
      const [r, g, b] = unpackRGBA(theme.sequential[i]);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(PAD + (i / 256) * span, 0, span / 256 + 0.5, BAR);
    }
    ctx.font = `10px ${theme.font}`;
    ctx.textBaseline = "top";
    ctx.textAlign = "center";
    ctx.fillStyle = cssColor(theme.fg);
    ctx.strokeStyle = cssColor(theme.muted);
    let lastRight = -Infinity;
    for (const tick of legendTicks(scale, max)) {
      const x = PAD + tick.at * span;
      ctx.beginPath();
      ctx.moveTo(x, BAR);
      ctx.lineTo(x, BAR + 3);
      ctx.stroke();
      const w = ctx.measureText(tick.label).width;
      if (x - w / 2 > lastRight + 3) {
        ctx.fillText(tick.label, x, BAR + 5);
        lastRight = x + w / 2;
      }
    }
  };
  return { root, paint };
}
