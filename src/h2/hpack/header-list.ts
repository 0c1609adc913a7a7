/**
 * The fields of one decoded header block (RFC 7541 §2.1's "header list"),
 * in order, as two parallel arrays: `names[i]` and `values[i]` are field i.
 *
 * Why this shape: the data plane forwards most header blocks with little
 * change, and the encoder takes the same two arrays
 * (`HpackEncoder.encode(list.names, list.values, out, list.neverIndexed)`),
 * so a block costs one object and two arrays, whatever its field count: no
 * object per field, no `Headers`, nothing joined. Parallel arrays of strings
 * stay packed and monomorphic, and are harder to misread than one array of
 * alternating names and values. A `Headers` can be made from it when
 * something needs one.
 *
 * Names and values hold one char per octet (latin1, see latin1String): a
 * UTF-8 value is its octets, unchanged. Repeated names stay repeated
 * fields, in their order (RFC 9113 §8.2.3 lets `cookie` be split; nothing
 * here joins).
 */
export interface HeaderList {
  /** Field names, lower case when {@link malformedAt} is -1. */
  readonly names: string[];
  /** Field values, by the same index. */
  readonly values: string[];
  /**
   * Indexes (ascending) of the fields the peer sent as "never indexed"
   * literals (RFC 7541 §6.2.3): values the peer marked sensitive, which an
   * intermediary must re-encode the same way (§7.1.3). Usually empty (a
   * shared empty array).
   */
  readonly neverIndexed: readonly number[];
  /** The list's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it: name + value octets + 32 per field (RFC 9113 §6.5.2). */
  readonly size: number;
  /**
   * The index of the first field whose name or value breaks RFC 9113
   * §8.2.1 (an upper-case or otherwise forbidden octet in a name; NUL, CR,
   * LF, or leading or trailing whitespace in a value), or -1. Such a request
   * or response is malformed (§8.1.1): the stream layer answers with
   * RST_STREAM PROTOCOL_ERROR. It is reported, not thrown, because it is a
   * stream error, and because the block had to be decoded to the end anyway
   * to keep the dynamic table in step.
   */
  readonly malformedAt: number;
}

/** The `neverIndexed` of a list without such fields: one frozen array for all. */
export const noFieldIndexes: readonly number[] = Object.freeze([]);
