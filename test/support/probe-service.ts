import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  ProbeDetailSchema,
  type ProbeRequest,
  type ProbeResponse,
  ProbeResponseSchema,
  ProbeService,
} from "../../src/gen/probe/v1/probe_pb.ts";

/** What a probe pod observed about one tagged call, for tests to assert on. */
export interface ProbeRecord {
  readonly pod: string;
  readonly headers: Headers;
  /** Messages the pod has handed to its transport (backpressure shows as a stall here). */
  sent: number;
  /** Request messages received. */
  received: number;
  /** The call's signal aborted (the client, the gateway or the deadline cancelled it). */
  cancelled: boolean;
  /** The call's abort reason, when cancelled. */
  reason: unknown;
  finished: boolean;
}

/** Calls by tag, across all probe pods of a test. */
export type ProbeLog = Map<string, ProbeRecord>;

/**
 * Routes for `probe.v1.ProbeService`: pods that do what each request asks,
 * so tests can drive every status, detail, header, trailer, delay and stream
 * shape through the gateway and check what arrives on either side.
 */
export function probeRoutes(pod: string, log: ProbeLog): (router: ConnectRouter) => void {
  function record(req: ProbeRequest, ctx: HandlerContext): ProbeRecord {
    const entry: ProbeRecord = {
      pod,
      headers: new Headers(ctx.requestHeader),
      sent: 0,
      received: 0,
      cancelled: false,
      reason: undefined,
      finished: false,
    };
    if (req.tag !== "") {
      log.set(req.tag, entry);
    }
    ctx.signal.addEventListener("abort", () => {
      entry.cancelled = true;
      entry.reason = ctx.signal.reason;
    });
    for (const [k, v] of Object.entries(req.responseHeaders)) {
      ctx.responseHeader.set(k, v);
    }
    for (const [k, v] of Object.entries(req.responseTrailers)) {
      ctx.responseTrailer.set(k, v);
    }
    // The echo headers of the gRPC interop tests' custom_metadata case.
    const initial = ctx.requestHeader.get(echoInitial);
    if (initial !== null) {
      ctx.responseHeader.set(echoInitial, initial);
    }
    const trailing = ctx.requestHeader.get(echoTrailing);
    if (trailing !== null) {
      ctx.responseTrailer.set(echoTrailing, trailing);
    }
    return entry;
  }
  function respond(
    req: ProbeRequest,
    ctx: HandlerContext,
    extra: { count?: number; index?: number; receivedBytes?: bigint } = {},
  ): ProbeResponse {
    const requestHeaders: Record<string, string> = {};
    ctx.requestHeader.forEach((value, name) => {
      requestHeaders[name] = value;
    });
    const payload = req.payloadSize > 0 ? new Uint8Array(req.payloadSize).fill(0x61) : req.payload;
    return create(ProbeResponseSchema, {
      pod,
      requestHeaders,
      payload,
      at: req.at,
      big: req.big,
      color: req.color,
      receivedBytes: BigInt(req.payload.length),
      ...extra,
    });
  }
  function maybeFail(req: ProbeRequest): void {
    if (req.failCode === 0) {
      return;
    }
    const details =
      req.failDetail === "" ? [] : [{ desc: ProbeDetailSchema, value: { text: req.failDetail, pod } }];
    throw new ConnectError(req.failMessage, req.failCode as Code, undefined, details);
  }
  return (router) =>
    router.service(ProbeService, {
      async probe(req, ctx) {
        const entry = record(req, ctx);
        entry.received = 1;
        await sleep(req.sleepMs, ctx.signal);
        maybeFail(req);
        entry.finished = true;
        return respond(req, ctx);
      },
      async *probeStream(req, ctx) {
        const entry = record(req, ctx);
        entry.received = 1;
        for (let i = 0; i < req.count; i++) {
          await sleep(i === 0 ? req.sleepMs : req.intervalMs, ctx.signal);
          yield respond(req, ctx, { index: i });
          entry.sent++;
        }
        maybeFail(req);
        entry.finished = true;
      },
      async probeClientStream(requests, ctx) {
        let first: ProbeRequest | undefined;
        let entry: ProbeRecord | undefined;
        let count = 0;
        let receivedBytes = 0n;
        for await (const req of requests) {
          receivedBytes += BigInt(req.payload.length);
          if (first === undefined) {
            first = req;
            entry = record(req, ctx);
          }
          count++;
          if (entry !== undefined) {
            entry.received = count;
          }
        }
        if (first === undefined) {
          throw new ConnectError("no requests", Code.InvalidArgument);
        }
        maybeFail(first);
        if (entry !== undefined) {
          entry.finished = true;
        }
        return respond(first, ctx, { count, receivedBytes });
      },
      async *probeBidi(requests, ctx) {
        let entry: ProbeRecord | undefined;
        let index = 0;
        for await (const req of requests) {
          entry ??= record(req, ctx);
          entry.received++;
          maybeFail(req);
          await sleep(req.sleepMs, ctx.signal);
          yield respond(req, ctx, { index: index++ });
          entry.sent++;
        }
        if (entry !== undefined) {
          entry.finished = true;
        }
      },
    });
}

/** Request headers whose value the pod sends back, as the gRPC interop tests' servers do. */
const echoInitial = "x-grpc-test-echo-initial";
const echoTrailing = "x-grpc-test-echo-trailing-bin";

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(ConnectError.from(signal.reason));
    });
  });
}
