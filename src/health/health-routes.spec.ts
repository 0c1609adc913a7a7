import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import { createPodHealth, healthRoutes } from "./health-routes.ts";

function setup() {
  const health = createPodHealth();
  const client = createClient(Health, createRouterTransport(healthRoutes(health)));
  return { health, client };
}

async function codeOf(promise: Promise<unknown>): Promise<Code | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

describe("healthRoutes()", () => {
  it("answers Check with the server's status, SERVING to start with", async () => {
    const { health, client } = setup();
    expect((await client.check({})).status).toBe(Status.SERVING);
    health.set(Status.NOT_SERVING);
    expect((await client.check({ service: "" })).status).toBe(Status.NOT_SERVING);
  });

  it("answers Check for a service it knows, and NotFound for one it does not", async () => {
    const { health, client } = setup();
    expect(await codeOf(client.check({ service: "greet.v1.GreetService" }))).toBe(Code.NotFound);
    health.set(Status.SERVING, "greet.v1.GreetService");
    expect((await client.check({ service: "greet.v1.GreetService" })).status).toBe(Status.SERVING);
  });

  it("leaves Check hanging while the pod hangs, until the caller gives up", async () => {
    const { health, client } = setup();
    health.set("hang");
    expect(await codeOf(client.check({}, { timeoutMs: 50 }))).toBe(Code.DeadlineExceeded);
  });

  it("streams the status on Watch, then every change, SERVICE_UNKNOWN for an unknown service", async () => {
    const { health, client } = setup();
    const abort = new AbortController();
    const seen: number[] = [];
    const watching = (async () => {
      try {
        for await (const response of client.watch({}, { signal: abort.signal })) {
          seen.push(response.status);
          if (seen.length === 1) {
            health.set("hang");
            health.set(Status.NOT_SERVING);
          }
          if (seen.length === 2) {
            abort.abort();
          }
        }
      } catch (e) {
        expect(ConnectError.from(e).code).toBe(Code.Canceled);
      }
    })();
    await watching;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
    const unknown = client.watch({ service: "nope" })[Symbol.asyncIterator]();
    expect((await unknown.next()).value?.status).toBe(Status.SERVICE_UNKNOWN);
    await unknown.return?.();
  });
});
