// Fuzzing of the HPACK codec (src/h2/hpack, RFC 7541): hostile header blocks
// into the decoder, and encode → decode round trips of any header lists
// across blocks, table size changes and mutations. The decoder's contract
// under fuzzing: a HeaderList or an HpackError, nothing else, never a hang.
import * as fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import { ByteSink } from "../../src/h2/hpack/byte-sink.ts";
import type { HeaderList } from "../../src/h2/hpack/header-list.ts";
import { HpackDecoder } from "../../src/h2/hpack/hpack-decoder.ts";
import { HpackEncoder } from "../../src/h2/hpack/hpack-encoder.ts";
import { defaultSensitiveNames } from "../../src/h2/hpack/indexing-policy.ts";
import { HpackError } from "../../src/h2/hpack/hpack-error.ts";
import { huffmanCodeTable } from "../../src/h2/hpack/huffman-code.ts";
import { staticNames, staticValues } from "../../src/h2/hpack/static-table.ts";
import { checkProperty, describeThrown, fuzzBudget, reportInputs } from "./fuzz-support.ts";

const startedAt = performance.now();
fuzzBudget(9000);
afterAll(() => reportInputs("hpack", startedAt));

// ---------------------------------------------------------------------------
// Arbitraries.

/** Octets that start each representation of RFC 7541 §6, and the edges of prefixes, so random blocks reach past the first octet. */
const interestingOctets = [0x00, 0x0f, 0x10, 0x1f, 0x20, 0x3f, 0x40, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0xbe, 0xbf, 0xe1, 0xff];
const anyOctet = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...interestingOctets));
const anyBlock = fc.array(anyOctet, { maxLength: 48 }).map((octets) => Uint8Array.from(octets));

const lowerToken = "abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&'*+^`|~";
const headerNames = [
  ...new Set(staticNames.slice(1)),
  "grpc-status",
  "grpc-message",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "te",
  "traceparent",
  "x-request-id",
  "x-bin-bin",
];
/** Names as an HTTP/2 peer sends them: lower case, pseudo-headers included, and the sensitive ones. */
const anyName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...headerNames) },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...lowerToken), minLength: 1, maxLength: 20 }) },
);
/** Any octets, as latin1 strings: values are octets (RFC 9110 §5.5), so CR, LF and NUL too. */
const anyOctetString = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength });
const anyValue = fc.oneof(
  { weight: 6, arbitrary: anyOctetString(24) },
  { weight: 2, arbitrary: fc.constantFrom("", "0", "200", "application/grpc", "trailers", "gzip", "identity") },
  // Long values, some past half a 4096-octet table (not indexed): a short string repeated, cheap to generate.
  {
    weight: 1,
    arbitrary: fc.tuple(anyOctetString(8), fc.integer({ min: 20, max: 400 })).map(([text, times]) => text.repeat(times)),
  },
);

interface Field {
  readonly name: string;
  readonly value: string;
  /** Marked never-indexed by the caller. */
  readonly never: boolean;
}
const anyField: fc.Arbitrary<Field> = fc.record({ name: anyName, value: anyValue, never: fc.boolean() });

