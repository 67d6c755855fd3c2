import { describe, expect, it } from "vitest";
import {
  cellAt, cellRect, clipLabel, gridCellSize, labelStep, legendLabels, legendPad, statsCellAt, statsGeometry, thinnedIndices,
} from "./layout";

describe("cellAt (which cell is under a point)", () => {
  it("maps points to rows and columns of equal size", () => {
    // 30 layers × 9 heads at 24 px
    expect(cellAt(0, 0, 216, 720, 30, 9)).toEqual({ row: 0, col: 0 });
    expect(cellAt(215.9, 719.9, 216, 720, 30, 9)).toEqual({ row: 29, col: 8 });
    expect(cellAt(24, 48, 216, 720, 30, 9)).toEqual({ row: 2, col: 1 });
    expect(cellAt(23.99, 47.99, 216, 720, 30, 9)).toEqual({ row: 1, col: 0 });
  });

  it("returns null outside the box, including its right and bottom edges", () => {
    expect(cellAt(-0.1, 5, 100, 100, 4, 4)).toBeNull();
    expect(cellAt(5, 100, 100, 100, 4, 4)).toBeNull();
    expect(cellAt(100, 5, 100, 100, 4, 4)).toBeNull();
    expect(cellAt(Number.NaN, 5, 100, 100, 4, 4)).toBeNull();
  });

  it("works when cells are smaller than a pixel (1024 tokens in 500 px)", () => {
    expect(cellAt(250, 499.99, 500, 500, 1024, 1024)).toEqual({ row: 1023, col: 512 });
  });

  it("round-trips with cellRect centres", () => {
    for (let row = 0; row < 7; row++) {
      for (let col = 0; col < 5; col++) {
        const r = cellRect({ row, col }, 333, 217, 7, 5);
        expect(cellAt(r.x + r.w / 2, r.y + r.h / 2, 333, 217, 7, 5)).toEqual({ row, col });
      }
    }
  });
});

describe("grid and stats geometry", () => {
  it("keeps the head grid within ~300 × 510 px with cells of 10..56 px", () => {
    expect(gridCellSize(30, 9)).toBe(17);
    expect(gridCellSize(12, 12)).toBe(25);
    expect(gridCellSize(2, 4)).toBe(56);
    expect(gridCellSize(96, 32)).toBe(10);
  });

  it("hit-tests the layer-stats matrices and their gaps", () => {
    const g = statsGeometry(30, 9, 4);
    const panel = 9 * g.cellWidth + g.gap;
    expect(statsCellAt(1, 1, g.height, 30, 9, 4, g.cellWidth, g.gap)).toEqual({ layer: 0, panel: 0, head: 0 });
    expect(statsCellAt(panel * 2 + g.cellWidth * 3 + 1, g.height - 1, g.height, 30, 9, 4, g.cellWidth, g.gap))
      .toEqual({ layer: 29, panel: 2, head: 3 });
    expect(statsCellAt(9 * g.cellWidth + 1, g.rowHeight * 5 + 1, g.height, 30, 9, 4, g.cellWidth, g.gap))
      .toEqual({ layer: 5, panel: -1, head: -1 });
    expect(statsCellAt(g.width, 1, g.height, 30, 9, 4, g.cellWidth, g.gap)).toBeNull();
    expect(g.width).toBe(4 * 9 * g.cellWidth + 3 * g.gap);
    expect(g.height).toBe(30 * g.rowHeight);
  });

  it("fits the layer-stats matrices into the room they are given", () => {
    expect(statsGeometry(30, 9, 4).width).toBeLessThanOrEqual(600);
    for (const room of [600, 420, 300, 264]) {
      const g = statsGeometry(30, 9, 4, room);
      expect(g.width).toBeLessThanOrEqual(room);
      expect(g.cellWidth).toBeGreaterThanOrEqual(6);
    }
    expect(statsGeometry(30, 9, 4, 300).gap).toBe(8);
    // Too narrow even at 6 px a cell: the smallest cells, wider than the room.
    expect(statsGeometry(30, 32, 4, 300).cellWidth).toBe(6);
  });
});

describe("axis label thinning", () => {
  it("chooses nice steps so labels are at least minGap apart", () => {
    expect(labelStep(20, 12)).toBe(1);
    expect(labelStep(0.5, 12)).toBe(50);
    expect(labelStep(7, 12)).toBe(2);
    expect(labelStep(3, 12)).toBe(5);
    expect(labelStep(0, 12)).toBe(Infinity);
  });

  it("thins 1024 tokens in 512 px to every 50th", () => {
    const idx = thinnedIndices(1024, 0.5, 12);
    expect(idx.slice(0, 3)).toEqual([0, 50, 100]);
    expect(idx.length).toBe(21);
  });

  it("clips long labels by characters, not UTF-16 units", () => {
    expect(clipLabel("short", 12)).toBe("short");
    expect(clipLabel("abcdefghijklmnop", 6)).toBe("abcde…");
    expect(clipLabel("😀😀😀😀", 3)).toBe("😀😀…");
  });
});

describe("legendLabels (where a legend's tick labels go)", () => {
  const measure = (text: string) => text.length * 6;

  it("anchors the end labels inwards and centres the others on their ticks", () => {
    const labels = legendLabels([{ at: 0, label: "0" }, { at: 0.5, label: "0.5" }, { at: 1, label: "1" }], 200, measure);
    const pad = legendPad(200);
    expect(labels.map((l) => l.align)).toEqual(["left", "center", "right"]);
    expect(labels.map((l) => l.x)).toEqual([pad, 100, 200 - pad]);
    expect(labels[0].textX).toBe(pad - 2);
    expect(labels[2].textX).toBe(200 - pad + 2);
    expect(labels.every((l) => l.shown)).toBe(true);
  });

  it("always draws both ends and drops a middle label that would touch one", () => {
    const ticks = [{ at: 0, label: "1.00e−4" }, { at: 0.05, label: "0.001" }, { at: 0.5, label: "0.01" }, { at: 1, label: "1" }];
    const labels = legendLabels(ticks, 140, measure);
    expect(labels.map((l) => l.shown)).toEqual([true, false, true, true]);
  });

  it("keeps the bar's padding within 14..30 px", () => {
    expect(legendPad(100)).toBe(14);
    expect(legendPad(220)).toBe(22);
    expect(legendPad(600)).toBe(30);
  });
});
