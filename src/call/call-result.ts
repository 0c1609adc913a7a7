import type { ConnectError } from "@connectrpc/connect";
import type { EnvelopedMessage } from "@connectrpc/connect/protocol";

/**
 * How a call ended: the status (an error, or `undefined` for OK) and the
 * trailing metadata. Protocols encode it as gRPC trailers, a gRPC-Web trailer
 * frame, a Connect end-stream message or Connect unary `trailer-` headers.
 */
export interface CallEnd {
  readonly error: ConnectError | undefined;
  /** Application trailers only: `grpc-status` and friends are in `error`. */
  readonly trailer: Headers;
}

/**
 * The answer to a call in protocol-neutral form, produced by the upstream
 * stage (or by the gateway itself for errors it raises) and consumed by the
 * client's protocol. `messages` never throws: a failure mid-stream ends the
 * iteration and shows up in `end()`, which is only valid once `messages` is
 * exhausted.
 */
export interface CallResult {
  /** Response metadata (protocol headers removed). */
  readonly header: Headers;
  /** Compression of messages whose compressed flag is set. */
  readonly encoding: string;
  readonly messages: AsyncIterable<EnvelopedMessage>;
  end(): CallEnd;
  /**
   * Set when the call failed before any response was produced (no route, no
   * endpoint, a trailers-only error from the pod): protocols that can, answer
   * with a trailers-only response.
   */
  readonly immediateError: ConnectError | undefined;
  /**
   * The HTTP status for protocols that carry one (Connect unary), when it is
   * not the code's usual mapping: the gateway answers a procedure it has no
   * route for with 404, as the Connect spec asks, while an Unimplemented from
   * a pod stays 501.
   */
  readonly httpStatus?: number;
}
