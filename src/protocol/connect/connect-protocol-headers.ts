import { grpcProtocolHeaders } from "../../call/metadata.ts";

/**
 * Headers of the Connect protocol itself, and of gRPC, which the gateway
 * writes anew for the pod: never forwarded as metadata (a Connect client
 * must not set the pod's `grpc-timeout`, `grpc-encoding` or a status).
 */
export const connectProtocolHeaders: ReadonlySet<string> = new Set([
  "content-type",
  "content-encoding",
  "accept-encoding",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
  ...grpcProtocolHeaders,
]);

/** Connect unary carries response trailers as headers with this prefix. */
export const unaryTrailerPrefix = "trailer-";
