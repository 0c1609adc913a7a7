import { DynamicTable } from "./dynamic-table.ts";
import { type HeaderList, noFieldIndexes } from "./header-list.ts";
import { HpackError } from "./hpack-error.ts";
import { type ByteCursor, decodeInteger } from "./hpack-integer.ts";
import { huffmanDecodedMaxLength, huffmanDecodeInto } from "./huffman.ts";
import { latin1String } from "./latin1-string.ts";
import { staticNames, staticTableLength, staticValues } from "./static-table.ts";
import { validFieldName, validFieldValue } from "./valid-field-octets.ts";

/** Options of an {@link HpackDecoder}; every one has the default a connection starts with. */
export interface HpackDecoderOptions {
  /**
   * The SETTINGS_HEADER_TABLE_SIZE we advertise: the peer's encoder may not
   * make its dynamic table larger (RFC 7541 §4.2). Also the table's size
   * before the peer's first update. Default 4096, HTTP/2's initial value
   * (RFC 9113 §6.5.2); a connection that advertises another value starts at
   * 4096 and calls {@link HpackDecoder.setMaxTableSize} when the peer
   * acknowledges its SETTINGS.
   */
  readonly maxTableSize?: number;
  /**
   * The SETTINGS_MAX_HEADER_LIST_SIZE we advertise (RFC 9113 §6.5.2): the
   * most a decoded block may add up to, counting name + value octets + 32
   * per field. It bounds what one block can make us allocate, however
   * well it compresses: a 4 KB dynamic entry referenced by one octet, over
   * and over, is the "HPACK bomb" of 2016 (CVE-2016-6581), the memory
   * exhaustion RFC 7541 §7.3 asks decoders to bound. Default 65,536.
   */
  readonly maxHeaderListSize?: number;
}

/** The largest Huffman scratch buffer a decoder keeps between strings. */
const retainedScratch = 4096;

/** Bits of a dynamic entry's flags: its name, or its value, failed RFC 9113 §8.2.1. */
const badName = 1;
const badValue = 2;

/**
 * The HPACK decoder of one connection (RFC 7541 §3, §6): turns each header
 * block the peer sends, in order, into a {@link HeaderList}, keeping the
 * dynamic table the peer's encoder drives. Stateful: one per connection and
 * direction, fed every block (HEADERS + CONTINUATION payloads joined, RFC
 * 9113 §4.3), since skipping one would put the tables out of step.
 *
 * Everything the peer can get wrong throws an {@link HpackError}
 * (COMPRESSION_ERROR, a connection error) with a message naming the rule:
 * indexes 0 or past the tables; integers past 2^31-1; a block that ends
 * inside a field; Huffman errors; dynamic table size updates anywhere but
 * at the start of a block, above our SETTINGS_HEADER_TABLE_SIZE, or missing
 * after we lowered it (§4.2). A header list over `maxHeaderListSize` is
 * decoded to the end (so the table stays right) and then thrown with
 * `recoverable: true`: the connection may answer just that stream.
 * Malformed names and values (RFC 9113 §8.2.1: upper case, CR/LF, ...) are
 * not thrown but reported in `HeaderList.malformedAt`, a stream error.
 *
 * Cost: strings of indexed fields are the table's own (no copy); literals
 * are decoded once (latin1String). Per block it allocates the list and its
 * two arrays, plus the literal strings.
 */
