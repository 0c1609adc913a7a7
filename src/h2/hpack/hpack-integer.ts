import { HpackError } from "./hpack-error.ts";

/**
 * The largest integer we accept in a header block: 2^31-1. RFC 7541 §5.1
 * puts no bound on integers, and says only that an implementation must
 * reject values it cannot handle; every length and index in HTTP/2 fits far
 * below this, and staying under 2^31 keeps the arithmetic in small integers.
 */
export const maxHpackInteger = 0x7fffffff;

/**
 * A read position that functions advance in place, so that a decoder can
 * get a value and the new position back without allocating a result object
 * per integer (the hot path reads several integers per field).
 */
export interface ByteCursor {
  offset: number;
}

/**
 * Reads an integer with an N-bit prefix (RFC 7541 §5.1) starting at the
 * octet `cursor.offset` (whose high 8-N bits belong to the caller and are
 * ignored), and leaves the cursor after it.
 *
 * A value that does not fit the prefix continues in octets of 7 bits each,
 * least significant first. 2^31-1 needs at most 5 of them, so a sixth, or a
 * value past {@link maxHpackInteger}, is an `integer-overflow`: without that
 * bound a peer could send an endless run of 0x80 octets (a valid encoding of
 * zero, §5.1 allows it) and keep us reading (§7.4 asks decoders to bound
 * integers and string lengths). Running past `end` is `truncated`.
 */
export function decodeInteger(bytes: Uint8Array, end: number, cursor: ByteCursor, prefixBits: number): number {
  let pos = cursor.offset;
  if (pos >= end) throw truncated();
  const mask = (1 << prefixBits) - 1;
  let value = bytes[pos++]! & mask;
  if (value < mask) {
    cursor.offset = pos;
    return value;
  }
  let factor = 1;
  for (let continuation = 1; ; continuation++) {
    if (pos >= end) throw truncated();
    const octet = bytes[pos++]!;
    value += (octet & 0x7f) * factor;
    if (value > maxHpackInteger) {
      throw new HpackError("integer-overflow", `an integer in the header block exceeds 2^31-1 (RFC 7541 §5.1)`);
    }
    if ((octet & 0x80) === 0) break;
    if (continuation === 5) {
      throw new HpackError(
        "integer-overflow",
        "an integer in the header block has more than 5 continuation octets (RFC 7541 §5.1)",
      );
    }
    factor *= 128;
  }
  cursor.offset = pos;
  return value;
}

/**
 * Writes `value` with an N-bit prefix (RFC 7541 §5.1) at `at`, OR-ing
 * `flags` (the representation's pattern, e.g. 0x80 for an indexed field)
 * into the first octet, and returns the position after it. The caller
 * guarantees room: at most 1 + 5 octets for any value up to 2^31-1.
 */
export function encodeInteger(out: Uint8Array, at: number, value: number, prefixBits: number, flags: number): number {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out[at++] = flags | value;
    return at;
  }
  out[at++] = flags | mask;
  let rest = value - mask;
  while (rest >= 0x80) {
    out[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[at++] = rest;
  return at;
}

function truncated(): HpackError {
  return new HpackError("truncated", "the header block ends inside an integer (RFC 7541 §5.1)");
}
