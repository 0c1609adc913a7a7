import { denoGaps, unlessOnDeno } from "../support/deno-gaps.ts";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Pod, startPod } from "../../src/adapter/node/start-pod.ts";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { callError } from "../support/call-error.ts";
import { type FakeDnsServer, startFakeDnsServer } from "../support/fake-dns-server.ts";
import { createTransport, type Harness, podRoutes, startHarness } from "../support/harness.ts";

const NAME = "greet-headless.shop.svc.cluster.local";

// A headless Service answers with one A (or AAAA) record per ready pod; the
// gateway re-resolves on its interval and follows, one client connection throughout.
describe("dns discovery (a headless Service)", () => {
  let dns: FakeDnsServer;
  let harness: Harness;
  let v6Pod: Pod;

  /** Which pods answer 12 calls now. */
  async function answering(): Promise<string[]> {
    const client = createClient(GreetService, createTransport("grpc", harness.baseUrl));
    const pods = new Set<string>();
    for (let i = 0; i < 12; i++) {
      pods.add((await client.greet({ name: "dns" })).pod);
    }
    return [...pods].sort();
  }

  beforeAll(async () => {
    dns = await startFakeDnsServer();
    dns.setRecords(NAME, ["127.0.0.11", "127.0.0.12", "127.0.0.13"]);
    harness = await startHarness({
      pods: 4,
      podsOnLoopbackAddresses: true,
      discovery: (pods) => ({
        dns: { host: NAME, port: pods[0]?.address.port, refreshSeconds: 0.1, servers: [dns.address] },
      }),
    });
    const port = harness.pods[0]?.address.port ?? 0;
    v6Pod = await startPod("pod-v6", podRoutes("pod-v6", harness.probes), { host: "::1", port });
    await vi.waitFor(async () => expect(await harness.gateway.ready()).toBe(true));
  });
  afterAll(async () => {
    await harness.close();
    await v6Pod.close();
    await dns.close();
  });

  it("balances over every A record", async () => {
    expect(await answering()).toEqual(["pod-a", "pod-b", "pod-c"]);
  });

  it("follows a scale-up and a scale-down on the next refresh, and reads AAAA records too", async () => {
    dns.setRecords(NAME, ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "::1"]);
    await vi.waitFor(async () => expect(await answering()).toEqual(["pod-a", "pod-b", "pod-c", "pod-d", "pod-v6"]), {
      timeout: 3_000,
    });
    dns.setRecords(NAME, ["127.0.0.12"]);
    await vi.waitFor(async () => expect(await answering()).toEqual(["pod-b"]), { timeout: 3_000 });
    expect(dns.queries.some((q) => q.type === "AAAA")).toBe(true);
  });

  it("keeps the last good set while lookups fail (SERVFAIL, no answer, no such name)", async () => {
    dns.setRecords(NAME, ["127.0.0.11", "127.0.0.13"]);
    await vi.waitFor(async () => expect(await answering()).toEqual(["pod-a", "pod-c"]), { timeout: 3_000 });
    for (const fault of ["failing", "silent", "nxdomain"] as const) {
      const before = dns.queries.length;
      if (fault === "nxdomain") dns.removeName(NAME);
      else dns[fault] = true;
      // Several refresh intervals' worth of failed lookups.
      await vi.waitFor(() => expect(dns.queries.length).toBeGreaterThan(before + 4), { timeout: 8_000 });
      expect(await answering()).toEqual(["pod-a", "pod-c"]);
      dns.failing = false;
      dns.silent = false;
      dns.setRecords(NAME, ["127.0.0.11", "127.0.0.13"]);
    }
    expect(harness.logs.some((line) => line.includes("DNS lookup failed; keeping the last known endpoints"))).toBe(true);
    dns.setRecords(NAME, ["127.0.0.14"]);
    await vi.waitFor(async () => expect(await answering()).toEqual(["pod-d"]), { timeout: 3_000 });
  });

  unlessOnDeno(denoGaps.dnsNodata)("serves nothing once the name has no records (scaled to zero), with a clear Unavailable", async () => {
    dns.setRecords(NAME, []);
    const client = createClient(GreetService, createTransport("connect-h1", harness.baseUrl));
    await vi.waitFor(
      async () => {
        const error = await callError(client.greet({ name: "none" }));
        expect(error.code).toBe(Code.Unavailable);
        expect(error.rawMessage).toContain('no endpoints available for backend "pods"');
      },
      { timeout: 3_000 },
    );
  });
});

describe("dns discovery readiness", () => {
  it("is not ready until the first lookup has succeeded", async () => {
    const dns = await startFakeDnsServer();
    dns.failing = true;
    const harness = await startHarness({
      pods: 1,
      discovery: (pods) => ({
        dns: { host: "greet.local", port: pods[0]?.address.port, refreshSeconds: 0.05, servers: [dns.address] },
      }),
    });
    try {
      await vi.waitFor(() => expect(dns.queries.length).toBeGreaterThan(2));
      expect(await harness.gateway.ready()).toBe(false);
      const admin = harness.gateway.admin;
      expect((await fetch(`http://127.0.0.1:${admin?.port}/readyz`)).status).toBe(503);
      dns.setRecords("greet.local", ["127.0.0.1"]);
      dns.failing = false;
      await vi.waitFor(async () => expect(await harness.gateway.ready()).toBe(true));
      expect((await fetch(`http://127.0.0.1:${admin?.port}/readyz`)).status).toBe(200);
    } finally {
      await harness.close();
      await dns.close();
    }
  });
});
