import { Code, createConnectRouter } from "@connectrpc/connect";
import { createUniversalHandlerClient, type UniversalClientFn } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { createFakeClock } from "../../test/support/fake-clock.ts";
import { createEndpoint, type Endpoint } from "../balance/endpoint.ts";
import type { BackendConfig } from "../config/gateway-config.ts";
import { DEFAULT_KEEPALIVE, DEFAULT_OUTLIER_DETECTION, DEFAULT_RETRY, DEFAULT_SCHEMAS } from "../config/validate-config.ts";
import type { EndpointChange, EndpointSource } from "../discovery/endpoint-source.ts";
import { HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import { createPodHealth, healthRoutes, type PodHealth } from "../health/health-routes.ts";
import { createLogger } from "../log/logger.ts";
import type { BackendSchema } from "../schema/backend-schema.ts";
import type { UpstreamContext } from "../upstream/call-upstream.ts";
import type { UpstreamClient } from "../upstream/upstream-client.ts";
import { createBackend } from "./backend.ts";

const a = createEndpoint("10.0.0.1", 8080);
const b = createEndpoint("10.0.0.2", 8080);

/** Pods served in memory by address, a source the spec drives, time on a fake clock. */
function setup(healthCheck: BackendConfig["healthCheck"]) {
  const clock = createFakeClock(1_000_000);
  const pods = new Map<string, { health: PodHealth; client: UniversalClientFn }>();
  for (const endpoint of [a, b]) {
    const health = createPodHealth();
    const router = createConnectRouter();
    healthRoutes(health)(router);
    pods.set(endpoint.address, { health, client: createUniversalHandlerClient(router.handlers) });
  }
  const client = {
    request: (request) => {
      const pod = pods.get(new URL(request.url).host);
      return pod === undefined ? Promise.reject(new Error("connect ECONNREFUSED")) : pod.client(request);
    },
    retire() {},
    close() {},
  } as UpstreamClient;
  const upstream = {
    client,
    scheme: "http",
    compressions: new Map(),
    readMaxBytes: 1 << 20,
    now: clock.now,
    acceptedByEndpoint: new Map(),
  } as unknown as UpstreamContext;
  let listener: ((change: EndpointChange) => void) | undefined;
  const source: EndpointSource = {
    subscribe(l) {
      listener = l;
      l({ added: [a, b], removed: [] });
      return () => {
        listener = undefined;
      };
    },
    synced: () => true,
    close() {},
  };
  const schema = { close() {} } as BackendSchema;
  const logs: string[] = [];
  const backend = createBackend(
    {
      name: "pods",
      balancer: "round_robin",
      discovery: { kind: "static", endpoints: [] },
      tls: undefined,
      schemas: DEFAULT_SCHEMAS,
      healthCheck,
      outlierDetection: { ...DEFAULT_OUTLIER_DETECTION, consecutiveFailures: 2 },
      retry: DEFAULT_RETRY,
      keepalive: DEFAULT_KEEPALIVE,
    },
    source,
    upstream,
    () => schema,
    {
      log: createLogger("info", (line) => {
        const { msg, endpoint } = JSON.parse(line) as { msg: string; endpoint: string };
        logs.push(`${msg} ${endpoint}`);
      }),
      schedule: clock.schedule,
      random: () => 0.5,
    },
  );
  const health = (endpoint: Endpoint) => backend.balancer.states().find((s) => s.endpoint === endpoint)?.health;
  return { backend, clock, pods, logs, health, change: (c: EndpointChange) => listener?.(c) };
}

const healthCheck = { intervalMs: 1000, timeoutMs: 100, unhealthyThreshold: 2, healthyThreshold: 1, service: "" };

describe("createBackend()", () => {
  it("checks its endpoints' health through the upstream client and takes the verdicts to its balancer", async () => {
    const { backend, clock, pods, logs, health } = setup(healthCheck);
    pods.get(b.address)?.health.set(Status.NOT_SERVING);
    await clock.advance(1500);
    expect([health(a), health(b)]).toEqual(["healthy", "unhealthy"]);
    expect(logs).toEqual(["endpoint unhealthy: no new calls while others remain 10.0.0.2:8080"]);
    const picks = Array.from({ length: 4 }, () => {
      const lease = backend.balancer.pick();
      lease?.release();
      return lease?.endpoint.address;
    });
    expect(new Set(picks)).toEqual(new Set([a.address]));
    pods.get(b.address)?.health.set(Status.SERVING);
    await clock.advance(1000);
    expect(health(b)).toBe("healthy");
    backend.close();
    await clock.advance(0);
    expect(clock.pending()).toBe(0);
  });

  it("stops checking an endpoint that leaves", async () => {
    const { clock, change, pods } = setup(healthCheck);
    change({ added: [], removed: [b] });
    pods.delete(b.address);
    await clock.advance(5000);
    expect(clock.pending()).toBe(1);
  });

  it("runs no health checks without healthCheck, and logs outlier ejections", async () => {
    const { backend, clock, logs } = setup(undefined);
    expect(clock.pending()).toBe(0);
    for (let i = 0; i < 4; i++) {
      const lease = backend.balancer.pick();
      lease?.release();
      lease?.report(lease.endpoint === a ? Code.Unavailable : undefined);
    }
    expect(logs).toEqual(["endpoint ejected: it keeps failing calls 10.0.0.1:8080"]);
    await clock.advance(DEFAULT_OUTLIER_DETECTION.baseEjectionTimeMs);
    backend.balancer.pick()?.release();
    expect(logs.at(-1)).toBe("endpoint back from ejection 10.0.0.1:8080");
  });
});
