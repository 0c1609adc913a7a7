/** 1 for each octet RFC 9113 §8.2.1 forbids anywhere in a field name: 0x00-0x20, 0x41-0x5a (upper case), 0x7f-0xff, and ':' (0x3a). */
const nameFault = new Uint8Array(256);
for (let octet = 0; octet < 256; octet++) {
  if (octet <= 0x20 || (octet >= 0x41 && octet <= 0x5a) || octet >= 0x7f || octet === 0x3a) nameFault[octet] = 1;
}

/**
 * Whether the octets `bytes[start..end)` may be an HTTP/2 field name
 * (RFC 9113 §8.2.1): not empty; no upper-case letter (HTTP/2 names are
 * lower case, since HPACK compares octets); no control, space, DEL or
 * non-ASCII octet; a colon only as the first octet, which marks a
 * pseudo-header (§8.3), and then followed by at least one octet.
 *
 * A name that fails makes the request or response malformed (§8.1.1): a
 * stream error, not a compression error, so the decoder reports it (see
 * HeaderList.malformedAt) rather than throwing, and keeps decoding the block
 * to stay in step with the peer's dynamic table.
 */
export function validFieldName(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  if (bytes[i] === 0x3a) i++;
  if (i === end) return false;
  for (; i < end; i++) if (nameFault[bytes[i]!] === 1) return false;
  return true;
}

/**
 * Whether the octets `bytes[start..end)` may be an HTTP/2 field value
 * (RFC 9113 §8.2.1): no NUL, CR or LF anywhere (the octets that would let a
 * value smuggle a header or a message into an HTTP/1.1 hop), no space or
 * horizontal tab first or last. Other octets, 0x80-0xff included, are
 * allowed: values are octets (RFC 9110 §5.5).
 */
export function validFieldValue(bytes: Uint8Array, start: number, end: number): boolean {
  if (start === end) return true;
  const first = bytes[start]!;
  const last = bytes[end - 1]!;
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = start; i < end; i++) {
    const octet = bytes[i]!;
    if (octet <= 0x0d && (octet === 0x00 || octet === 0x0a || octet === 0x0d)) return false;
  }
  return true;
}
