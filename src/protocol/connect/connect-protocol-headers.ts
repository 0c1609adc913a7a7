/** Headers of the Connect protocol itself; never forwarded as metadata. */
export const connectProtocolHeaders: ReadonlySet<string> = new Set([
  "content-type",
  "content-encoding",
  "accept-encoding",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
]);

/** Connect unary carries response trailers as headers with this prefix. */
export const unaryTrailerPrefix = "trailer-";
