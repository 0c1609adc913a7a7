import type { ByteSink } from "./byte-sink.ts";
import { DynamicTable, entryOverhead } from "./dynamic-table.ts";
import { DynamicTableIndex } from "./dynamic-table-index.ts";
import { noFieldIndexes } from "./header-list.ts";
import { encodeInteger } from "./hpack-integer.ts";
import { huffmanEncode, huffmanEncodedLength } from "./huffman.ts";
import { namePolicy, sensitiveName, unindexedName } from "./indexing-policy.ts";
import { staticExactIndex, staticTableLength } from "./static-table.ts";

/** Options of an {@link HpackEncoder}. */
export interface HpackEncoderOptions {
  /**
   * The largest dynamic table this encoder keeps, however large the peer's
   * SETTINGS_HEADER_TABLE_SIZE: the memory a connection may spend on it
   * (RFC 7541 §4.2 lets the encoder choose any size up to the peer's).
   * Default 4096.
   */
  readonly maxTableSize?: number;
  /** Huffman-code a string when that makes it shorter (§5.2). Default true; false gives the RFC's Appendix C.3 and C.5 encodings. */
  readonly huffman?: boolean;
  /** Names always sent never-indexed; replaces {@link defaultSensitiveNames} (pass a list that extends it). */
  readonly sensitiveNames?: readonly string[];
}

/**
 * The HPACK encoder of one connection (RFC 7541 §3, §6): writes header
 * lists as header blocks, keeping the dynamic table the peer's decoder
 * mirrors. Stateful: one per connection and direction, and every block it
 * writes must reach the peer, in order.
 *
 * The policy, field by field:
 * 1. sensitive (a name in `sensitiveNames`, or an index the caller passes
 *    in `neverIndexed`, e.g. the decoder's `HeaderList.neverIndexed` when
 *    relaying): a never-indexed literal (§6.2.3), name indexed if possible;
 * 2. name and value in the static table: an indexed field (§6.1), one octet;
 * 3. name and value in the dynamic table: an indexed field;
 * 4. otherwise a literal, its name indexed when the static or dynamic table
 *    has it, and "with incremental indexing" (§6.2.1) so the next block
 *    sends it as one octet, unless the name is in {@link defaultUnindexedNames}
 *    (and already in a table) or the entry would take more than half the
 *    table (it would evict everything else for a field that may not
 *    repeat): then without indexing (§6.2.2).
 * Strings are Huffman-coded when that is shorter (§5.2), as nghttp2 and Go
 * do; the RFC's examples also use Huffman when it is only as long.
 *
 * Against RFC 7541 Appendix C (rfc7541-appendix-c.spec.ts): byte for byte
 * on C.3.x and C.4.x with the defaults (`huffman: false` for C.3), on C.5.x
 * and C.6.1/C.6.3 with `sensitiveNames: []` (the defaults never index
 * `set-cookie`, the RFC does), on C.2.1, C.2.3 (marked never-indexed) and
 * C.2.4. Not on C.2.2 (we index `:path`) nor C.6.2 ("307" is as long in
 * Huffman as raw, and we keep it raw).
 *
 * Names must be lower case (RFC 9113 §8.2.1; not checked here) and strings
 * latin1, one char per octet (see latin1String): a char above 0xff is a
 * RangeError that leaves the encoder unusable, since the fields before it
 * are in the table already.
 */
export class HpackEncoder {
  private readonly table: DynamicTable;
  private readonly index = new DynamicTableIndex();
  private readonly cap: number;
  private readonly huffman: boolean;
  /** The sensitive names when the caller chose them, else null: the defaults are in namePolicy(). */
  private readonly sensitive: ReadonlySet<string> | null;
  /** The bits of namePolicy() that mean "sensitive" here: sensitiveName with the default names, 0 with the caller's. */
  private readonly sensitiveMask: number;
  /** The table size to signal at the start of the next block (§4.2), or -1. */
  private pendingSize = -1;
  /** The smallest size asked for since the last block (§4.2), or -1. */
  private pendingMinimum = -1;
  /** Set when a block failed half-way: the table then holds entries the peer never saw. */
  private outOfStep = false;

  constructor(options: HpackEncoderOptions = {}) {
    this.cap = options.maxTableSize ?? 4096;
    this.huffman = options.huffman ?? true;
    this.sensitive = options.sensitiveNames === undefined ? null : new Set(options.sensitiveNames);
    this.sensitiveMask = options.sensitiveNames === undefined ? sensitiveName : 0;
    // The peer's decoder starts at HTTP/2's 4096 (RFC 9113 §6.5.2); a smaller cap is signaled in the first block.
    this.table = new DynamicTable(4096, this.index);
    this.setMaxTableSize(4096);
  }

  /** Octets in the dynamic table now (§4.1). */
  get tableSize(): number {
    return this.table.size;
  }

  /** The dynamic table's maximum size, as this encoder last signaled it (§4.2) or will at the next block. */
  get tableMaxSize(): number {
    return this.pendingSize >= 0 ? this.pendingSize : this.table.maxSize;
  }

