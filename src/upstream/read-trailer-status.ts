import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";

/**
 * The status in a pod's trailers (or trailers-only headers), never throwing:
 * a `grpc-message` that is not valid percent-encoding is shown as sent, as
 * the gRPC spec asks of receivers, and a status the library cannot read at
 * all becomes Unknown instead of an exception in the middle of an answer.
 */
export function readTrailerStatus(header: Headers): ConnectError | undefined {
  try {
    return findTrailerError(header);
  } catch {
    const raw = header.get("grpc-message");
    if (raw !== null) {
      const repaired = new Headers(header);
      repaired.set("grpc-message", encodeURIComponent(raw));
      try {
        return findTrailerError(repaired);
      } catch {
        // fall through: the status itself is unreadable
      }
    }
    return new ConnectError(`the pod sent an unreadable status (grpc-status ${header.get("grpc-status") ?? "missing"})`, Code.Unknown);
  }
}
