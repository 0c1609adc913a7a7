import type { ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import type { CompressionRegistry } from "../call/message-encoding.ts";
import type { RpcPath } from "./rpc-path.ts";

/**
 * One call as seen by the client's protocol: the decoded request, and the
 * function that encodes the call's result back into that protocol. Each
 * protocol (Connect, gRPC-Web, gRPC) implements `open()` and nothing else.
 */
export interface InboundExchange {
  readonly request: CallRequest;
  /**
   * Set when the request is unusable as sent (a malformed timeout, an
   * encoding we cannot read, a codec not supported yet). The gateway answers
   * it with this error, in the client's protocol, without calling upstream.
   */
  readonly error: ConnectError | undefined;
  respond(result: CallResult): Promise<UniversalServerResponse>;
}

/** What every protocol needs from the gateway to decode and encode a call. */
export interface ProtocolContext {
  readonly compressions: CompressionRegistry;
  /** The encodings we accept, as a header value (`gzip,br`): computed once, sent on every answer. */
  readonly acceptEncodingHeader: string;
  /** Largest message accepted in either direction (ResourceExhausted beyond). */
  readonly readMaxBytes: number;
}

/** A protocol's entry point, chosen by `negotiateProtocol`. */
export type OpenExchange = (
  request: UniversalServerRequest & { body: AsyncIterable<Uint8Array> },
  rpc: RpcPath,
  context: ProtocolContext,
) => InboundExchange;
