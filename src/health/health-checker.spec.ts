import { describe, expect, it } from "vitest";
import { createFakeClock } from "../../test/support/fake-clock.ts";
import { createEndpoint, type Endpoint } from "../balance/endpoint.ts";
import { createLogger } from "../log/logger.ts";
import { HealthChecker, type HealthCheckResult } from "./health-checker.ts";

const a = createEndpoint("10.0.0.1", 80);
const b = createEndpoint("10.0.0.2", 80);

type Answer = HealthCheckResult | "hang" | "throw";

function setup(options: { random?: () => number; healthyThreshold?: number } = {}) {
  const clock = createFakeClock();
  const answers = new Map<string, Answer>();
  const probes: Array<{ endpoint: string; at: number; signal: AbortSignal }> = [];
  const changes: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const checker = new HealthChecker({
    backend: "pods",
    config: {
      intervalMs: 1000,
      timeoutMs: 100,
      unhealthyThreshold: 2,
      healthyThreshold: options.healthyThreshold ?? 2,
      service: "",
    },
    probe: (endpoint: Endpoint, signal: AbortSignal) => {
      probes.push({ endpoint: endpoint.address, at: clock.now(), signal });
      const answer = answers.get(endpoint.address) ?? { passed: true };
      if (answer === "throw") {
        return Promise.reject(new Error("probe broke"));
      }
      if (answer === "hang") {
        return new Promise<HealthCheckResult>(() => {});
      }
      return Promise.resolve(answer);
    },
    onChange: (endpoint, healthy) => changes.push(`${endpoint.address} ${healthy ? "healthy" : "unhealthy"} at ${clock.now()}`),
    log: createLogger("debug", (line) => logs.push(JSON.parse(line) as Record<string, unknown>)),
    schedule: clock.schedule,
    random: options.random ?? (() => 0.5),
  });
  const checksOf = (address: string) => probes.filter((p) => p.endpoint === address).map((p) => p.at);
  return { clock, answers, probes, changes, logs, checker, checksOf };
}

describe("HealthChecker", () => {
  it("starts an endpoint healthy and checks it within the first interval, then every interval", async () => {
    const { checker, clock, checksOf } = setup();
    checker.apply({ added: [a], removed: [] });
    expect(checker.healthy(a.address)).toBe(true);
    await clock.advance(499);
    expect(checksOf(a.address)).toEqual([]);
    await clock.advance(2501);
    expect(checksOf(a.address)).toEqual([500, 1500, 2500]);
  });

  it("turns unhealthy after unhealthyThreshold failures and healthy after healthyThreshold passes, logging each change", async () => {
    const { checker, clock, answers, changes, logs } = setup();
    checker.apply({ added: [a, b], removed: [] });
    answers.set(a.address, { passed: false, reason: "status NOT_SERVING" });
    await clock.advance(500);
    expect(changes).toEqual([]);
    await clock.advance(1000);
    expect(changes).toEqual(["10.0.0.1:80 unhealthy at 1500"]);
    expect(checker.healthy(a.address)).toBe(false);
    answers.set(a.address, { passed: true });
    await clock.advance(1000);
    expect(checker.healthy(a.address)).toBe(false);
    await clock.advance(1000);
    expect(changes).toEqual(["10.0.0.1:80 unhealthy at 1500", "10.0.0.1:80 healthy at 3500"]);
    const info = logs.filter((l) => l.level === "info").map(({ time: _, ...rest }) => rest);
    expect(info).toEqual([
      {
        level: "info",
        msg: "endpoint unhealthy: no new calls while others remain",
        backend: "pods",
        endpoint: "10.0.0.1:80",
        reason: "status NOT_SERVING",
        failures: 2,
      },
      { level: "info", msg: "endpoint healthy again: new calls go to it", backend: "pods", endpoint: "10.0.0.1:80", passes: 2 },
    ]);
    expect(logs.filter((l) => l.level === "debug")).toHaveLength(2);
  });

  it("needs consecutive results: a pass between failures starts the count over", async () => {
    const { checker, clock, answers, changes } = setup();
    checker.apply({ added: [a], removed: [] });
    let wait = 500;
    for (const passed of [false, true, false, true, false, false]) {
      answers.set(a.address, passed ? { passed } : { passed, reason: "status NOT_SERVING" });
      await clock.advance(wait);
      wait = 1000;
    }
    expect(changes).toEqual(["10.0.0.1:80 unhealthy at 5500"]);
  });

  it("fails a check that hangs at its timeout and aborts it, and one whose probe throws", async () => {
    const { checker, clock, answers, probes, changes, logs } = setup({ healthyThreshold: 1 });
    answers.set(a.address, "hang");
    checker.apply({ added: [a], removed: [] });
    await clock.advance(500);
    expect(probes[0]?.signal.aborted).toBe(false);
    await clock.advance(100);
    expect(probes[0]?.signal.aborted).toBe(true);
    await clock.advance(1100);
    expect(changes).toEqual(["10.0.0.1:80 unhealthy at 1700"]);
    expect(logs.find((l) => l.level === "info")?.reason).toBe("no answer within 100 ms");
    answers.set(a.address, { passed: true });
    await clock.advance(1000);
    expect(changes).toEqual(["10.0.0.1:80 unhealthy at 1700", "10.0.0.1:80 healthy at 2700"]);
    answers.set(a.address, "throw");
    await clock.advance(2000);
    expect(changes.at(-1)).toBe("10.0.0.1:80 unhealthy at 4700");
    expect(logs.filter((l) => l.level === "info").at(-1)?.reason).toBe("probe broke");
  });

  it("stops checking an endpoint that leaves, aborting its check, and everything on close", async () => {
    const { checker, clock, answers, probes, changes, checksOf } = setup();
    answers.set(a.address, "hang");
    checker.apply({ added: [a, b], removed: [] });
    await clock.advance(550);
    checker.apply({ added: [], removed: [a] });
    expect(probes[0]?.signal.aborted).toBe(true);
    expect(checker.healthy(a.address)).toBeUndefined();
    await clock.advance(3000);
    expect(checksOf(a.address)).toEqual([500]);
    expect(checksOf(b.address)).toEqual([500, 1500, 2500, 3500]);
    expect(changes).toEqual([]);
    answers.set(b.address, "hang");
    await clock.advance(1010);
    checker.close();
    expect(probes.at(-1)?.signal.aborted).toBe(true);
    await clock.advance(0);
    expect(clock.pending()).toBe(0);
    checker.apply({ added: [a], removed: [] });
    expect(clock.pending()).toBe(0);
  });

  it("spreads first checks over the interval and varies each wait by up to 10 % either way", async () => {
    const randoms = [0, 0.25, 0, 1, 0.5];
    const { checker, clock, checksOf } = setup({ random: () => randoms.shift() ?? 0.5 });
    checker.apply({ added: [a, b], removed: [] });
    await clock.advance(2500);
    // a: first at 0, then 900 (0.9 × 1000) later, then 1000; b: first at 250, then 1100 later.
    expect(checksOf(a.address)).toEqual([0, 900, 1900]);
    expect(checksOf(b.address)).toEqual([250, 1350, 2350]);
  });
});
