import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError } from "../support/call-error.ts";
import { createTransport, type Harness, startHarness } from "../support/harness.ts";

/** The value of one sample line of a Prometheus exposition, by metric name and label subset. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return undefined;
}

// What Grafana and `kubectl logs` see: every call counted per endpoint, and
// one access-log line per call naming the pod that answered.
describe("metrics and the access log", () => {
  let harness: Harness;
  let metrics: () => Promise<string>;
  beforeAll(async () => {
    harness = await startHarness();
    metrics = async () => (await fetch(`http://127.0.0.1:${harness.gateway.admin?.port}/metrics`)).text();
  });
  afterAll(() => harness.close());

  it("counts calls per route, backend, endpoint, protocol and code, with a latency histogram", async () => {
    const client = createClient(GreetService, createTransport("grpc", harness.baseUrl));
    for (let i = 0; i < 6; i++) await client.greet({ name: "m" });
    const connect = createClient(ProbeService, createTransport("connect-h1", harness.baseUrl));
    await callError(connect.probe({ failCode: Code.NotFound, failMessage: "nope" }));
    const text = await metrics();
    const [a, b, c] = harness.pods.map((p) => `${p.address.host}:${p.address.port}`);
    for (const endpoint of [a, b, c]) {
      expect(sample(text, "edgegate_calls_total", { route: "routes[0]", backend: "pods", endpoint: endpoint ?? "", protocol: "grpc", code: "ok" })).toBe(2);
    }
    expect(sample(text, "edgegate_calls_total", { protocol: "connect", code: "not_found" })).toBe(1);
    expect(sample(text, "edgegate_call_duration_seconds_count", { backend: "pods", protocol: "grpc", code: "ok" })).toBe(6);
    expect(sample(text, "edgegate_calls_in_flight", { backend: "pods", protocol: "grpc" })).toBe(0);
    expect(sample(text, "edgegate_endpoints", { backend: "pods", state: "ready" })).toBe(3);
    expect(sample(text, "edgegate_message_bytes_total", { backend: "pods", direction: "out" })).toBeGreaterThan(0);
    expect(sample(text, "edgegate_upstream_sessions", {})).toBeGreaterThanOrEqual(3);
    for (const name of [
      "edgegate_discovery_events_total",
      "edgegate_watch_restarts_total",
      "edgegate_tls_handshakes_total",
      "edgegate_certificate_expiry_timestamp_seconds",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it("writes one JSON access-log line per call with the endpoint that answered, and no bodies or headers", async () => {
    const client = createClient(GreetService, createTransport("connect-h2", harness.baseUrl));
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const answer = await client.greet({ name: "secret-name" }, { headers: { traceparent, authorization: "Bearer s3cr3t" } });
    const line = harness.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "call" && l.traceId === "4bf92f3577b34da6a3ce929d0e0e4736");
    expect(line).toMatchObject({
      protocol: "connect",
      path: "/greet.v1.GreetService/Greet",
      code: "ok",
      backend: "pods",
      host: "127.0.0.1",
    });
    const pod = harness.pods.find((p) => p.name === answer.pod);
    expect(line?.endpoint).toBe(`${pod?.address.host}:${pod?.address.port}`);
    expect(line?.bytesIn).toBeGreaterThan(0);
    expect(line?.bytesOut).toBeGreaterThan(0);
    expect(typeof line?.durationMs).toBe("number");
    const all = harness.logs.join("\n");
    expect(all).not.toContain("s3cr3t");
    expect(all).not.toContain("secret-name");
  });
});