  /** Entries in the dynamic table now. */
  get tableLength(): number {
    return this.table.length;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE is now `peerMaxTableSize` (call
   * when its SETTINGS frame arrives). The table takes the smaller of it and
   * our cap; a change is signaled by a dynamic table size update at the
   * start of the next block (§4.2): the smallest size in between first if
   * the size went down and up again, as §4.2 requires, then the new one.
   */
  setMaxTableSize(peerMaxTableSize: number): void {
    const size = Math.min(peerMaxTableSize, this.cap);
    this.pendingMinimum = this.pendingMinimum < 0 ? size : Math.min(this.pendingMinimum, size);
    this.pendingSize = size;
  }

  /**
   * Appends the header block of the fields `names[i]: values[i]` to `out`
   * (RFC 7541 §2.4, §6); `neverIndexed` lists (ascending) indexes of fields to
   * send never-indexed in addition to the sensitive names. The block is
   * complete: the caller frames it (HEADERS + CONTINUATION) and must send
   * it before any later block of this encoder.
   */
  encode(
    names: readonly string[],
    values: readonly string[],
    out: ByteSink,
    neverIndexed: readonly number[] = noFieldIndexes,
  ): void {
    if (names.length !== values.length) {
      throw new RangeError(`HPACK encode: ${names.length} names but ${values.length} values`);
    }
    if (this.outOfStep) {
      throw new Error("HPACK encode: an earlier block failed half-way, so this encoder's table is ahead of the peer's; close the connection");
    }
    const table = this.table;
    let buf = out.reserve(12);
    let pos = out.length;
    if (this.pendingSize >= 0) pos = this.signalTableSize(buf, pos);
    let nextNever = neverIndexed.length > 0 ? neverIndexed[0]! : -1;
    let neverAt = 0;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const value = values[i]!;
      const policy = namePolicy(name);
      const staticIndex = policy & 0xff;
      let sensitive = (policy & this.sensitiveMask) !== 0;
      if (i === nextNever) {
        sensitive = true;
        neverAt++;
        nextNever = neverAt < neverIndexed.length ? neverIndexed[neverAt]! : -1;
      } else if (this.sensitive !== null && this.sensitive.has(name)) {
        sensitive = true;
      }
      if (!sensitive && staticIndex !== 0) {
        const exact = staticExactIndex(staticIndex, name, value);
        if (exact !== 0) {
          out.length = pos;
          buf = out.reserve(1);
          buf[pos++] = 0x80 | exact;
          continue;
        }
      }
      const entries = this.index.entriesOf(name);
      if (!sensitive) {
        if (entries !== undefined) {
          const id = entries.idOf(value);
          if (id >= 0) {
            out.length = pos;
            buf = out.reserve(6);
            pos = encodeInteger(buf, pos, staticTableLength + table.insertCount - id, 7, 0x80);
            continue;
          }
        }
      }
      const nameIndex =
        staticIndex !== 0 ? staticIndex : entries !== undefined ? staticTableLength + table.insertCount - entries.newest : 0;
      // An unindexed name not yet in a table goes in once, with this value, so later literals can refer to it.
      const indexing =
        !sensitive &&
        ((policy & unindexedName) === 0 || nameIndex === 0) &&
        (name.length + value.length + entryOverhead) * 2 <= table.maxSize;
      out.length = pos;
      buf = out.reserve(18 + (nameIndex === 0 ? name.length : 0) + value.length);
      if (indexing) pos = encodeInteger(buf, pos, nameIndex, 6, 0x40);
      else pos = encodeInteger(buf, pos, nameIndex, 4, sensitive ? 0x10 : 0x00);
      if (nameIndex === 0) pos = this.writeString(buf, pos, name);
      pos = this.writeString(buf, pos, value);
      if (indexing) {
        table.add(name, value);
        this.index.added(name, value, table.insertCount - 1);
      }
    }
    out.length = pos;
  }

  /**
   * The dynamic table size updates of the block's start (§4.2): the
   * smallest size asked for since the last block when it is below both the
   * current and the final size (the peer's decoder may have gone through it
   * to flush its table, so ours must evict as far), then the final size if
   * anything changed. The table evicts as the peer's will.
   */
  private signalTableSize(buf: Uint8Array, pos: number): number {
    const table = this.table;
    const final = this.pendingSize;
    const minimum = this.pendingMinimum;
    this.pendingSize = -1;
    this.pendingMinimum = -1;
    let signaled = false;
    if (minimum < final && minimum < table.maxSize) {
      pos = encodeInteger(buf, pos, minimum, 5, 0x20);
      table.setMaxSize(minimum);
      signaled = true;
    }
    if (signaled || final !== table.maxSize) {
      pos = encodeInteger(buf, pos, final, 5, 0x20);
      table.setMaxSize(final);
    }
    return pos;
  }

  /** A string literal (§5.2): Huffman when shorter and enabled, else raw octets. The caller reserved 6 + length octets. */
  private writeString(buf: Uint8Array, pos: number, text: string): number {
    const length = text.length;
    if (this.huffman) {
      const coded = huffmanEncodedLength(text);
      if (coded < 0) throw this.notLatin1(text);
      if (coded < length) return huffmanEncode(text, buf, encodeInteger(buf, pos, coded, 7, 0x80));
    }
    pos = encodeInteger(buf, pos, length, 7, 0x00);
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) throw this.notLatin1(text);
      buf[pos++] = c;
    }
    return pos;
  }

  /**
   * A string with a char above 0xff has no octets to send. Fields before it
   * in the block are already in the table, so the encoder is out of step
   * with the peer from now on: every later encode() throws, and the
   * connection must close. Callers keep strings latin1 (decoded fields
   * always are; percent-encode text, as gRPC does for grpc-message).
   */
  private notLatin1(text: string): RangeError {
    this.outOfStep = true;
    return new RangeError(
      `HPACK encode: ${JSON.stringify(text.slice(0, 40))} has a char above 0xff; header strings carry one octet per char (encode text to octets first)`,
    );
  }
}
