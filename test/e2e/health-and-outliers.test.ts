import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Pod, startPod } from "../../src/adapter/node/start-pod.ts";
import type { AdminEndpoint } from "../../src/admin/admin-state.ts";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { HealthCheckResponse_ServingStatus as Status } from "../../src/gen/grpc/health/v1/health_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { createTransport, type Harness, setPodHealth, startHarness } from "../support/harness.ts";

const address = (pod: Pod) => `${pod.address.host}:${pod.address.port}`;

let harness: Harness | undefined;
const extraPods: Pod[] = [];
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  await Promise.all(extraPods.splice(0).map((p) => p.close()));
});

/** The endpoints of the gateway's backend "pods", as its admin API reports them. */
async function endpointsOf(h: Harness): Promise<readonly AdminEndpoint[]> {
  return (await h.gateway.state()).backends.find((b) => b.name === "pods")?.endpoints ?? [];
}

/** Addresses of the backend's endpoints in a given state now. */
async function endpointsWhere(h: Harness, state: "unhealthy" | "ejected"): Promise<string[]> {
  return (await endpointsOf(h))
    .filter((e) => e.state === state)
    .map((e) => e.address)
    .sort();
}

/** A pod whose ProbeService answers every call Unavailable, as a pod whose dependencies are down does. */
async function startFailingPod(name: string): Promise<Pod> {
  const pod = await startPod(name, (router) =>
    router.service(ProbeService, {
      probe() {
        throw new ConnectError(`${name} cannot serve`, Code.Unavailable);
      },
    }),
  );
  extraPods.push(pod);
  return pod;
}

describe("active health checks", () => {
  const healthCheck = { interval: "200ms", timeout: "100ms", unhealthyThreshold: 2 };

  async function start(): Promise<Harness> {
    harness = await startHarness({
      config: (pods) => ({
        backends: [
          {
            name: "pods",
            discovery: { static: { endpoints: pods.map(address) } },
            healthCheck,
            outlierDetection: { consecutiveFailures: 5, baseEjectionTime: "10s" },
          },
        ],
      }),
    });
    return harness;
  }

  async function podsOf(h: Harness, calls: number): Promise<string[]> {
    const client = createClient(GreetService, createTransport("grpc", h.baseUrl));
    const pods: string[] = [];
    for (let i = 0; i < calls; i++) {
      pods.push((await client.greet({ name: "health" })).pod);
    }
    return pods;
  }

  it("stops sending calls to a pod within a second of it turning NOT_SERVING, and sends them again once it serves", async () => {
    const h = await start();
    expect(new Set(await podsOf(h, 6))).toEqual(new Set(["pod-a", "pod-b", "pod-c"]));
    const podB = address(h.pods[1] as Pod);

    setPodHealth("pod-b", Status.NOT_SERVING);
    const flipped = Date.now();
    await vi.waitFor(async () => expect(await endpointsWhere(h, "unhealthy")).toEqual([podB]), { timeout: 3_000, interval: 20 });
    // Two failed checks 200 ms (± 10 %) apart, the first within an interval of the flip.
    expect(Date.now() - flipped).toBeLessThan(1_000);
    const during = await podsOf(h, 12);
    expect(during).not.toContain("pod-b");
    expect(new Set(during)).toEqual(new Set(["pod-a", "pod-c"]));

    setPodHealth("pod-b", Status.SERVING);
    await vi.waitFor(async () => expect(await endpointsWhere(h, "unhealthy")).toEqual([]), { timeout: 3_000, interval: 20 });
    expect(new Set(await podsOf(h, 6))).toEqual(new Set(["pod-a", "pod-b", "pod-c"]));
  });

  it("marks a pod whose health checks hang unhealthy, by their timeout", async () => {
    const h = await start();
    const podC = address(h.pods[2] as Pod);
    setPodHealth("pod-c", "hang");
    const hung = Date.now();
    await vi.waitFor(async () => expect(await endpointsWhere(h, "unhealthy")).toEqual([podC]), { timeout: 3_000, interval: 20 });
    // Up to an interval to the first check, then two timeouts of 100 ms with an interval between them.
    expect(Date.now() - hung).toBeLessThan(1_500);
    expect(await podsOf(h, 9)).not.toContain("pod-c");

    setPodHealth("pod-c", Status.SERVING);
    await vi.waitFor(async () => expect(await endpointsWhere(h, "unhealthy")).toEqual([]), { timeout: 3_000, interval: 20 });
  });

  it("still sends calls when every pod is unhealthy (panic mode)", async () => {
    const h = await start();
    for (const name of ["pod-a", "pod-b", "pod-c"]) {
      setPodHealth(name, Status.NOT_SERVING);
    }
    await vi.waitFor(async () => expect(await endpointsWhere(h, "unhealthy")).toHaveLength(3), { timeout: 3_000, interval: 20 });
    expect(new Set(await podsOf(h, 6))).toEqual(new Set(["pod-a", "pod-b", "pod-c"]));
  });
});