interface Step {
  readonly fields: readonly Field[];
  /** A new SETTINGS_HEADER_TABLE_SIZE, advertised by the decoder's side and applied by the encoder, before this block. */
  readonly tableSize: number | null;
}
const tableSizes = fc.constantFrom(0, 1, 32, 64, 100, 256, 1024, 4096, 8192, 65_536);
const anyStep: fc.Arbitrary<Step> = fc.record({
  fields: fc.array(anyField, { maxLength: 10 }),
  tableSize: fc.option(tableSizes, { freq: 4 }),
});
const anyConversation = fc.record({
  huffman: fc.boolean(),
  cap: fc.constantFrom(0, 64, 256, 4096, 16_384),
  steps: fc.array(anyStep, { minLength: 1, maxLength: 6 }),
});
/** Shorter conversations of short values, for the mutations: the reference decoder is slow on long strings. */
const anyShortConversation = fc.record({
  huffman: fc.boolean(),
  cap: fc.constantFrom(0, 64, 256, 4096),
  steps: fc.array(
    fc.record({
      fields: fc.array(fc.record({ name: anyName, value: anyOctetString(24), never: fc.boolean() }), { maxLength: 8 }),
      tableSize: fc.option(tableSizes, { freq: 4 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});
type Conversation = typeof anyConversation extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------
// Helpers.

/** Decodes, and returns the list or the HpackError; anything else thrown fails the property. */
function decodeOrError(decoder: HpackDecoder, block: Uint8Array): HeaderList | HpackError {
  try {
    const list = decoder.decode(block);
    expectWellFormed(list);
    return list;
  } catch (error) {
    if (error instanceof HpackError) {
      if (error.code !== 0x9 || error.recoverable !== (error.kind === "header-list-too-large")) {
        throw new Error(`unexpected HpackError fields: ${error.code} ${error.kind} ${error.recoverable}`);
      }
      return error;
    }
    throw new Error(`the decoder threw ${describeThrown(error)}`);
  }
}

function expectWellFormed(list: HeaderList): void {
  const fail = (what: string) => {
    throw new Error(`malformed HeaderList: ${what}`);
  };
  if (list.values.length !== list.names.length) fail("names and values differ in length");
  let size = 0;
  for (let i = 0; i < list.names.length; i++) {
    if (typeof list.names[i] !== "string" || typeof list.values[i] !== "string") fail(`field ${i} is not two strings`);
    size += list.names[i]!.length + list.values[i]!.length + 32;
  }
  if (list.size !== size) fail(`size ${list.size}, fields add up to ${size}`);
  if (list.malformedAt < -1 || list.malformedAt >= Math.max(1, list.names.length)) fail(`malformedAt ${list.malformedAt}`);
  let previous = -1;
  for (const index of list.neverIndexed) {
    if (index <= previous || index >= list.names.length) fail(`neverIndexed ${list.neverIndexed}`);
    previous = index;
  }
}

const sensitive = new Set(defaultSensitiveNames);

/** What the decoder should report as malformed (RFC 9113 §8.2.1), computed the slow way. */
function firstMalformed(fields: readonly Field[]): number {
  return fields.findIndex(
    ({ name, value }) =>
      !/^:?[^\x00-\x20A-Z\x7f-\xff:]+$/.test(name) || /[\x00\r\n]/.test(value) || /^[ \t]|[ \t]$/.test(value),
  );
}

/** Runs a conversation: each step's size change on both sides, then one block encoded and decoded. Returns the blocks. */
function converse(conversation: Conversation, check: boolean): { blocks: Uint8Array[]; decoderLimit: number[] } {
  const encoder = new HpackEncoder({ huffman: conversation.huffman, maxTableSize: conversation.cap });
  const decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
  const blocks: Uint8Array[] = [];
  const decoderLimit: number[] = [];
  const out = new ByteSink(16);
  for (const step of conversation.steps) {
    if (step.tableSize !== null) {
      // We advertise a new SETTINGS_HEADER_TABLE_SIZE; the peer applies it, and acknowledges.
      encoder.setMaxTableSize(step.tableSize);
      decoder.setMaxTableSize(step.tableSize);
    }
    decoderLimit.push(step.tableSize ?? -1);
    const never = step.fields.flatMap((field, i) => (field.never ? [i] : []));
    out.clear();
    encoder.encode(
      step.fields.map((f) => f.name),
      step.fields.map((f) => f.value),
      out,
      never,
    );
    const block = out.view().slice();
    blocks.push(block);
    if (!check) continue;
    const list = decoder.decode(block);
    expectWellFormed(list);
    // Plain comparisons: expect().toEqual on every run would be most of the property's time.
    const fields = step.fields;
    if (list.names.length !== fields.length) throw new Error(`${list.names.length} fields decoded, ${fields.length} sent`);
    for (let i = 0; i < fields.length; i++) {
      if (list.names[i] !== fields[i]!.name || list.values[i] !== fields[i]!.value) {
        throw new Error(`field ${i}: ${JSON.stringify([list.names[i], list.values[i]])} decoded, ${JSON.stringify(fields[i])} sent`);
      }
    }
    const sentNever = fields.flatMap((f, i) => (f.never || sensitive.has(f.name) ? [i] : []));
    if (list.neverIndexed.join() !== sentNever.join()) {
      throw new Error(`never indexed: ${list.neverIndexed} decoded, ${sentNever} sent`);
    }
    if (list.malformedAt !== firstMalformed(fields)) throw new Error(`malformedAt ${list.malformedAt}, expected ${firstMalformed(fields)}`);
    if (decoder.tableSize !== encoder.tableSize || decoder.tableLength !== encoder.tableLength) {
      throw new Error(`tables out of step: decoder ${decoder.tableSize} octets in ${decoder.tableLength}, encoder ${encoder.tableSize} in ${encoder.tableLength}`);
    }
    if (decoder.tableMaxSize !== encoder.tableMaxSize) throw new Error(`table maximum ${decoder.tableMaxSize} vs ${encoder.tableMaxSize}`);
  }
  return { blocks, decoderLimit };
}

// ---------------------------------------------------------------------------
// A reference decoder: RFC 7541 read literally, slow and plain (the table an
// array with unshift, Huffman decoded bit by bit from the code strings), to
// compare the real decoder with on every hostile input. It gives the fields,
// or the kind of the error.

const huffmanBySymbol: string[] = [];
{
  // The canonical code from Appendix B's lengths, rebuilt here independently of huffman-code.ts's codes.
  const lengths: number[] = [];
  const table = huffmanCodeTable;
  for (let symbol = 0; symbol <= 256; symbol++) lengths.push(table[2 * symbol + 1]!);
  const order = lengths.map((length, symbol) => [length, symbol] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let code = -1n;
  let previous = order[0]![0];
  for (const [length, symbol] of order) {
    code = (code + 1n) << BigInt(length - previous);
    previous = length;
    huffmanBySymbol[symbol] = code.toString(2).padStart(length, "0");
  }
}
const huffmanByCode = new Map(huffmanBySymbol.map((code, symbol) => [code, symbol]));

class ReferenceFailure extends Error {
  readonly kind: string;
  constructor(kind: string) {
    super(kind);
    this.kind = kind;
  }
}

interface Decoded {
  names: string[];
  values: string[];
  neverIndexed: number[];
  malformedAt: number;
}

class ReferenceDecoder {
  table: [string, string, boolean, boolean][] = []; // name, value, bad name, bad value; newest first
  maxSize: number;
  limit: number;
  updateRequired = false;
  readonly maxListSize: number;
  constructor(maxTableSize: number, maxListSize: number) {
    this.maxSize = maxTableSize;
    this.limit = maxTableSize;
    this.maxListSize = maxListSize;
  }
  setLimit(limit: number): void {
    this.limit = limit;
    if (limit < this.maxSize) this.updateRequired = true;
  }
  tableSize(): number {
    return this.table.reduce((n, [name, value]) => n + name.length + value.length + 32, 0);
  }
  evict(): void {
    while (this.tableSize() > this.maxSize) this.table.pop();
  }
  decode(bytes: Uint8Array): Decoded | string {
    try {
      return this.decodeOrThrow(bytes);
    } catch (error) {
      if (error instanceof ReferenceFailure) return error.kind;
      throw error;
    }
  }
  private decodeOrThrow(bytes: Uint8Array): Decoded {
    let pos = 0;
    const fail = (kind: string): never => {
      throw new ReferenceFailure(kind);
    };
    const integer = (prefix: number): number => {
      if (pos >= bytes.length) fail("truncated");
      const max = 2 ** prefix - 1;
      let value = bytes[pos++]! % (max + 1);
      if (value < max) return value;
      for (let count = 1, shift = 0; ; count++, shift += 7) {
        if (pos >= bytes.length) fail("truncated");
        const octet = bytes[pos++]!;
        value += (octet % 128) * 2 ** shift;
        if (value > 2 ** 31 - 1) fail("integer-overflow");
        if (octet < 128) return value;
        if (count === 5) fail("integer-overflow");
      }
    };
    const string = (): string => {
      if (pos >= bytes.length) fail("truncated");
      const huffman = bytes[pos]! >= 128;
      const length = integer(7);
      if (pos + length > bytes.length) fail("truncated");
      const octets = bytes.subarray(pos, pos + length);
      pos += length;
      if (!huffman) return String.fromCharCode(...octets);
      let out = "";
      let bits = "";
      for (const octet of octets) {
        for (const bit of octet.toString(2).padStart(8, "0")) {
          bits += bit;
          const symbol = huffmanByCode.get(bits);
          if (symbol === undefined) continue;
          if (symbol === 256) fail("huffman-eos");
          out += String.fromCharCode(symbol);
          bits = "";
        }
      }
      if (bits.length > 7 && /^1+$/.test(bits)) fail("huffman-padding");
      if (!/^1*$/.test(bits)) fail("huffman-padding");
      return out;
    };
    const entry = (index: number): [string, string, boolean, boolean] => {
      if (index === 0) fail("index-zero");
      if (index <= 61) return [staticNames[index]!, staticValues[index]!, false, false];
      const dynamic = this.table[index - 62];
      if (dynamic === undefined) fail("index-out-of-range");
      return dynamic!;
    };
    const badName = (name: string) => !/^:?[^\x00-\x20A-Z\x7f-\xff:]+$/.test(name);
    const badValue = (value: string) => /[\x00\r\n]/.test(value) || /^[ \t]|[ \t]$/.test(value);

    while (pos < bytes.length && bytes[pos]! >> 5 === 1) {
      const size = integer(5);
      if (size > this.limit) fail("table-size-update-over-limit");
      this.maxSize = size;
      this.evict();
      this.updateRequired = false;
    }
    if (this.updateRequired) fail("table-size-update-missing");
    const out: Decoded = { names: [], values: [], neverIndexed: [], malformedAt: -1 };
    let listSize = 0;
    while (pos < bytes.length) {
      const first = bytes[pos]!;
      let field: [string, string, boolean, boolean];
      let never = false;
      if (first >= 128) {
        field = entry(integer(7));
      } else if (first >> 5 === 1) {
        fail("table-size-update-misplaced");
        return out;
      } else {
        const incremental = first >= 64;
        never = !incremental && first >= 16;
        const index = integer(incremental ? 6 : 4);
        let name: string;
        let nameBad: boolean;
        if (index === 0) {
          name = string();
          nameBad = badName(name);
        } else {
          [name, , nameBad] = entry(index);
        }
        const value = string();
        field = [name, value, nameBad, badValue(value)];
        if (incremental) {
          const size = name.length + value.length + 32;
          if (size > this.maxSize) this.table = [];
          else {
            this.table.unshift(field);
            this.evict();
          }
        }
      }
      listSize += field[0].length + field[1].length + 32;
      if (listSize > this.maxListSize) continue;
      if ((field[2] || field[3]) && out.malformedAt < 0) out.malformedAt = out.names.length;
      if (never) out.neverIndexed.push(out.names.length);
      out.names.push(field[0]);
      out.values.push(field[1]);
    }
    if (listSize > this.maxListSize) fail("header-list-too-large");
    return out;
  }
}

/** Decodes with both decoders and fails unless they agree on the fields, or on the kind of error. */
function decodeBoth(decoder: HpackDecoder, reference: ReferenceDecoder, block: Uint8Array): HeaderList | HpackError {
  const result = decodeOrError(decoder, block);
  const expected = reference.decode(block);
  const got =
    result instanceof HpackError
      ? result.kind
      : { names: result.names, values: result.values, neverIndexed: [...result.neverIndexed], malformedAt: result.malformedAt };
  if (JSON.stringify(got) !== JSON.stringify(expected)) {
    throw new Error(`decoder and reference differ on ${hex(block)}:\n  decoder   ${JSON.stringify(got)}\n  reference ${JSON.stringify(expected)}`);
  }
  if (decoder.tableSize !== reference.tableSize() || decoder.tableLength !== reference.table.length) {
    throw new Error(`tables differ after ${hex(block)}: ${decoder.tableSize}/${decoder.tableLength} vs ${reference.tableSize()}/${reference.table.length}`);
  }
  return result;
}

function hex(block: Uint8Array): string {
  return Array.from(block, (octet) => octet.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------

describe("HPACK decoder: hostile header blocks", () => {
  it("arbitrary octets into a fresh decoder: a header list or an HpackError, as the reference decoder says", async () => {
    await checkProperty(
      "decode arbitrary block",
      fc.property(anyBlock, fc.constantFrom(0, 64, 4096), fc.constantFrom(0, 100, 65_536), (block, tableSize, listSize) => {
        const decoder = new HpackDecoder({ maxTableSize: tableSize, maxHeaderListSize: listSize });
        decodeBoth(decoder, new ReferenceDecoder(tableSize, listSize), block);
      }),
      { numRuns: 60_000, timeLimitMs: 2500 },
    );
  });

  it("arbitrary blocks in sequence on one decoder (its table carried over): the same, as the reference says", async () => {
    await checkProperty(
      "decode arbitrary block sequence",
      fc.property(fc.array(anyBlock, { minLength: 2, maxLength: 5 }), (blocks) => {
        const decoder = new HpackDecoder({ maxHeaderListSize: 4096 });
        const reference = new ReferenceDecoder(4096, 4096);
        for (const block of blocks) {
          const result = decodeBoth(decoder, reference, block);
          if (result instanceof HpackError && !result.recoverable) break; // the connection would end here
        }
      }),
      { numRuns: 20_000, timeLimitMs: 1500 },
    );
  });
});

describe("HPACK encoder → decoder", () => {
  it("round-trips any header lists across blocks and table size changes, tables in step", async () => {
    await checkProperty(
      "encode/decode round trip",
      fc.property(anyConversation, (conversation) => {
        converse(conversation, true);
      }),
      { numRuns: 20_000, timeLimitMs: 3000 },
    );
  });

  it("mutated valid blocks: a header list or an HpackError as the reference says, for that block and the ones after it", async () => {
    const mutation = fc.record({
      block: fc.nat(),
      at: fc.nat(),
      kind: fc.constantFrom("flip", "set", "truncate", "insert", "delete"),
      octet: anyOctet,
      bit: fc.integer({ min: 0, max: 7 }),
    });
    await checkProperty(
      "decode mutated blocks",
      fc.property(anyShortConversation, mutation, (conversation, m) => {
        const { blocks, decoderLimit } = converse(conversation, false);
        const target = m.block % blocks.length;
        const decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
        const reference = new ReferenceDecoder(4096, 1 << 20);
        for (let i = 0; i < blocks.length; i++) {
          if (decoderLimit[i]! >= 0) {
            decoder.setMaxTableSize(decoderLimit[i]!);
            reference.setLimit(decoderLimit[i]!);
          }
          let block = blocks[i]!;
          if (i === target) block = mutate(block, m);
          const result = decodeBoth(decoder, reference, block);
          if (result instanceof HpackError) break;
        }
      }),
      { numRuns: 30_000, timeLimitMs: 2500 },
    );
  });
});

function mutate(
  block: Uint8Array,
  m: { at: number; kind: string; octet: number; bit: number },
): Uint8Array {
  const at = block.length === 0 ? 0 : m.at % block.length;
  const copy = Array.from(block);
  switch (m.kind) {
    case "flip":
      if (copy.length > 0) copy[at] = copy[at]! ^ (1 << m.bit);
      break;
    case "set":
      if (copy.length > 0) copy[at] = m.octet;
      break;
    case "truncate":
      copy.length = at;
      break;
    case "insert":
      copy.splice(at, 0, m.octet);
      break;
    case "delete":
      copy.splice(at, 1);
      break;
  }
  return Uint8Array.from(copy);
}
