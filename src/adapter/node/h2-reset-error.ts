import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

const { constants } = http2;

/**
 * The status for a stream the peer reset (gRPC over HTTP/2, "Errors"):
 * REFUSED_STREAM means the pod never processed the call (Unavailable, safe to
 * retry elsewhere), CANCEL is Cancelled, ENHANCE_YOUR_CALM is
 * ResourceExhausted, any other error code is Internal. NO_ERROR and
 * STREAM_CLOSED carry no status.
 */
export function h2ResetError(rstCode: number | undefined): ConnectError | undefined {
  switch (rstCode) {
    case undefined:
    case constants.NGHTTP2_NO_ERROR:
    case constants.NGHTTP2_STREAM_CLOSED:
      return undefined;
    case constants.NGHTTP2_REFUSED_STREAM:
      return new ConnectError("upstream refused the stream (REFUSED_STREAM)", Code.Unavailable);
    case constants.NGHTTP2_CANCEL:
      return new ConnectError("upstream cancelled the stream (CANCEL)", Code.Canceled);
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError("upstream reset the stream (ENHANCE_YOUR_CALM)", Code.ResourceExhausted);
    default:
      return new ConnectError(`upstream reset the stream (HTTP/2 error code 0x${rstCode.toString(16)})`, Code.Internal);
  }
}