export class HpackDecoder {
  /** The most octets a decoded header list may take (RFC 9113 §6.5.2); may be changed between blocks. */
  maxHeaderListSize: number;
  private readonly table: DynamicTable;
  private limit: number;
  private updateRequired = false;
  private readonly cursor: ByteCursor = { offset: 0 };
  private scratch = new Uint8Array(64);
  /** Set by readString: badName or badValue when the string just read failed RFC 9113 §8.2.1. */
  private stringFault = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.limit = options.maxTableSize ?? 4096;
    this.maxHeaderListSize = options.maxHeaderListSize ?? 65_536;
    this.table = new DynamicTable(this.limit);
  }

  /** Octets in the dynamic table now (§4.1). */
  get tableSize(): number {
    return this.table.size;
  }

  /** The dynamic table's maximum size, as the peer's encoder last set it (§4.2). */
  get tableMaxSize(): number {
    return this.table.maxSize;
  }

  /** Entries in the dynamic table now. */
  get tableLength(): number {
    return this.table.length;
  }

  /**
   * We now advertise `maxTableSize` as SETTINGS_HEADER_TABLE_SIZE: call
   * when the peer acknowledges the SETTINGS frame that carried it (RFC 9113
   * §6.5.3), not when sending it. Size updates above it are errors from now
   * on; if it is below the table's current maximum, the peer's next block
   * must start with a size update that brings it down (RFC 7541 §4.2), or
   * decoding throws `table-size-update-missing`.
   */
  setMaxTableSize(maxTableSize: number): void {
    this.limit = maxTableSize;
    if (maxTableSize < this.table.maxSize) this.updateRequired = true;
  }

  /** Decodes one complete header block, field by field in order (RFC 7541 §3.1, §3.2, §6). Throws {@link HpackError}. */
  decode(block: Uint8Array): HeaderList {
    const end = block.length;
    const table = this.table;
    const cursor = this.cursor;
    cursor.offset = 0;

    // Dynamic table size updates: only before the first field (§4.2).
    while (cursor.offset < end && (block[cursor.offset]! & 0xe0) === 0x20) {
      const maxSize = decodeInteger(block, end, cursor, 5);
      if (maxSize > this.limit) {
        throw new HpackError(
          "table-size-update-over-limit",
          `the peer set its dynamic table to ${maxSize} octets, above the ${this.limit} of our SETTINGS_HEADER_TABLE_SIZE (RFC 7541 §4.2)`,
        );
      }
      table.setMaxSize(maxSize);
      this.updateRequired = false;
    }
    if (this.updateRequired) {
      throw new HpackError(
        "table-size-update-missing",
        `the block does not start with a dynamic table size update, though we lowered SETTINGS_HEADER_TABLE_SIZE to ${this.limit} below the table's ${table.maxSize} (RFC 7541 §4.2)`,
      );
    }

    const names: string[] = [];
    const values: string[] = [];
    let neverIndexed: number[] | null = null;
    let size = 0;
    let malformedAt = -1;
    const maxListSize = this.maxHeaderListSize;
    while (cursor.offset < end) {
      const first = block[cursor.offset]!;
      let name: string;
      let value: string;
      let fault: number;
      let never = false;
      if (first >= 0x80) {
        // Indexed field (§6.1).
        let index = first & 0x7f;
        if (index === 0x7f) index = decodeInteger(block, end, cursor, 7);
        else cursor.offset++;
        if (index <= staticTableLength) {
          if (index === 0) throw indexZero();
          name = staticNames[index]!;
          value = staticValues[index]!;
          fault = 0;
        } else {
          const dynamic = index - staticTableLength;
          if (dynamic > table.length) throw this.outOfRange(index);
          name = table.name(dynamic);
          value = table.value(dynamic);
          fault = table.flagsAt(dynamic);
        }
      } else if (first >= 0x40) {
        // Literal with incremental indexing (§6.2.1): the field becomes the newest entry.
        name = this.readName(block, end, 6);
        fault = this.stringFault;
        value = this.readString(block, end, false);
        fault |= this.stringFault;
        table.add(name, value, fault);
      } else if (first >= 0x20) {
        throw new HpackError(
          "table-size-update-misplaced",
          "a dynamic table size update follows a field; it is allowed only at the start of a block (RFC 7541 §4.2)",
        );
      } else {
        // Literal without indexing (0000, §6.2.2) or never indexed (0001, §6.2.3).
        never = first >= 0x10;
        name = this.readName(block, end, 4);
        fault = this.stringFault;
        value = this.readString(block, end, false);
        fault |= this.stringFault;
      }
      size += name.length + value.length + 32;
      if (size > maxListSize) continue; // keep decoding for the table's sake; thrown below
      if (fault !== 0 && malformedAt < 0) malformedAt = names.length;
      if (never) (neverIndexed ??= []).push(names.length);
      names.push(name);
      values.push(value);
    }
    if (size > maxListSize) {
      throw new HpackError(
        "header-list-too-large",
        `the decoded header list takes ${size} octets, above the ${maxListSize} of our SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2); the block was decoded to the end, so the connection may go on`,
      );
    }
    return { names, values, neverIndexed: neverIndexed ?? noFieldIndexes, size, malformedAt };
  }

  /** A literal's name (§6.2): indexed with a `prefixBits` prefix, or a string when the index is 0. Sets stringFault. */
  private readName(block: Uint8Array, end: number, prefixBits: number): string {
    const cursor = this.cursor;
    const mask = (1 << prefixBits) - 1;
    let index = block[cursor.offset]! & mask;
    if (index === mask) index = decodeInteger(block, end, cursor, prefixBits);
    else cursor.offset++;
    if (index === 0) return this.readString(block, end, true);
    if (index <= staticTableLength) {
      this.stringFault = 0;
      return staticNames[index]!;
    }
    const dynamic = index - staticTableLength;
    if (dynamic > this.table.length) throw this.outOfRange(index);
    this.stringFault = this.table.flagsAt(dynamic) & badName;
    return this.table.name(dynamic);
  }

  /** A string literal (§5.2): H bit, 7-bit prefix length, octets (Huffman or raw). Sets stringFault. */
  private readString(block: Uint8Array, end: number, isName: boolean): string {
    const cursor = this.cursor;
    if (cursor.offset >= end) throw truncated("a field is missing its string");
    const huffman = block[cursor.offset]! >= 0x80;
    const length = decodeInteger(block, end, cursor, 7);
    const start = cursor.offset;
    const stop = start + length;
    if (stop > end) {
      throw truncated(`a string of ${length} octets runs past the block's end (${end - start} left)`);
    }
    cursor.offset = stop;
    let bytes = block;
    let from = start;
    let to = stop;
    if (huffman) {
      const room = huffmanDecodedMaxLength(length);
      if (this.scratch.length < room) {
        // Kept for the next strings up to a few KB; a larger one (rare, or hostile) gets a buffer of its own,
        // so one huge string does not stay allocated for the connection's life.
        if (room > retainedScratch) bytes = new Uint8Array(room);
        else this.scratch = new Uint8Array(Math.min(retainedScratch, Math.max(room, this.scratch.length * 2)));
      }
      if (bytes === block) bytes = this.scratch;
      from = 0;
      to = huffmanDecodeInto(block, start, stop, bytes, 0);
    }
    if (isName) this.stringFault = validFieldName(bytes, from, to) ? 0 : badName;
    else this.stringFault = validFieldValue(bytes, from, to) ? 0 : badValue;
    return latin1String(bytes, from, to);
  }

  private outOfRange(index: number): HpackError {
    return new HpackError(
      "index-out-of-range",
      `index ${index} is past the static table (61) and the ${this.table.length} entries of the dynamic table (RFC 7541 §2.3.3)`,
    );
  }
}

function indexZero(): HpackError {
  return new HpackError("index-zero", "a field refers to index 0, which is not an entry (RFC 7541 §6.1)");
}

function truncated(what: string): HpackError {
  return new HpackError("truncated", `the header block ends early: ${what} (RFC 7541 §5.2)`);
}
