/**
 * The frame types RFC 9113 defines (§6), as they appear in the type octet of
 * the frame header (§4.1). A const object rather than an enum, so that type
 * stripping runs this file as it is.
 *
 * A type not listed here is an extension frame: the reader ignores it
 * (§4.1, §5.5) unless it interrupts a field block (§4.3).
 */
export const FrameType = {
  /** §6.1: request or response content; flow-controlled. */
  DATA: 0x0,
  /** §6.2: opens a stream and carries a field block fragment. */
  HEADERS: 0x1,
  /** §6.3: deprecated stream priority (§5.3.2); read and ignored. */
  PRIORITY: 0x2,
  /** §6.4: ends one stream at once. */
  RST_STREAM: 0x3,
  /** §6.5: connection parameters, and their acknowledgement. */
  SETTINGS: 0x4,
  /** §6.6: server push; we never enable it (SETTINGS_ENABLE_PUSH 0). */
  PUSH_PROMISE: 0x5,
  /** §6.7: round-trip measurement and liveness. */
  PING: 0x6,
  /** §6.8: connection shutdown, with the last stream the sender processed. */
  GOAWAY: 0x7,
  /** §6.9: flow-control credit for a stream or the connection. */
  WINDOW_UPDATE: 0x8,
  /** §6.10: the rest of a field block that did not fit one frame. */
  CONTINUATION: 0x9,
} as const;

/** One of the frame types RFC 9113 §6 defines. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/**
 * The flag bits RFC 9113 §6 defines, by meaning. Flags are per frame type:
 * ACK and END_STREAM share bit 0x1 (ACK on SETTINGS and PING, END_STREAM on
 * DATA and HEADERS). Unknown flags are ignored on receipt and never sent (§4.1).
 */
export const FrameFlag = {
  /** DATA, HEADERS (§6.1, §6.2): the sender's last frame on this stream. */
  END_STREAM: 0x1,
  /** SETTINGS, PING (§6.5, §6.7): this frame answers one the peer sent. */
  ACK: 0x1,
  /** HEADERS, PUSH_PROMISE, CONTINUATION (§6.2, §6.10): the field block ends in this frame. */
  END_HEADERS: 0x4,
  /** DATA, HEADERS, PUSH_PROMISE (§6.1, §6.2, §6.6): a Pad Length octet and padding are present. */
  PADDED: 0x8,
  /** HEADERS (§6.2): the deprecated priority fields (5 octets) are present. */
  PRIORITY: 0x20,
} as const;

/** Every frame starts with a 9-octet header: length (24 bits), type, flags, R + stream id (31 bits) (§4.1). */
export const frameHeaderLength = 9;

/** The largest value of a 31-bit field: stream ids, window sizes and increments (§4.1, §6.9, §6.9.1). */
export const maxInt31 = 0x7fff_ffff;

const typeNames: readonly string[] = Object.keys(FrameType);

/** The name of a frame type for error messages ("WINDOW_UPDATE"), or "extension 0x10" for a type §6 does not define. */
export function frameTypeName(type: number): string {
  return typeNames[type] ?? `extension 0x${type.toString(16)}`;
}
