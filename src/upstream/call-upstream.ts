import { Code, ConnectError } from "@connectrpc/connect";
import {
  type EnvelopedMessage,
  compressedFlag,
  encodeEnvelope,
  pipe,
  transformSplitEnvelope,
  type UniversalClientResponse,
} from "@connectrpc/connect/protocol";
import { codeFromHttpStatus, parseContentType } from "@connectrpc/connect/protocol-grpc";
import type { Lease } from "../balance/balancer.ts";
import type { Endpoint } from "../balance/endpoint.ts";
import type { CallRequest } from "../call/call-request.ts";
import type { CallEnd, CallResult } from "../call/call-result.ts";
import { callResultFromEnd, callResultFromError } from "../call/call-result-from-error.ts";
import { formatGrpcTimeout } from "../call/grpc-timeout.ts";
import {
  adaptEncoding,
  type CompressionRegistry,
  identity,
  parseEncodingList,
  requireEncoding,
} from "../call/message-encoding.ts";
import { grpcProtocolHeaders, metadataFromHeaders } from "../call/metadata.ts";
import { readTrailerStatus } from "./read-trailer-status.ts";
import { connectFailureCode, describeConnectFailure } from "./describe-connect-failure.ts";
import type { Logger } from "../log/logger.ts";
import { type UnprocessedReason, unprocessedReason, type UpstreamClient } from "./upstream-client.ts";

/** What the upstream stage needs, injected once per gateway. */
export interface UpstreamContext {
  readonly client: UpstreamClient;
  /** `http` (h2c) or `https` (TLS to the pods). */
  readonly scheme: "http" | "https";
  readonly compressions: CompressionRegistry;
  readonly readMaxBytes: number;
  readonly now: () => number;
  /**
   * Encodings each endpoint said it accepts (`grpc-accept-encoding` of its
   * last answer), so compressed client messages can pass through untouched.
   */
  readonly acceptedByEndpoint: Map<string, readonly string[]>;
  /** The gateway's log, for what the upstream stage reports (retries, a spent retry budget); `undefined`: nowhere. */
  readonly log?: Logger;
}

/** One attempt of a call on one pod. */
export interface UpstreamAttempt {
  readonly result: CallResult;
  /**
   * Set when the attempt failed before any response headers and the pod
   * provably never handed the call to its application (the upstream client
   * said so): it may be sent to another pod.
   */
  readonly unprocessed: UnprocessedReason | undefined;
}

/** Response headers that describe the pod's hop, not the call. */
const upstreamOnlyHeaders: ReadonlySet<string> = new Set([...grpcProtocolHeaders, "date"]);

/**
 * Sends one call to one pod as native gRPC over HTTP/2 and returns its
 * answer in neutral form. Messages are re-framed, never decoded; the
 * remaining time goes up as `grpc-timeout`; the client's accepted encodings
 * go up so the pod compresses only what the client can read. Whatever goes
 * wrong (connection refused, a non-gRPC answer, a stream cut short) becomes a
 * status here, so protocols only ever encode a CallResult.
 *
 * The lease hears how the attempt went: `connectFailed()` when it failed
 * before any response headers (the client's own failures, our aborts and
 * streams a GOAWAY turned away aside), else `report(code)` with the status
 * the call ended with (`undefined` for OK) once the answer is over.
 */
export async function callUpstream(
  context: UpstreamContext,
  lease: Lease,
  call: CallRequest,
  signal: AbortSignal,
  deadlineAt: number | undefined,
): Promise<UpstreamAttempt> {
  const endpoint = lease.endpoint;
  const header = new Headers(call.metadata);
  header.set("content-type", "application/grpc");
  header.set("te", "trailers");
  if (deadlineAt !== undefined) {
    header.set("grpc-timeout", formatGrpcTimeout(deadlineAt - context.now()));
  }
  const accepted = call.acceptEncoding.filter((name) => context.compressions.has(name));
  header.set("grpc-accept-encoding", [...accepted, identity].join(","));
  // A failure of the client's own messages (truncated, oversize, corrupt
  // compression) surfaces here as a failed request; it is the client's error,
  // not the pod's, and must not count against the endpoint.
  let requestFailure: ConnectError | undefined;
  const recordFailure = (e: unknown) => {
    requestFailure ??= ConnectError.from(e);
  };
  let response: UniversalClientResponse;
  try {
    const outgoing = adaptEncoding(
      call.messages,
      call.encoding,
      context.acceptedByEndpoint.get(endpoint.address) ?? [],
      context.compressions,
      context.readMaxBytes,
    );
    if (outgoing.encoding !== identity) {
      header.set("grpc-encoding", outgoing.encoding);
    }
    response = await context.client.request({
      url: `${context.scheme}://${endpoint.address}${call.path}`,
      method: "POST",
      header,
      body: frameMessages(outgoing.messages, recordFailure),
      signal,
    });
  } catch (e) {
    lease.release();
    const error = ConnectError.from(e);
    if (requestFailure !== undefined) {
      return { result: callResultFromError(requestFailure), unprocessed: undefined };
    }
    if (signal.aborted) {
      return { result: callResultFromError(error), unprocessed: undefined };
    }
    const unprocessed = unprocessedReason(e);
    // A pod rotating or draining its connections (GOAWAY) is not failing.
    if (unprocessed !== "goaway") {
      lease.connectFailed();
    }
    return {
      result: callResultFromError(new ConnectError(describeConnectFailure(error), connectFailureCode(error))),
      unprocessed,
    };
  }
  return { result: await readUpstreamResponse(context, lease, endpoint, response, () => requestFailure), unprocessed: undefined };
}

