import { describe, expect, it } from "vitest";
import {
  LENS_SHADE, formatProb, lensLegendTicks, lensRowLabel, lensRowTitle, lensStatus, lensTarget, probShade,
} from "./lens";

const base = { pinned: -1, hovered: -1, shown: -1, complete: false, isStatic: false };

describe("lensTarget", () => {
  it("prefers the pinned token over the hovered one", () => {
    expect(lensTarget(3, 5)).toBe(3);
    expect(lensTarget(-1, 5)).toBe(5);
    expect(lensTarget(-1, -1)).toBe(-1);
    expect(lensTarget(0, -1)).toBe(0);
  });
});

describe("lensStatus", () => {
  it("is empty with a hint when there is nothing yet", () => {
    const s = lensStatus(base);
    expect(s.mode).toBe("empty");
    expect(s.message).toMatch(/hover a token/);
  });

  it("says hover needs the live widget on a static page without a pinned token", () => {
    const s = lensStatus({ ...base, isStatic: true, hovered: 2 });
    expect(s.mode).toBe("empty");
    expect(s.message).toMatch(/hover needs the live widget/);
  });

  it("shows the pinned position, fresh", () => {
    const s = lensStatus({ ...base, pinned: 4, hovered: 1, shown: 4, complete: true });
    expect(s).toMatchObject({ mode: "table", stale: false, wanted: 4, why: "pinned" });
  });

  it("shows the hovered position when nothing is pinned", () => {
    const s = lensStatus({ ...base, hovered: 2, shown: 2, complete: true });
    expect(s).toMatchObject({ mode: "table", stale: false, wanted: 2, why: "hovered" });
  });

  it("marks old rows stale while another position is computed", () => {
    const s = lensStatus({ ...base, hovered: 7, shown: 2, complete: true });
    expect(s).toMatchObject({ mode: "table", stale: true, wanted: 7 });
    expect(s.message).toMatch(/computing #7/);
  });

  it("on a static page, another position cannot be computed", () => {
    const s = lensStatus({ ...base, isStatic: true, hovered: 7, shown: 2, pinned: -1, complete: true });
    expect(s.stale).toBe(true);
    expect(s.message).toMatch(/hover needs the live widget/);
  });

  it("without a kernel, never waits: it shows what the saved state holds or says what needs the kernel", () => {
    for (const pinned of [-1, 2, 7]) {
      for (const hovered of [-1, 2, 7]) {
        for (const shown of [-1, 2]) {
          const s = lensStatus({ ...base, isStatic: true, pinned, hovered, shown, complete: shown >= 0 });
          expect(s.message).not.toMatch(/computing/);
          const wanted = pinned >= 0 ? pinned : hovered;
          if (shown >= 0 && wanted !== shown && wanted >= 0) expect(s.message).toMatch(/running kernel/);
          if (shown < 0) expect(s.message).toMatch(/running kernel/);
        }
      }
    }
  });

  it("keeps the last rows when the pointer leaves", () => {
    const s = lensStatus({ ...base, shown: 2, complete: true });
    expect(s).toMatchObject({ mode: "table", stale: false, why: "last" });
  });

  it("incomplete data is not drawn", () => {
    expect(lensStatus({ ...base, shown: 2, hovered: 2, complete: false }).mode).toBe("empty");
  });

  it("says why a model has no lens", () => {
    const s = lensStatus({ ...base, pinned: 1, unavailable: "tiny-bert is not a causal language model" });
    expect(s.mode).toBe("empty");
    expect(s.message).toMatch(/not a causal/);
  });
});

describe("row labels", () => {
  it("labels embeddings and layers", () => {
    expect([0, 1, 2, 3].map((r) => lensRowLabel(r))).toEqual(["emb", "L0", "L1", "L2"]);
    expect(lensRowTitle(0, 4)).toMatch(/embeddings/);
    expect(lensRowTitle(3, 4)).toMatch(/layer 2.*own prediction/);
    expect(lensRowTitle(2, 4)).not.toMatch(/own prediction/);
  });
});

describe("formatProb and probShade", () => {
  it("writes short percentages", () => {
    expect(formatProb(0.4213)).toBe("42%");
    expect(formatProb(0.031)).toBe("3.1%");
    expect(formatProb(0.0027)).toBe("0.27%");
    expect(formatProb(0.000001)).toBe("<0.01%");
    expect(formatProb(0.9999)).toBe("100%");
    expect(formatProb(0)).toBe("0%");
    expect(formatProb(Number.NaN)).toBe("0%");
  });

  it("shades by the square root, capped", () => {
    expect(probShade(0)).toBe(0);
    expect(probShade(1)).toBe(0.6);
    expect(probShade(0.25)).toBeCloseTo(0.3);
    expect(probShade(0.01)).toBeGreaterThan(0.05);
    expect(probShade(4)).toBe(0.6);
  });
});

describe("lens legend", () => {
  it("puts each probability where its shade sits on the bar", () => {
    const ticks = lensLegendTicks();
    expect(ticks.map((t) => t.label)).toEqual(["0%", "1.0%", "10%", "50%", "100%"]);
    for (const t of ticks) {
      const p = Number.parseFloat(t.label) / 100;
      expect(t.at).toBeCloseTo(probShade(p, LENS_SHADE) / LENS_SHADE, 2);
    }
  });
});
