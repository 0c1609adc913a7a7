import type * as http2 from "node:http2";

/**
 * Sends each value of a repeated binary (`-bin`) metadata key on a header
 * line of its own, in place. Web `Headers` join repeated values with ", ";
 * the gRPC spec lets a receiver take that as equivalent, but grpcio (Python
 * pods, 1.51 at least) rejects a `-bin` line holding several values with
 * UNAVAILABLE "Failed parsing HTTP/2" (issue 14, seen in the interop
 * matrix), so a client that sent the key twice must have it arrive twice.
 * Base64 has no comma, so splitting is exact. Text keys stay joined: a comma
 * may be part of one value there.
 */
export function splitBinaryHeaders(headers: http2.OutgoingHttpHeaders): http2.OutgoingHttpHeaders {
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === "string" && name.endsWith("-bin") && value.includes(",")) {
      headers[name] = value.split(",").map((part) => part.trim());
    }
  }
  return headers;
}
