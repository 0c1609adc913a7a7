import { Code, ConnectError } from "@connectrpc/connect";
import {
  assertByteStreamRequest,
  createDeadlineSignal,
  createLinkedAbortController,
  type UniversalHandlerFn,
} from "@connectrpc/connect/protocol";
import type { Backend } from "../backend/backend.ts";
import { callResultFromError } from "../call/call-result-from-error.ts";
import type { ProtocolContext } from "../protocol/inbound-exchange.ts";
import { negotiateProtocol } from "../protocol/negotiate-protocol.ts";
import { hostOfAuthority } from "../route/match-host.ts";
import type { RouteTable } from "../route/route-table.ts";
import type { CallResult } from "../call/call-result.ts";
import { binaryResultToJson, jsonRequestToBinary } from "../transcode/json-transcoder.ts";
import { resolveSchemaMethod } from "../transcode/resolve-schema-method.ts";
import { answerReflectionForHost } from "./answer-reflection-for-host.ts";
import { reflectionServices } from "../reflection/serve-reflection.ts";

export interface CallHandlerOptions {
  readonly routes: RouteTable;
  readonly backends: ReadonlyMap<string, Backend>;
  readonly protocol: ProtocolContext;
  readonly now: () => number;
}

/**
 * The path of every call, start to end: negotiate the client's protocol,
 * decode the request into a neutral call, route it by host, service and method,
 * transcode Connect JSON with the backend's schema, start the
 * deadline, let the backend pick an endpoint and call it, and encode the
 * result back in the client's protocol. Any error on the way is answered in
 * that protocol; nothing here throws past the adapter.
 */
export function createCallHandler(options: CallHandlerOptions): UniversalHandlerFn {
  return async function handleCall(req) {
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
    if (backend === undefined) {
      const error = new ConnectError(`no route for service "${call.service}" on host "${host}"`, Code.Unimplemented);
      return exchange.respond(callResultFromError(error, undefined, undefined, 404));
    }
    let transcode: ((result: CallResult) => CallResult) | undefined;
    if (call.codec === "json" || call.readOnly) {
      const resolved = await resolveSchemaMethod(call, backend.schema, backend.name);
      if (resolved.error !== undefined) {
        // A GET refused for a method with side effects says what it accepts (RFC 9110 §15.5.6).
        const header = resolved.httpStatus === 405 ? new Headers({ allow: "POST" }) : undefined;
        return exchange.respond(callResultFromError(resolved.error, header, undefined, resolved.httpStatus));
      }
      if (call.codec === "json") {
        const context = {
          registry: backend.schema.registry(),
          ignoreUnknownFields: backend.config.schemas.ignoreUnknownJsonFields,
          compressions: options.protocol.compressions,
          readMaxBytes: options.protocol.readMaxBytes,
        };
        const method = resolved.method;
        call = jsonRequestToBinary(call, method, context);
        transcode = (result) => binaryResultToJson(result, method, context);
      }
    }
    const deadline = createDeadlineSignal(call.timeoutMs);
    const deadlineAt = call.timeoutMs === undefined ? undefined : options.now() + call.timeoutMs;
    const linked = createLinkedAbortController(call.signal, deadline.signal);
    // The client's request signal aborts when its stream closes, whichever way:
    // that is the one moment the timer is certainly no longer needed.
    call.signal.addEventListener("abort", deadline.cleanup, { once: true });
    const result = await backend.call(call, linked.signal, deadlineAt);
    return exchange.respond(transcode === undefined ? result : transcode(result));
  };
}