async function readUpstreamResponse(
  context: UpstreamContext,
  lease: Lease,
  endpoint: Endpoint,
  response: UniversalClientResponse,
  requestFailure: () => ConnectError | undefined,
): Promise<CallResult> {
  const accept = response.header.get("grpc-accept-encoding");
  if (accept !== null) {
    context.acceptedByEndpoint.set(endpoint.address, parseEncodingList(accept));
  }
  const metadata = metadataFromHeaders(response.header, upstreamOnlyHeaders);
  const contentType = response.header.get("content-type");
  let early: ConnectError | undefined;
  let encoding = identity;
  if (response.status !== 200) {
    early = new ConnectError(`upstream answered HTTP ${response.status}`, codeFromHttpStatus(response.status));
  } else if (parseContentType(contentType) === undefined) {
    early = new ConnectError(`upstream answered with content-type "${contentType}", not gRPC`, Code.Unknown);
  } else {
    try {
      encoding = requireEncoding(response.header.get("grpc-encoding"), context.compressions);
    } catch (e) {
      early = new ConnectError(`upstream used an unsupported encoding: ${ConnectError.from(e).message}`, Code.Internal);
    }
  }
  const trailersOnly = early === undefined && response.header.has("grpc-status");
  if (early !== undefined || trailersOnly) {
    await drain(response.body);
    // Trailers-only: the status and the trailing metadata are in the headers.
    const result = trailersOnly
      ? callResultFromEnd({ error: readTrailerStatus(response.header), trailer: metadata })
      : callResultFromError(early, metadata);
    lease.report(result.immediateError?.code);
    lease.release();
    return result;
  }
  let failure: ConnectError | undefined;
  let done = false;
  let final: CallEnd | undefined;
  function end(): CallEnd {
    if (final !== undefined) {
      return final;
    }
    if (failure !== undefined) {
      return { error: requestFailure() ?? failure, trailer: new Headers() };
    }
    const trailer = metadataFromHeaders(response.trailer, grpcProtocolHeaders);
    if (!done || !response.trailer.has("grpc-status")) {
      return {
        error: new ConnectError("protocol error: upstream ended the call without a grpc-status", Code.Unknown),
        trailer,
      };
    }
    return { error: readTrailerStatus(response.trailer), trailer };
  }
  async function* messages(): AsyncIterable<EnvelopedMessage> {
    try {
      yield* pipe(response.body, transformSplitEnvelope(context.readMaxBytes));
      done = true;
    } catch (e) {
      failure = ConnectError.from(e);
    } finally {
      // A failure of the client's own messages does not count against the pod;
      // a reader that stopped early (the client left) cancelled the call.
      if (requestFailure() === undefined) {
        if (done || failure !== undefined) {
          final = end();
          lease.report(final.error?.code);
        } else {
          lease.report(Code.Canceled);
        }
      }
      lease.release();
    }
  }
  return {
    header: metadata,
    encoding,
    messages: messages(),
    end,
    immediateError: undefined,
  };
}

/**
 * Puts each message back into the 5-byte envelope; only the compressed flag
 * travels upstream. A failure reading the client's messages is reported
 * before it is rethrown (which resets the upstream stream). A failure the
 * HTTP client throws in (a write to a stream the pod reset or refused) is
 * not the client's and is not reported: the stream's own ending tells.
 */
async function* frameMessages(
  messages: AsyncIterable<EnvelopedMessage>,
  onFailure: (e: unknown) => void,
): AsyncIterable<Uint8Array> {
  const source = messages[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<EnvelopedMessage>;
    try {
      next = await source.next();
    } catch (e) {
      onFailure(e);
      throw e;
    }
    if (next.done === true) {
      return;
    }
    yield encodeEnvelope(next.value.flags & compressedFlag, next.value.data);
  }
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<void> {
  try {
    for await (const _ of body) {
      // discard: an error answer has no messages worth reading
    }
  } catch {
    // the status is already known; a broken body adds nothing
  }
}
