import { Code, ConnectError } from "@connectrpc/connect";
import {
  assertByteStreamRequest,
  createDeadlineSignal,
  createLinkedAbortController,
  type UniversalHandlerFn,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import type { DescMethod } from "@bufbuild/protobuf";
import type { Backend } from "../backend/backend.ts";
import type { CallRequest } from "../call/call-request.ts";
import { callResultFromError } from "../call/call-result-from-error.ts";
import type { ProtocolContext } from "../protocol/inbound-exchange.ts";
import { negotiateProtocol } from "../protocol/negotiate-protocol.ts";
import { hostOfAuthority } from "../route/match-host.ts";
import { effectiveTimeout, type Route, type RouteTable } from "../route/route-table.ts";
import type { CallResult } from "../call/call-result.ts";
import { binaryResultToJson, jsonRequestToBinary } from "../transcode/json-transcoder.ts";
import { resolveSchemaMethod } from "../transcode/resolve-schema-method.ts";
import { type CallInfo, type CallObserver, countBytes, observeResult, traceIdOf } from "../observe/call-observer.ts";
import type { InboundExchange } from "../protocol/inbound-exchange.ts";
import { answerReflectionForHost } from "./answer-reflection-for-host.ts";
import { reflectionServices } from "../reflection/serve-reflection.ts";

export interface CallHandlerOptions {
  readonly routes: RouteTable;
  readonly backends: ReadonlyMap<string, Backend>;
  readonly protocol: ProtocolContext;
  readonly now: () => number;
  /**
   * Calls in flight: each call's abort controller is here from the time it
   * goes upstream until its client's stream has closed, so a shutdown can
   * cancel the ones still running when its grace period is over.
   */
  readonly inFlight?: Set<AbortController>;
  /** Hears every routed call (metrics, access log). */
  readonly observer?: CallObserver;
}

/**
 * The path of every call, start to end: negotiate the client's protocol,
 * decode the request into a neutral call, route it by host, service and method,
 * transcode Connect JSON with the backend's schema, start the
 * deadline (the client's, within the route's default and cap), let the
 * backend pick an endpoint and call it, and encode the result back in the
 * client's protocol. Any error on the way is answered in that protocol;
 * nothing here throws past the adapter.
 */
export function createCallHandler(options: CallHandlerOptions): UniversalHandlerFn {
  return async function handleCall(req) {
    const startedAt = options.now();
    const negotiated = negotiateProtocol(req);
    if (!("open" in negotiated)) {
      return negotiated;
    }
    assertByteStreamRequest(req);
    const exchange = negotiated.open(req, negotiated.rpc, options.protocol);
    if (exchange.error !== undefined) {
      return exchange.respond(callResultFromError(exchange.error));
    }
    let call = exchange.request;
    const host = hostOfAuthority(call.authority);
    if (reflectionServices.has(call.service)) {
      return exchange.respond(answerReflectionForHost(call, host, options));
    }
    const route = options.routes.match({ host, path: call.path, service: call.service, method: call.method });
    const backend = route === undefined ? undefined : options.backends.get(route.backend);
    const observed = observeCall(options, exchange, {
      host,
      protocol: call.protocol,
      path: call.path,
      route: route?.source,
      backend: backend?.name,
      traceId: traceIdOf(req.header.get("traceparent")),
    }, startedAt);
    call = observed.call;
    const respond = observed.respond;
    if (route === undefined || backend === undefined) {
      const error = new ConnectError(`no route for service "${call.service}" on host "${host}"`, Code.Unimplemented);
      return respond(callResultFromError(error, undefined, undefined, 404));
    }
    let transcode: ((result: CallResult) => CallResult) | undefined;
    let method: DescMethod | undefined;
    if (call.codec === "json" || call.readOnly) {
      const resolved = await resolveSchemaMethod(call, backend.schema, backend.name);
      if (resolved.error !== undefined) {
        // A GET refused for a method with side effects says what it accepts (RFC 9110 §15.5.6).
        const header = resolved.httpStatus === 405 ? new Headers({ allow: "POST" }) : undefined;
        return respond(callResultFromError(resolved.error, header, undefined, resolved.httpStatus));
      }
      method = resolved.method;
      if (call.codec === "json") {
        const context = {
          registry: backend.schema.registry(),
          ignoreUnknownFields: backend.config.schemas.ignoreUnknownJsonFields,
          compressions: options.protocol.compressions,
          readMaxBytes: options.protocol.readMaxBytes,
        };
        const json = resolved.method;
        call = jsonRequestToBinary(call, json, context);
        transcode = (result) => binaryResultToJson(result, json, context);
      }
    }
    const timeoutMs = await timeoutOnRoute(call, route, backend, method, req.header.get("content-type"));
    const deadlineAt = timeoutMs === undefined ? undefined : startedAt + timeoutMs;
    // Past what a timer can hold (about 24.8 days) a deadline is as good as none here; the pod still hears it.
    const deadline = createDeadlineSignal(
      deadlineAt === undefined || timeoutMs === undefined || timeoutMs > MAX_TIMER_MS ? undefined : deadlineAt - options.now(),
    );
    const linked = createLinkedAbortController(call.signal, deadline.signal);
    // The client's request signal aborts when its stream closes, whichever way:
    // that is the one moment the timer is certainly no longer needed.
    call.signal.addEventListener("abort", deadline.cleanup, { once: true });
    const inFlight = options.inFlight;
    if (inFlight !== undefined && !call.signal.aborted) {
      inFlight.add(linked);
      call.signal.addEventListener("abort", () => inFlight.delete(linked), { once: true });
    }
    const result = await backend.call(call, linked.signal, deadlineAt, observed.endpoint);
    return respond(transcode === undefined ? result : transcode(result));
  };
}

/**
 * Tells the observers (metrics, access log) about a routed call: started
 * now, ended when its protocol reads the result's end or, if the client goes
 * away first, when its stream closes (Canceled). Counts message bytes both
 * ways as they pass.
 */
function observeCall(
  options: CallHandlerOptions,
  exchange: InboundExchange,
  info: CallInfo,
  startedAt: number,
): { call: CallRequest; respond: (result: CallResult) => Promise<UniversalServerResponse>; endpoint: (address: string) => void } {
  const observer = options.observer;
  if (observer === undefined) {
    return { call: exchange.request, respond: (result) => exchange.respond(result), endpoint: () => {} };
  }
  let bytesIn = 0;
  let bytesOut = 0;
  let endpoint: string | undefined;
  let ended = false;
  const end = (code: Code | undefined) => {
    if (ended) return;
    ended = true;
    observer.ended(info, { code, endpoint, durationMs: options.now() - startedAt, bytesIn, bytesOut });
  };
  observer.started(info);
  const call = { ...exchange.request, messages: countBytes(exchange.request.messages, (n) => (bytesIn += n)) };
  call.signal.addEventListener("abort", () => end(Code.Canceled), { once: true });
  return {
    call,
    respond: (result) => exchange.respond(observeResult(result, (n) => (bytesOut += n), end)),
    endpoint: (address) => {
      endpoint = address;
    },
  };
}

/** The longest delay `setTimeout` keeps (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The call's timeout on its route (see `effectiveTimeout`). Whether the call
 * is unary is asked only when it matters (no client timeout, and the route
 * has a default or a cap): Connect says so in its content type (and GET is
 * unary); gRPC and gRPC-Web do not, so the backend's schema is asked, and a
 * call whose method it cannot tell is treated as a stream (never cut).
 */
async function timeoutOnRoute(
  call: CallRequest,
  route: Route,
  backend: Backend,
  known: DescMethod | undefined,
  contentType: string | null,
): Promise<number | undefined> {
  if (call.timeoutMs !== undefined || (route.defaultTimeoutMs === undefined && route.maxTimeoutMs === undefined)) {
    return effectiveTimeout(route, call.timeoutMs, undefined);
  }
  return effectiveTimeout(route, undefined, await isUnary(call, backend, known, contentType));
}

async function isUnary(
  call: CallRequest,
  backend: Backend,
  known: DescMethod | undefined,
  contentType: string | null,
): Promise<boolean | undefined> {
  if (known !== undefined) {
    return known.methodKind === "unary";
  }
  if (call.readOnly) {
    return true;
  }
  if (call.protocol === "connect") {
    return !/^application\/connect\+/i.test(contentType ?? "");
  }
  try {
    const method = await backend.schema.method(call.service, call.method);
    return method === undefined ? undefined : method.methodKind === "unary";
  } catch {
    return undefined; // no schema: not known
  }
}
