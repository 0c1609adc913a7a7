import { describe, expect, it } from "vitest";
import { createEndpoint } from "./endpoint.ts";
import { createLeastRequestPicker, createRoundRobinPicker } from "./picker.ts";

const endpoints = [createEndpoint("10.0.0.1", 1), createEndpoint("10.0.0.2", 1), createEndpoint("10.0.0.3", 1)];

describe("createRoundRobinPicker()", () => {
  it("rotates exactly", () => {
    const picker = createRoundRobinPicker();
    const picks = Array.from({ length: 6 }, () => picker.pick(endpoints, () => 0).host);
    expect(picks).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  });

  it("keeps rotating over a changed set", () => {
    const picker = createRoundRobinPicker();
    picker.pick(endpoints, () => 0);
    const grown = [...endpoints, createEndpoint("10.0.0.4", 1)];
    const picks = Array.from({ length: 4 }, () => picker.pick(grown, () => 0).host);
    expect(new Set(picks).size).toBe(4);
  });
});

describe("createLeastRequestPicker()", () => {
  it("picks the less loaded of two distinct random candidates", () => {
    const sequence = [0.0, 0.0]; // i = 0, then j = 1 (the next one)
    const picker = createLeastRequestPicker(() => sequence.shift() ?? 0);
    const load = new Map([
      ["10.0.0.1", 5],
      ["10.0.0.2", 1],
    ]);
    expect(picker.pick(endpoints, (e) => load.get(e.host) ?? 0).host).toBe("10.0.0.2");
  });

  it("never compares an endpoint with itself", () => {
    let calls = 0;
    const picker = createLeastRequestPicker(() => (calls++ % 2 === 0 ? 0.99 : 0.99));
    // i = 2, j = (2 + 1 + 1) % 3 = 1: distinct
    const loaded = (e: { host: string }) => (e.host === "10.0.0.3" ? 9 : 0);
    expect(picker.pick(endpoints, loaded).host).toBe("10.0.0.2");
  });

  it("spreads load: the busiest endpoint gets few new calls", () => {
    const picker = createLeastRequestPicker();
    const load = (e: { host: string }) => (e.host === "10.0.0.1" ? 100 : 0);
    let busy = 0;
    for (let i = 0; i < 3000; i++) {
      if (picker.pick(endpoints, load).host === "10.0.0.1") {
        busy++;
      }
    }
    expect(busy).toBe(0);
  });
});
