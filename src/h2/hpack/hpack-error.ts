/**
 * What went wrong in a header block, one name per rule of RFC 7541 (and of
 * RFC 9113 §6.5.2 for the header list size), so tests and metrics can tell
 * the cases apart without parsing messages.
 */
export type HpackErrorKind =
  /** An integer (§5.1) above 2^31-1, or with more than 5 continuation octets. */
  | "integer-overflow"
  /** The block ends inside an integer, a string length or a string (§5.1, §5.2). */
  | "truncated"
  /** A Huffman string contains the EOS symbol (§5.2). */
  | "huffman-eos"
  /** A Huffman string ends in padding longer than 7 bits, or not all ones (§5.2). */
  | "huffman-padding"
  /** An indexed field or name with index 0 (§6.1). */
  | "index-zero"
  /** An index past the static and dynamic tables (§2.3.3). */
  | "index-out-of-range"
  /** A dynamic table size update after the first field of a block (§4.2). */
  | "table-size-update-misplaced"
  /** A dynamic table size update above the SETTINGS_HEADER_TABLE_SIZE we advertised (§4.2, §6.3). */
  | "table-size-update-over-limit"
  /** We lowered SETTINGS_HEADER_TABLE_SIZE below the table size, and the block did not start with an update (§4.2). */
  | "table-size-update-missing"
  /** The decoded header list is larger than SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2). */
  | "header-list-too-large";

/**
 * A header block that cannot be decoded: HTTP/2's COMPRESSION_ERROR (0x9,
 * RFC 9113 §4.3), a connection error, because the peer's encoder and our
 * decoder no longer agree on the dynamic table (RFC 7541 §2.2 makes the
 * decoder's table state depend on every block, in order).
 *
 * The exception is `header-list-too-large`: the decoder finishes the block
 * (updating the dynamic table as the peer meant) before it throws, so
 * `recoverable` is true and the connection layer may answer that one stream
 * (431, or RST_STREAM) and keep the connection, as RFC 9113 §8.2.1 / §10.5.1
 * allow. The message says what the peer did and which limit, so an operator
 * knows whether to raise the limit or look at the peer.
 *
 * Kept apart from the connection layer's error type so the HPACK folder
 * depends on nothing; the connection maps it to GOAWAY(COMPRESSION_ERROR).
 */
export class HpackError extends Error {
  /** The HTTP/2 error code to send: COMPRESSION_ERROR (RFC 9113 §7). */
  readonly code = 0x9;
  /** Which rule the block broke. */
  readonly kind: HpackErrorKind;
  /** True when the decoder's dynamic table is still in step with the peer's encoder (only `header-list-too-large`). */
  readonly recoverable: boolean;

  constructor(kind: HpackErrorKind, message: string) {
    super(`HPACK ${kind}: ${message}`);
    this.name = "HpackError";
    this.kind = kind;
    this.recoverable = kind === "header-list-too-large";
  }
}
