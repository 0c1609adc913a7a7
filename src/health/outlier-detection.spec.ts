import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createOutlierState, MAX_EJECTION_MS, OutlierDetector, outcomeOf } from "./outlier-detection.ts";

const config = { consecutiveFailures: 3, baseEjectionTimeMs: 10_000, maxEjectionPercent: 50 };

describe("outcomeOf()", () => {
  it("counts Unavailable and Internal against the pod, Canceled and DeadlineExceeded not at all, the rest for it", () => {
    expect(outcomeOf(Code.Unavailable)).toBe("failure");
    expect(outcomeOf(Code.Internal)).toBe("failure");
    expect(outcomeOf(Code.Canceled)).toBe("neutral");
    expect(outcomeOf(Code.DeadlineExceeded)).toBe("neutral");
    expect(outcomeOf(undefined)).toBe("success");
    expect(outcomeOf(Code.NotFound)).toBe("success");
    expect(outcomeOf(Code.Unknown)).toBe("success");
  });
});

describe("OutlierDetector", () => {
  it("says eject at the threshold of consecutive failures, and again on every failure after it until a success", () => {
    const detector = new OutlierDetector(config);
    const state = createOutlierState();
    expect([1, 2, 3, 4].map(() => detector.record(state, "failure", 0))).toEqual([false, false, true, true]);
    expect(detector.record(state, "neutral", 0)).toBe(true);
    expect(detector.record(state, "success", 0)).toBe(false);
    expect(state.consecutiveFailures).toBe(0);
  });

  it("ignores outcomes while ejected, and starts over once back", () => {
    const detector = new OutlierDetector(config);
    const state = createOutlierState();
    expect(detector.eject(state, 0)).toBe(10_000);
    expect(detector.record(state, "failure", 9_999)).toBe(false);
    expect(state.consecutiveFailures).toBe(0);
    detector.restore(state, 10_000);
    expect(state).toEqual({ consecutiveFailures: 0, ejections: 1, ejectedUntil: 0, returnedAt: 10_000 });
  });

  it("ejects for the base time times the ejections, decaying one step per base time in service, capped at 5 minutes", () => {
    const detector = new OutlierDetector(config);
    const state = createOutlierState();
    let now = 0;
    /** Spends `inService` ms in service, then ejects: the ejection's duration, after which it is back. */
    const ejectAfter = (inService: number) => {
      now += inService;
      const duration = detector.eject(state, now);
      now += duration;
      detector.restore(state, now);
      return duration;
    };
    expect([ejectAfter(0), ejectAfter(0), ejectAfter(0)]).toEqual([10_000, 20_000, 30_000]);
    // 25 s in service: two steps of decay (3 → 1), so this is the second ejection again.
    expect(ejectAfter(25_000)).toBe(20_000);
    expect(ejectAfter(9_999)).toBe(30_000);
    expect(Array.from({ length: 40 }, () => ejectAfter(0)).at(-1)).toBe(MAX_EJECTION_MS);
    // The multiplier stops at the cap, so a long quiet period decays it back to nothing.
    expect(ejectAfter(30 * 10_000)).toBe(10_000);
  });

  it("keeps a base time longer than the cap", () => {
    const detector = new OutlierDetector({ ...config, baseEjectionTimeMs: 600_000 });
    const state = createOutlierState();
    expect(detector.eject(state, 0)).toBe(600_000);
    detector.restore(state, 600_000);
    expect(detector.eject(state, 600_000)).toBe(600_000);
  });

  it("allows maxEjectionPercent of the endpoints out, rounded down but at least one, none at 0 %", () => {
    const max = (endpoints: number, maxEjectionPercent: number) =>
      new OutlierDetector({ ...config, maxEjectionPercent }).maxEjected(endpoints);
    expect(max(3, 34)).toBe(1);
    expect(max(3, 10)).toBe(1);
    expect(max(2, 50)).toBe(1);
    expect(max(1, 50)).toBe(1);
    expect(max(10, 50)).toBe(5);
    expect(max(7, 100)).toBe(7);
    expect(max(10, 0)).toBe(0);
    expect(max(0, 50)).toBe(0);
  });
});
