import { inProcessOnly, unlessOnDeno } from "../support/deno-gaps.ts";
import { createClient } from "@connectrpc/connect";
import { type Attributes, type Span, type SpanOptions, trace, type Tracer, type TracerProvider } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { createTransport, type Harness, startHarness } from "../support/harness.ts";

interface Recorded {
  name: string;
  attributes: Attributes;
  status?: { code: number };
  ended: boolean;
}

/** A tracer provider that records spans in memory: what an OpenTelemetry SDK would export. */
function recordingProvider(spans: Recorded[]): TracerProvider {
  const tracer: Tracer = {
    startSpan(name: string, options?: SpanOptions): Span {
      const recorded: Recorded = { name, attributes: { ...options?.attributes }, ended: false };
      spans.push(recorded);
      const span = {
        setAttribute(key: string, value: unknown) {
          recorded.attributes[key] = value as never;
          return span;
        },
        setStatus(status: { code: number }) {
          recorded.status = status;
          return span;
        },
        end() {
          recorded.ended = true;
        },
      };
      return span as unknown as Span;
    },
    startActiveSpan: (() => {
      throw new Error("not used");
    }) as Tracer["startActiveSpan"],
  };
  return { getTracer: () => tracer };
}

describe("tracing", () => {
  let harness: Harness;
  const spans: Recorded[] = [];
  beforeAll(async () => {
    trace.setGlobalTracerProvider(recordingProvider(spans));
    harness = await startHarness({ pods: 2 });
  });
  afterAll(async () => {
    await harness.close();
    trace.disable();
  });

  unlessOnDeno(inProcessOnly)("adds a span per call with the endpoint chosen, and passes traceparent and tracestate to the pod unchanged", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const answer = await client.probe({ tag: "traced" }, { headers: { traceparent, tracestate: "vendor=value" } });
    expect(answer.requestHeaders.traceparent).toBe(traceparent);
    expect(answer.requestHeaders.tracestate).toBe("vendor=value");
    const span = spans.find((s) => s.name === "probe.v1.ProbeService/Probe");
    const pod = harness.pods.find((p) => p.name === answer.pod);
    expect(span).toMatchObject({
      ended: true,
      attributes: {
        "rpc.system": "grpc",
        "rpc.service": "probe.v1.ProbeService",
        "rpc.method": "Probe",
        "edgegate.protocol": "grpc",
        "edgegate.backend": "pods",
        "edgegate.endpoint": `${pod?.address.host}:${pod?.address.port}`,
        "edgegate.client_trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "rpc.grpc.status_code": 0,
      },
    });
  });

  unlessOnDeno(inProcessOnly)("marks a failed call's span as an error", async () => {
    const client = createClient(GreetService, createTransport("connect-h1", harness.baseUrl));
    await client.greet({ name: "ok" });
    const probe = createClient(ProbeService, createTransport("connect-h1", harness.baseUrl));
    await probe.probe({ failCode: 5, failMessage: "missing" }).catch(() => undefined);
    const failed = spans.filter((s) => s.name === "probe.v1.ProbeService/Probe").at(-1);
    expect(failed?.status?.code).toBe(2); // SpanStatusCode.ERROR
    expect(failed?.attributes["edgegate.code"]).toBe("not_found");
  });
});
