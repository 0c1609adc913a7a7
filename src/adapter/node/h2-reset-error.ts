import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UnprocessedReason } from "../../upstream/upstream-client.ts";

const { constants } = http2;

/**
 * The status for a stream the peer reset (gRPC over HTTP/2, "Errors"):
 * REFUSED_STREAM means the peer never processed the call (Unavailable, safe
 * to retry elsewhere), CANCEL is Cancelled, ENHANCE_YOUR_CALM is
 * ResourceExhausted, any other error code is Internal. NO_ERROR and
 * STREAM_CLOSED carry no status. `peer` names who reset it in the message:
 * a pod (`upstream`, the default) or a client.
 */
export function h2ResetError(rstCode: number | undefined, peer = "upstream"): ConnectError | undefined {
  switch (rstCode) {
    case undefined:
    case constants.NGHTTP2_NO_ERROR:
    case constants.NGHTTP2_STREAM_CLOSED:
      return undefined;
    case constants.NGHTTP2_REFUSED_STREAM:
      return new ConnectError(`${peer} refused the stream (REFUSED_STREAM)`, Code.Unavailable);
    case constants.NGHTTP2_CANCEL:
      return new ConnectError(`${peer} cancelled the stream (CANCEL)`, Code.Canceled);
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError(`${peer} reset the stream (ENHANCE_YOUR_CALM)`, Code.ResourceExhausted);
    default:
      return new ConnectError(`${peer} reset the stream (HTTP/2 error code 0x${rstCode.toString(16)})`, Code.Internal);
  }
}

/** What is known of a request whose stream ended before any response headers arrived. */
export interface StreamFate {
  /** A stream was created; `false` when the connection failed (refused, reset, TLS) before one could be. */
  readonly created: boolean;
  /** Its HTTP/2 stream id; `undefined` when none was assigned (the session was closing: HEADERS never went out). */
  readonly id: number | undefined;
  /** The RST_STREAM code it closed with. */
  readonly rstCode: number | undefined;
  /** The lowest last-stream-id of the GOAWAY frames its connection received; `undefined` when none came. */
  readonly goawayLastStreamId: number | undefined;
}

/**
 * Why the pod provably never handed the request to its application
 * (RFC 9113 §8.7, gRPC's transparent retries), or `undefined` when it may
 * have: no stream was created (`connect-failed`); the stream never got an id
 * (created on a session that had received GOAWAY) or its id is above the
 * last-stream-id of a GOAWAY (`goaway`: nghttp2 closes those streams with
 * REFUSED_STREAM after a graceful GOAWAY, Node with INTERNAL_ERROR after an
 * error GOAWAY); the pod refused it (`refused`: REFUSED_STREAM). Any other
 * ending of a stream that went out may have reached the application.
 */
export function whyNeverProcessed(fate: StreamFate): UnprocessedReason | undefined {
  if (!fate.created) {
    return "connect-failed";
  }
  if (fate.id === undefined || (fate.goawayLastStreamId !== undefined && fate.id > fate.goawayLastStreamId)) {
    return "goaway";
  }
  return fate.rstCode === constants.NGHTTP2_REFUSED_STREAM ? "refused" : undefined;
}
