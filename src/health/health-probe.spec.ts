import { type ConnectRouter, createConnectRouter } from "@connectrpc/connect";
import { createUniversalHandlerClient } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { createEndpoint } from "../balance/endpoint.ts";
import { HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import type { UpstreamContext } from "../upstream/call-upstream.ts";
import type { UpstreamClient } from "../upstream/upstream-client.ts";
import { createHealthProbe } from "./health-probe.ts";
import { createPodHealth, healthRoutes } from "./health-routes.ts";

const endpoint = createEndpoint("10.0.0.1", 50051);

/** A probe whose "pod" is served in memory over the gRPC protocol, as the upstream client would reach it. */
function setup(routes: (router: ConnectRouter) => void, service = "") {
  const router = createConnectRouter();
  routes(router);
  const seen: string[] = [];
  const handle = createUniversalHandlerClient(router.handlers);
  const client = {
    request: (request) => {
      seen.push(`${request.url} ${request.header.get("content-type")} ${request.header.get("grpc-timeout")}`);
      return handle(request);
    },
    retire() {},
    close() {},
  } as UpstreamClient;
  const upstream = {
    client,
    scheme: "http",
    compressions: new Map(),
    readMaxBytes: 4 * 1024 * 1024,
    now: Date.now,
    acceptedByEndpoint: new Map(),
  } as unknown as UpstreamContext;
  const probe = createHealthProbe(upstream, {
    intervalMs: 1000,
    timeoutMs: 200,
    unhealthyThreshold: 2,
    healthyThreshold: 1,
    service,
  });
  return { probe, seen };
}

describe("createHealthProbe()", () => {
  it("asks grpc.health.v1.Health/Check over gRPC with the timeout, passing on SERVING only", async () => {
    const health = createPodHealth();
    const { probe, seen } = setup(healthRoutes(health));
    expect(await probe(endpoint, new AbortController().signal)).toEqual({ passed: true });
    expect(seen).toEqual(["http://10.0.0.1:50051/grpc.health.v1.Health/Check application/grpc+proto 200m"]);
    health.set(Status.NOT_SERVING);
    expect(await probe(endpoint, new AbortController().signal)).toEqual({ passed: false, reason: "status NOT_SERVING" });
    health.set(Status.UNKNOWN);
    expect(await probe(endpoint, new AbortController().signal)).toEqual({ passed: false, reason: "status UNKNOWN" });
  });

  it("says why a check failed: unknown service, no health service, no answer in time", async () => {
    const health = createPodHealth();
    expect(await setup(healthRoutes(health), "shop.v1.Cart").probe(endpoint, new AbortController().signal)).toEqual({
      passed: false,
      reason: 'the pod does not know the service "shop.v1.Cart" (NotFound)',
    });
    expect(await setup(() => {}).probe(endpoint, new AbortController().signal)).toEqual({
      passed: false,
      reason: "the pod does not serve grpc.health.v1.Health (Unimplemented)",
    });
    health.set("hang");
    expect(await setup(healthRoutes(health)).probe(endpoint, new AbortController().signal)).toEqual({
      passed: false,
      reason: "no answer within 200 ms",
    });
  });
});
