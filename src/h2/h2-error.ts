/**
 * The HTTP/2 error codes (RFC 9113 §7), as they travel in RST_STREAM and
 * GOAWAY frames. A const object rather than an enum, so that type stripping
 * runs this file as it is.
 *
 * A peer may send a code not listed here: RFC 9113 §7 says unknown codes
 * "MUST NOT trigger any special behavior" and MAY be treated as
 * INTERNAL_ERROR, so the frame reader hands received codes on as plain
 * numbers rather than narrowing them to {@link H2ErrorCode}.
 */
export const H2ErrorCode = {
  /** Graceful shutdown, or a stream closed without error. */
  NO_ERROR: 0x0,
  /** The peer broke the protocol and no more specific code applies. */
  PROTOCOL_ERROR: 0x1,
  /** An unexpected internal error: a bug of ours, or of the peer. */
  INTERNAL_ERROR: 0x2,
  /** The peer broke flow control (§5.2, §6.9): a window overflowed or was overrun. */
  FLOW_CONTROL_ERROR: 0x3,
  /** A SETTINGS frame was not acknowledged in time (§6.5.3). */
  SETTINGS_TIMEOUT: 0x4,
  /** A frame arrived on a half-closed stream (§5.1). */
  STREAM_CLOSED: 0x5,
  /** A frame had an invalid size (§4.2). */
  FRAME_SIZE_ERROR: 0x6,
  /** The stream was refused before any processing: safe to retry (§8.7). */
  REFUSED_STREAM: 0x7,
  /** The stream is no longer needed. */
  CANCEL: 0x8,
  /** The field-block compression context cannot be maintained (§4.3, RFC 7541). */
  COMPRESSION_ERROR: 0x9,
  /** A CONNECT tunnel was reset or closed abnormally (§8.5). */
  CONNECT_ERROR: 0xa,
  /** The peer behaves in a way that may generate excessive load: floods, resets, oversized header blocks. */
  ENHANCE_YOUR_CALM: 0xb,
  /** The TLS connection does not meet RFC 9113 §9.2's requirements. */
  INADEQUATE_SECURITY: 0xc,
  /** The request must be retried over HTTP/1.1. */
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** One of the error codes RFC 9113 §7 defines. */
export type H2ErrorCode = (typeof H2ErrorCode)[keyof typeof H2ErrorCode];

const codeNames: readonly string[] = Object.keys(H2ErrorCode);

/**
 * The name of an error code for logs and messages ("FLOW_CONTROL_ERROR"),
 * or its hexadecimal value for a code RFC 9113 §7 does not define.
 */
export function h2ErrorCodeName(code: number): string {
  return codeNames[code] ?? `0x${code.toString(16)}`;
}

/**
 * A violation of RFC 9113 (or RFC 7541) found in what the peer sent.
 *
 * `streamId` says how the connection answers it (§5.4): 0 is a connection
 * error (GOAWAY with `code`, then close), any other id a stream error
 * (RST_STREAM with `code` on that stream; the connection goes on). The codec
 * throws and the connection layer decides; the message names the frame, the
 * stream and the rule, so an operator reading the log knows which peer did
 * what.
 */
export class H2Error extends Error {
  /** The RFC 9113 §7 code to send in GOAWAY or RST_STREAM. */
  readonly code: H2ErrorCode;
  /** 0 for a connection error (§5.4.1), else the stream to reset (§5.4.2). */
  readonly streamId: number;

  constructor(code: H2ErrorCode, streamId: number, message: string) {
    super(`${h2ErrorCodeName(code)} (${streamId === 0 ? "connection" : `stream ${streamId}`}): ${message}`);
    this.name = "H2Error";
    this.code = code;
    this.streamId = streamId;
  }

  /** True when the whole connection must end with GOAWAY (§5.4.1). */
  get isConnectionError(): boolean {
    return this.streamId === 0;
  }
}
