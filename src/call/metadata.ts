/**
 * Headers that describe one HTTP hop, never the call: RFC 9110 §7.6.1 plus
 * the HTTP/2 connection-specific ones (RFC 9113 §8.2.2) and those a proxy
 * recomputes (`content-length`, `host`).
 */
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "host",
  "content-length",
  "http2-settings",
]);

/**
 * Copies the application metadata out of a set of headers: drops hop-by-hop
 * headers (the fixed list and those the `Connection` header names, RFC 9110
 * §7.6.1), HTTP/2 pseudo-headers and the given protocol headers (which the
 * other side's protocol writes anew). `-bin` values are base64 in every
 * protocol, so they travel unchanged.
 */
export function metadataFromHeaders(headers: Headers, protocolHeaders: ReadonlySet<string>): Headers {
  const metadata = new Headers();
  const connection = headers.get("connection");
  const named = connection === null ? undefined : new Set(connection.toLowerCase().split(",").map((token) => token.trim()));
  headers.forEach((value, name) => {
    if (name.startsWith(":") || hopByHop.has(name) || protocolHeaders.has(name) || named?.has(name) === true) {
      return;
    }
    metadata.append(name, value);
  });
  return metadata;
}

/** Headers of the gRPC protocol itself, on requests, responses and trailers. */
export const grpcProtocolHeaders: ReadonlySet<string> = new Set([
  "content-type",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
]);
