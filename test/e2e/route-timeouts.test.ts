import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError } from "../support/call-error.ts";
import { allTransports, createTransport, type Harness, startHarness } from "../support/harness.ts";

const DEFAULT_TIMEOUT_MS = 400;
const MAX_TIMEOUT_MS = 1_000;

/** A `grpc-timeout` value (`1500m`, `2S`, ...) in milliseconds. */
function grpcTimeoutMs(value: string | null | undefined): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value ?? "");
  if (match === null) {
    throw new Error(`malformed grpc-timeout "${value}"`);
  }
  return Number(match[1]) * { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 }[match[2] as "H"];
}

const routes = [
  {
    services: ["probe.v1.ProbeService"],
    backend: "pods",
    defaultTimeout: `${DEFAULT_TIMEOUT_MS}ms`,
    maxTimeout: `${MAX_TIMEOUT_MS}ms`,
  },
  { services: ["greet.v1."], backend: "pods" },
];

describe("route timeouts", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ config: { routes } });
  });
  afterAll(() => harness?.close());

  describe.concurrent("defaultTimeout", () => {
    it.for(allTransports)(
      "cuts a slow unary call whose client sent no timeout: DeadlineExceeded, and the pod is told and cancelled (%s)",
      async (name, { expect }) => {
        const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
        const tag = `default-${name}`;
        const started = Date.now();
        const error = await callError(client.probe({ tag, sleepMs: 3_000 }));
        expect(error.code).toBe(Code.DeadlineExceeded);
        expect(Date.now() - started).toBeLessThan(DEFAULT_TIMEOUT_MS + 1_000);
        const record = harness.probes.get(tag);
        expect(grpcTimeoutMs(record?.headers.get("grpc-timeout"))).toBeLessThanOrEqual(DEFAULT_TIMEOUT_MS);
        expect(record?.finished).toBe(false);
      },
    );

    it.for(allTransports)(
      "never cuts a server stream whose client sent no timeout, even one longer than maxTimeout (%s)",
      async (name, { expect }) => {
        const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
        const tag = `stream-${name}`;
        const indexes: number[] = [];
        for await (const res of client.probeStream({ tag, count: 5, intervalMs: 300 })) {
          indexes.push(res.index);
        }
        expect(indexes).toEqual([0, 1, 2, 3, 4]);
        expect(harness.probes.get(tag)?.headers.has("grpc-timeout")).toBe(false);
      },
    );

    it("lets a unary call faster than the default finish, the default going upstream as its deadline", async ({ expect }) => {
      const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
      await client.probe({ tag: "fast", sleepMs: 50 });
      expect(grpcTimeoutMs(harness.probes.get("fast")?.headers.get("grpc-timeout"))).toBeLessThanOrEqual(DEFAULT_TIMEOUT_MS);
    });
  });

  describe.concurrent("maxTimeout", () => {
    it.for(allTransports)("caps a client's 10 s deadline on a unary call (%s)", async (name, { expect }) => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const tag = `max-${name}`;
      const started = Date.now();
      const error = await callError(client.probe({ tag, sleepMs: 5_000 }, { timeoutMs: 10_000 }));
      expect(error.code).toBe(Code.DeadlineExceeded);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(MAX_TIMEOUT_MS - 100);
      expect(took).toBeLessThan(MAX_TIMEOUT_MS + 1_500);
      expect(grpcTimeoutMs(harness.probes.get(tag)?.headers.get("grpc-timeout"))).toBeLessThanOrEqual(MAX_TIMEOUT_MS);
    });

    it.for(["grpc", "connect-h2"] as const)("caps a client's 10 s deadline on a stream too (%s)", async (name, { expect }) => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const indexes: number[] = [];
      const error = await callError(
        (async () => {
          for await (const res of client.probeStream({ count: 10, intervalMs: 300 }, { timeoutMs: 10_000 })) {
            indexes.push(res.index);
          }
        })(),
      );
      expect(error.code).toBe(Code.DeadlineExceeded);
      expect(indexes.length).toBeGreaterThan(0);
      expect(indexes.length).toBeLessThan(10);
    });

    it("keeps a client's deadline shorter than the cap", async ({ expect }) => {
      const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
      const started = Date.now();
      const error = await callError(client.probe({ tag: "short", sleepMs: 3_000 }, { timeoutMs: 200 }));
      expect(error.code).toBe(Code.DeadlineExceeded);
      expect(Date.now() - started).toBeLessThan(DEFAULT_TIMEOUT_MS);
      expect(grpcTimeoutMs(harness.probes.get("short")?.headers.get("grpc-timeout"))).toBeLessThanOrEqual(200);
    });
  });
});

describe("route timeouts when the gateway cannot tell a unary call from a stream", () => {
  let harness: Harness;
  beforeAll(async () => {
    // No reflection on the pods and no descriptor set: gRPC and gRPC-Web do not say whether a method is unary.
    harness = await startHarness({ pods: 1, podReflection: false, config: { routes } });
  });
  afterAll(() => harness?.close());

  it("gRPC: no default deadline (the call might be a long-lived stream), but the cap still applies", async () => {
    const client = createClient(ProbeService, createGrpcTransport({ baseUrl: harness.baseUrl }));
    const slow = await client.probe({ tag: "unknown-kind", sleepMs: DEFAULT_TIMEOUT_MS + 300 });
    expect(slow.pod).toBe("pod-a");
    expect(harness.probes.get("unknown-kind")?.headers.has("grpc-timeout")).toBe(false);
    const error = await callError(client.probe({ sleepMs: 5_000 }, { timeoutMs: 10_000 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
  });

  it("Connect says so in its content type: the default applies", async () => {
    const client = createClient(
      ProbeService,
      createConnectTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    );
    const error = await callError(client.probe({ sleepMs: 3_000 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
  });
});
