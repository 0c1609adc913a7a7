/**
 * The client connection preface (RFC 9113 §3.4): the 24 octets
 * `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` a client sends before its first
 * SETTINGS frame, on every HTTP/2 connection (prior knowledge, TLS with ALPN
 * h2, and after an HTTP/1.1 Upgrade alike). An HTTP/1.1 server reads it as a
 * request with method PRI, which is how a cleartext port tells h2c from
 * HTTP/1.1 by its first bytes.
 *
 * Treat it as read-only: it is shared.
 */
export const CLIENT_PREFACE: Uint8Array = new Uint8Array([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53,
  0x4d, 0x0d, 0x0a, 0x0d, 0x0a,
]);
