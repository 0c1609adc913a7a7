import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { allTransports, createTransport, type Harness, startHarness } from "../support/harness.ts";

describe("balancing per request over one client connection", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  // The point of the project: one HTTP/2 (or keep-alive HTTP/1.1) connection,
  // yet every call may land on another pod.
  it.each(allTransports)("30 unary calls over %s reach all three pods evenly", async (name) => {
    const client = createClient(GreetService, createTransport(name, harness.baseUrl));
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const res = await client.greet({ name: `call ${i}` });
      counts.set(res.pod, (counts.get(res.pod) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ "pod-a": 10, "pod-b": 10, "pod-c": 10 });
  });
});

describe("least_request", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ balancer: "least_request" });
  });
  afterAll(() => harness.close());

  it("keeps new calls off the pods busy with calls in flight", async () => {
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    // Two slow calls occupy two pods (P2C compares in-flight counts, so the
    // second slow call cannot land on the pod the first one holds).
    const slow = [client.probe({ sleepMs: 4_000, tag: "slow-1" })];
    await vi.waitFor(() => expect(harness.probes.get("slow-1")).toBeDefined());
    slow.push(client.probe({ sleepMs: 4_000, tag: "slow-2" }));
    await vi.waitFor(() => expect(harness.probes.get("slow-2")).toBeDefined());
    const busy = new Set([harness.probes.get("slow-1")?.pod, harness.probes.get("slow-2")?.pod]);
    expect(busy.size).toBe(2);
    // With two of three pods busy, a quick call picks the idle pod unless both
    // random candidates are busy ones (p = 1/3): over 90 calls the idle pod
    // expects 60, where round robin would give it 30. Below 40 is a 1-in-10^5 event.
    const quick: string[] = [];
    for (let i = 0; i < 90; i++) {
      quick.push((await client.probe({})).pod);
    }
    const idle = quick.filter((pod) => !busy.has(pod)).length;
    expect(idle).toBeGreaterThanOrEqual(40);
    await Promise.all(slow);
  });
});