describe("passive outlier ejection", () => {
  /** One probe call: the pod that answered, or the code it failed with. */
  async function probe(h: Harness): Promise<string> {
    const client = createClient(ProbeService, createTransport("grpc", h.baseUrl));
    try {
      return (await client.probe({})).pod;
    } catch (e) {
      return Code[ConnectError.from(e).code] as string;
    }
  }

  it("ejects a pod that answers Unavailable after consecutiveFailures calls, and takes it back after the ejection time", async () => {
    const failing = await startFailingPod("pod-x");
    harness = await startHarness({
      pods: 2,
      config: (pods) => ({
        backends: [
          {
            name: "pods",
            discovery: { static: { endpoints: [...pods.map(address), address(failing)] } },
            outlierDetection: { consecutiveFailures: 3, baseEjectionTime: "1s", maxEjectionPercent: 50 },
          },
        ],
      }),
    });
    const h = harness;
    // Round robin: every third call lands on pod-x, so nine calls bring its three failures.
    const first = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8].map(() => probe(h)));
    expect(first.filter((r) => r === "Unavailable")).toHaveLength(3);
    expect(await endpointsWhere(h, "ejected")).toEqual([address(failing)]);
    const ejectedAt = Date.now();
    // Until when, by the gateway's clock (the same system clock, whichever process the gateway runs in).
    const firstUntil = (await endpointsOf(h)).find((e) => e.ejectedUntil !== undefined)?.ejectedUntil ?? 0;
    expect(firstUntil - ejectedAt).toBeGreaterThan(800);
    expect(firstUntil - ejectedAt).toBeLessThanOrEqual(1_000);

    const meanwhile: string[] = [];
    for (let i = 0; i < 10; i++) {
      meanwhile.push(await probe(h));
    }
    expect(Date.now() - ejectedAt).toBeLessThan(1_000);
    expect(new Set(meanwhile)).toEqual(new Set(["pod-a", "pod-b"]));

    // Back after 1 s: it gets calls (and fails them) again, and the second ejection lasts twice as long.
    await vi.waitFor(async () => expect(await endpointsWhere(h, "ejected")).toEqual([]), { timeout: 3_000, interval: 20 });
    expect(Date.now()).toBeGreaterThanOrEqual(firstUntil);
    const again: string[] = [];
    while ((await endpointsWhere(h, "ejected")).length === 0 && again.length < 30) {
      again.push(await probe(h));
    }
    expect(again.filter((r) => r === "Unavailable")).toHaveLength(3);
    const until = (await endpointsOf(h)).find((e) => e.ejectedUntil !== undefined)?.ejectedUntil ?? 0;
    expect(until - Date.now()).toBeGreaterThan(1_200);
  });

  it("with two of three pods failing and maxEjectionPercent 34, ejects only one at a time, taking turns", async () => {
    const failing = [await startFailingPod("pod-x"), await startFailingPod("pod-y")];
    harness = await startHarness({
      pods: 1,
      config: (pods) => ({
        backends: [
          {
            name: "pods",
            discovery: { static: { endpoints: [...pods.map(address), ...failing.map(address)] } },
            outlierDetection: { consecutiveFailures: 2, baseEjectionTime: "300ms", maxEjectionPercent: 34 },
          },
        ],
      }),
    });
    const h = harness;
    const everEjected = new Set<string>();
    let mostAtOnce = 0;
    const results: string[] = [];
    const started = Date.now();
    while (Date.now() - started < 2_000 && !(everEjected.size === 2 && results.length > 60)) {
      results.push(await probe(h));
      const ejected = await endpointsWhere(h, "ejected");
      mostAtOnce = Math.max(mostAtOnce, ejected.length);
      for (const endpoint of ejected) {
        everEjected.add(endpoint);
      }
    }
    expect(mostAtOnce).toBe(1);
    expect(everEjected).toEqual(new Set(failing.map(address)));
    // The failing pod left in keeps getting its share of the calls.
    expect(results.filter((r) => r === "Unavailable").length).toBeGreaterThan(results.length / 4);
    expect(results).toContain("pod-a");
  });
});
