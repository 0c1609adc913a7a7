import { type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { CallInfo, CallObserver } from "./call-observer.ts";
import { codeName } from "./code-name.ts";

/**
 * A span per call through `@opentelemetry/api`, with the endpoint that
 * answered. Without a tracer provider registered (the default) the API
 * hands out no-op spans, so this costs next to nothing; an application that
 * embeds the gateway, or a preload that registers the SDK, gets real spans.
 * `traceparent` and `tracestate` themselves pass through to the pod
 * untouched, as any metadata does.
 */
export function createCallTracing(): CallObserver {
  const tracer = trace.getTracer("edgegate");
  const spans = new WeakMap<CallInfo, Span>();
  return {
    started(info) {
      spans.set(
        info,
        tracer.startSpan(info.path.slice(1), {
          kind: SpanKind.SERVER,
          attributes: {
            "rpc.system": "grpc",
            "rpc.service": info.path.split("/")[1] ?? "",
            "rpc.method": info.path.split("/")[2] ?? "",
            "server.address": info.host,
            "edgegate.protocol": info.protocol,
            ...(info.backend === undefined ? {} : { "edgegate.backend": info.backend }),
            ...(info.route === undefined ? {} : { "edgegate.route": info.route }),
            ...(info.traceId === undefined ? {} : { "edgegate.client_trace_id": info.traceId }),
          },
        }),
      );
    },
    ended(info, outcome) {
      const span = spans.get(info);
      if (span === undefined) return;
      if (outcome.endpoint !== undefined) span.setAttribute("edgegate.endpoint", outcome.endpoint);
      span.setAttribute("rpc.grpc.status_code", outcome.code ?? 0);
      span.setAttribute("edgegate.code", codeName(outcome.code));
      if (outcome.code !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: codeName(outcome.code) });
      span.end();
    },
  };
}
