import type { UniversalClientFn } from "@connectrpc/connect/protocol";

/**
 * The runtime's HTTP/2 client towards pods, behind the web-standard
 * universal client contract of connect-es (Headers, AbortSignal, async
 * iterables, trailers). The Node adapter pools one long-lived session per
 * endpoint behind it.
 *
 * When `request` rejects (no response headers arrived) and the pod provably
 * never handed the request to its application, the rejection is marked with
 * {@link markUnprocessed}: the call may be sent to another pod as if it had
 * never been sent (see {@link unprocessedReason}).
 */
export interface UpstreamClient {
  /** Sends one request; resolves with the response headers, then streams the body and trailers. */
  readonly request: UniversalClientFn;
  /** The endpoint at this origin left discovery: close its sessions once their streams end. */
  retire(origin: string): void;
  /** Closes every session at once. */
  close(): void;
  /** Open HTTP/2 sessions to pods, for metrics (clients that do not pool may leave it out). */
  sessionCount?(): number;
}

/**
 * Why a request was never processed by the pod:
 * - `connect-failed`: the connection failed before the stream existed (refused, reset, TLS);
 * - `refused`: the pod refused the stream (RST_STREAM REFUSED_STREAM);
 * - `goaway`: the connection was going away: the stream was above the last-stream-id of
 *   the pod's GOAWAY, or created on a session that had already received one. A pod that
 *   rotates or drains its connections is not failing, so this does not count against it.
 */
export type UnprocessedReason = "connect-failed" | "refused" | "goaway";

const unprocessed = new WeakMap<object, UnprocessedReason>();

/**
 * Marks the error a failed request rejects with: the pod never processed it
 * (RFC 9113 §8.7). Only an upstream client may say so, and only when it is
 * certain.
 */
export function markUnprocessed<E extends object>(error: E, reason: UnprocessedReason): E {
  unprocessed.set(error, reason);
  return error;
}

/** Why a request's rejection says that the pod never processed it; `undefined`: it may have. */
export function unprocessedReason(error: unknown): UnprocessedReason | undefined {
  return typeof error === "object" && error !== null ? unprocessed.get(error) : undefined;
}
