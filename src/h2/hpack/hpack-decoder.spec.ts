import { describe, expect, it } from "vitest";
import { ByteSink } from "./byte-sink.ts";
import { HpackDecoder } from "./hpack-decoder.ts";
import { HpackEncoder } from "./hpack-encoder.ts";
import { HpackError, type HpackErrorKind } from "./hpack-error.ts";
import { encodeInteger } from "./hpack-integer.ts";

/** A block from parts: numbers are octets, strings raw octets, [value, prefixBits, flags] an integer. */
function block(...parts: (number | string | readonly [number, number, number])[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else if (typeof part === "string") for (const c of part) out.push(c.charCodeAt(0));
    else {
      const buf = new Uint8Array(8);
      out.push(...buf.subarray(0, encodeInteger(buf, 0, part[0], part[1], part[2])));
    }
  }
  return Uint8Array.from(out);
}

/** A raw (non-Huffman) string literal. */
function str(text: string): (number | string)[] {
  return [text.length, text];
}

function thrown(run: () => unknown): HpackError {
  try {
    run();
  } catch (error) {
    if (error instanceof HpackError) return error;
    throw error;
  }
  throw new Error("expected an HpackError");
}

function kind(decoder: HpackDecoder, data: Uint8Array): HpackErrorKind {
  return thrown(() => decoder.decode(data)).kind;
}

function pairs(list: { names: string[]; values: string[] }): string[] {
  return list.names.map((name, i) => `${name}: ${list.values[i]}`);
}

describe("HpackDecoder.decode()", () => {
  it("decodes an empty block to an empty list", () => {
    const list = new HpackDecoder().decode(new Uint8Array(0));
    expect(list).toEqual({ names: [], values: [], neverIndexed: [], size: 0, malformedAt: -1 });
  });

  it("decodes every representation of §6: indexed, the three literals, static and dynamic names", () => {
    const decoder = new HpackDecoder();
    const list = decoder.decode(
      block(
        0x83, // :method POST (static 3)
        0x44, ...str("/greet.v1.GreetService/Greet"), // :path, incremental indexing
        0x40, ...str("grpc-accept-encoding"), ...str("gzip"), // new name, incremental indexing
        0x0f, 0x0d, ...str("123"), // content-length (28) without indexing: 4-bit prefix continues
        0x10, ...str("x-secret"), ...str("s3cr3t"), // never indexed, new name
        0xbe, // dynamic 62: grpc-accept-encoding gzip
        0x7f, 0x00, ...str("identity"), // name from dynamic 63 (:path), incremental
      ),
    );
    expect(pairs(list)).toEqual([
      ":method: POST",
      ":path: /greet.v1.GreetService/Greet",
      "grpc-accept-encoding: gzip",
      "content-length: 123",
      "x-secret: s3cr3t",
      "grpc-accept-encoding: gzip",
      ":path: identity",
    ]);
    expect(list.neverIndexed).toEqual([4]);
    expect(decoder.tableLength).toBe(3);
  });

  it("shares the table's strings for indexed fields instead of decoding them again", () => {
    const decoder = new HpackDecoder();
    const first = decoder.decode(block(0x40, ...str("x-name"), ...str("value")));
    const second = decoder.decode(block(0xbe));
    expect(second.values[0]).toBe(first.values[0]);
    expect(pairs(second)).toEqual(["x-name: value"]);
  });

  it("decodes values as latin1, one char per octet, 0x80-0xff included", () => {
    const value = String.fromCharCode(0x80, 0x9f, 0xa0, 0xe9, 0xff);
    const list = new HpackDecoder().decode(block(0x00, ...str("x-bytes"), ...str(value)));
    expect(list.values[0]).toBe(value);
  });

  it("counts the header list size as RFC 9113 §6.5.2 does: name + value + 32 per field", () => {
    const list = new HpackDecoder().decode(block(0x82, 0x84, 0x00, ...str("ab"), ...str("cde")));
    expect(list.size).toBe(7 + 3 + 32 + (5 + 1 + 32) + (2 + 3 + 32));
  });

  describe("errors (COMPRESSION_ERROR)", () => {
    it("rejects index 0 in an indexed field (index-zero, §6.1)", () => {
      expect(kind(new HpackDecoder(), block(0x80))).toBe("index-zero");
      expect(kind(new HpackDecoder(), block(0x82, 0x80))).toBe("index-zero");
    });

    it("rejects indexes past both tables (index-out-of-range, §2.3.3)", () => {
      expect(kind(new HpackDecoder(), block(0xbe))).toBe("index-out-of-range"); // 62, empty table
      expect(kind(new HpackDecoder(), block(0x7e, ...str("v")))).toBe("index-out-of-range"); // name 62
      expect(kind(new HpackDecoder(), block(0x0f, 0x2f, ...str("v")))).toBe("index-out-of-range"); // name 62, 4-bit
      expect(kind(new HpackDecoder(), block([1000, 7, 0x80]))).toBe("index-out-of-range");
      const decoder = new HpackDecoder();
      decoder.decode(block(0x40, ...str("a"), ...str("b")));
      expect(pairs(decoder.decode(block(0xbe)))).toEqual(["a: b"]);
      expect(kind(decoder, block(0xbf))).toBe("index-out-of-range"); // 63: one entry only
      expect(thrown(() => decoder.decode(block(0xbf))).message).toMatch(/index 63 .* 1 entries of the dynamic table/);
    });

    it("rejects integers past 2^31-1 or with more than 5 continuation octets (integer-overflow, §5.1)", () => {
      expect(kind(new HpackDecoder(), block(0xff, 0xff, 0xff, 0xff, 0xff, 0x0f))).toBe("integer-overflow");
      expect(kind(new HpackDecoder(), block(0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))).toBe("integer-overflow");
      expect(kind(new HpackDecoder(), block(0x40, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f))).toBe("integer-overflow");
    });

    it("rejects a block that ends inside a field (truncated)", () => {
      const cases = [
        block(0xff), // index continues
        block(0x40), // new name missing
        block(0x41), // value missing
        block(0x04), // value missing, without indexing
        block(0x41, 0x7f), // value length continues
        block(0x40, ...str("name")), // value missing after a new name
      ];
      for (const data of cases) expect(kind(new HpackDecoder(), data), Array.from(data).join(" ")).toBe("truncated");
    });

    it("rejects a string length past the end of the block (truncated)", () => {
      expect(kind(new HpackDecoder(), block(0x41, 0x0a, "abc"))).toBe("truncated");
      expect(kind(new HpackDecoder(), block(0x41, 0x8a, 0xf1, 0xe3))).toBe("truncated"); // Huffman
      expect(kind(new HpackDecoder(), block(0x40, 0x05, "ab"))).toBe("truncated"); // a name
      expect(thrown(() => new HpackDecoder().decode(block(0x41, 0x0a, "abc"))).message).toMatch(
        /string of 10 octets runs past the block's end \(3 left\)/,
      );
    });

    it("rejects Huffman errors in names and values (huffman-eos, huffman-padding, §5.2)", () => {
      expect(kind(new HpackDecoder(), block(0x41, 0x84, 0xff, 0xff, 0xff, 0xff))).toBe("huffman-eos");
      expect(kind(new HpackDecoder(), block(0x41, 0x82, 0x1f, 0xff))).toBe("huffman-padding"); // 'a' + 11 ones
      expect(kind(new HpackDecoder(), block(0x41, 0x81, 0x18))).toBe("huffman-padding"); // 'a' + 000
      expect(kind(new HpackDecoder(), block(0x40, 0x81, 0x18, ...str("v")))).toBe("huffman-padding");
    });

    it("rejects a dynamic table size update after a field (table-size-update-misplaced, §4.2)", () => {
      expect(kind(new HpackDecoder(), block(0x82, 0x20))).toBe("table-size-update-misplaced");
      expect(kind(new HpackDecoder(), block(0x20, 0x82, 0x3f, 0xe1, 0x1f))).toBe("table-size-update-misplaced");
    });

    it("rejects a size update above our SETTINGS_HEADER_TABLE_SIZE (table-size-update-over-limit, §4.2)", () => {
      expect(kind(new HpackDecoder(), block([4097, 5, 0x20]))).toBe("table-size-update-over-limit");
      expect(kind(new HpackDecoder({ maxTableSize: 256 }), block([257, 5, 0x20]))).toBe("table-size-update-over-limit");
      expect(thrown(() => new HpackDecoder().decode(block([65_536, 5, 0x20]))).message).toMatch(
        /65536 octets, above the 4096 of our SETTINGS_HEADER_TABLE_SIZE/,
      );
      const decoder = new HpackDecoder();
      decoder.setMaxTableSize(1024);
      expect(kind(decoder, block([1025, 5, 0x20]))).toBe("table-size-update-over-limit");
    });

    it("requires a size update once we lowered the limit below the table's size (table-size-update-missing, §4.2)", () => {
      const decoder = new HpackDecoder();
      decoder.decode(block(0x40, ...str("a"), ...str("b")));
      decoder.setMaxTableSize(1024);
      expect(kind(decoder, block(0x82))).toBe("table-size-update-missing");
      expect(kind(decoder, block())).toBe("table-size-update-missing");
      expect(pairs(decoder.decode(block([1024, 5, 0x20], 0x82, 0xbe)))).toEqual([":method: GET", "a: b"]);
      expect(decoder.tableMaxSize).toBe(1024);
      expect(pairs(decoder.decode(block(0x82)))).toEqual([":method: GET"]); // once is enough
    });

    it("needs no update when the limit goes down to or above the table's size, or up", () => {
      const decoder = new HpackDecoder();
      decoder.decode(block([512, 5, 0x20]));
      decoder.setMaxTableSize(1024);
      expect(pairs(decoder.decode(block(0x82)))).toEqual([":method: GET"]);
      decoder.setMaxTableSize(8192);
      expect(pairs(decoder.decode(block([8192, 5, 0x20], 0x82)))).toEqual([":method: GET"]);
      expect(decoder.tableMaxSize).toBe(8192);
    });

    it("rejects a header list over maxHeaderListSize, after decoding the block to the end (recoverable)", () => {
      const decoder = new HpackDecoder({ maxHeaderListSize: 100 });
      const error = thrown(() =>
        decoder.decode(block(0x40, ...str("a"), ...str("x".repeat(40)), 0x40, ...str("b"), ...str("y".repeat(40)))),
      );
      expect(error.kind).toBe("header-list-too-large");
      expect(error.recoverable).toBe(true);
      expect(error.code).toBe(0x9);
      expect(error.message).toMatch(/takes 146 octets, above the 100 of our SETTINGS_MAX_HEADER_LIST_SIZE/);
      // Both literals went into the table, as the peer's encoder expects: the next block can use them.
      expect(decoder.tableLength).toBe(2);
      expect(pairs(decoder.decode(block(0xbe)))).toEqual([`b: ${"y".repeat(40)}`]);
    });

    it("accepts a header list of exactly maxHeaderListSize, and takes a new limit between blocks", () => {
      const decoder = new HpackDecoder({ maxHeaderListSize: 32 + 7 + 3 });
      expect(decoder.decode(block(0x82)).size).toBe(42);
      decoder.maxHeaderListSize = 41;
      expect(kind(decoder, block(0x82))).toBe("header-list-too-large");
    });

    it("stops an HPACK bomb (one large entry, referenced over and over) without storing it", () => {
      const decoder = new HpackDecoder();
      decoder.decode(block(0x40, ...str("bomb"), [4000, 7, 0], "z".repeat(4000)));
      const bomb = new Uint8Array(16_384).fill(0xbe); // 16 K references to a 4 KB entry: 64 MB decoded
      const started = performance.now();
      expect(kind(decoder, bomb)).toBe("header-list-too-large");
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it("throws only HpackError, with COMPRESSION_ERROR's code and a message naming the RFC rule", () => {
      const error = thrown(() => new HpackDecoder().decode(block(0x80)));
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe("HpackError");
      expect(error.code).toBe(0x9);
      expect(error.recoverable).toBe(false);
      expect(error.message).toMatch(/^HPACK index-zero: .*RFC 7541 §6\.1/);
    });
  });

  describe("dynamic table size updates (§4.2, §6.3)", () => {
    it("accepts several at the start of a block, and evicts as they say", () => {
      const decoder = new HpackDecoder();
      decoder.decode(block(0x40, ...str("a"), ...str("b")));
      expect(pairs(decoder.decode(block(0x20, [4096, 5, 0x20], 0x82)))).toEqual([":method: GET"]);
      expect(decoder.tableLength).toBe(0);
      expect(kind(decoder, block(0xbe))).toBe("index-out-of-range");
    });

    it("accepts a block of updates only", () => {
      const decoder = new HpackDecoder();
      expect(decoder.decode(block([100, 5, 0x20])).names).toEqual([]);
      expect(decoder.tableMaxSize).toBe(100);
      decoder.decode(block(0x40, ...str("a"), "\x45", "x".repeat(69))); // 32 + 1 + 69 = 102: too big, not added
      expect(decoder.tableLength).toBe(0);
    });
  });

  describe("malformed fields (RFC 9113 §8.2.1): reported, not thrown", () => {
    it("flags an upper-case name, and its later references through the table", () => {
      const decoder = new HpackDecoder();
      const first = decoder.decode(block(0x82, 0x40, ...str("X-Upper"), ...str("v")));
      expect(first.malformedAt).toBe(1);
      expect(pairs(first)).toEqual([":method: GET", "X-Upper: v"]);
      expect(decoder.decode(block(0x82, 0x84, 0xbe)).malformedAt).toBe(2);
      expect(decoder.decode(block(0x82, 0x7e, ...str("w"))).malformedAt).toBe(1); // its name, another value
    });

    it("flags forbidden octets in names, and CR, LF, NUL or edge whitespace in values", () => {
      const flagged = (data: Uint8Array) => new HpackDecoder().decode(data).malformedAt;
      expect(flagged(block(0x00, ...str("a b"), ...str("v")))).toBe(0);
      expect(flagged(block(0x00, ...str("a:b"), ...str("v")))).toBe(0);
      expect(flagged(block(0x00, ...str(""), ...str("v")))).toBe(0);
      expect(flagged(block(0x82, 0x00, ...str("x"), ...str("a\r\nb")))).toBe(1);
      expect(flagged(block(0x82, 0x84, 0x00, ...str("x"), ...str("\x00")))).toBe(2);
      expect(flagged(block(0x01, ...str(" lead")))).toBe(0);
      expect(flagged(block(0x01, ...str("trail\t")))).toBe(0);
      expect(flagged(block(0x00, ...str(":path"), ...str("/")))).toBe(-1);
    });

    it("flags a Huffman-coded upper-case name", () => {
      const out = new ByteSink();
      new HpackEncoder({ sensitiveNames: [] }).encode(["Content-Type-Upper"], ["v"], out);
      expect(out.bytes[1]! & 0x80).toBe(0x80); // Huffman
      expect(new HpackDecoder().decode(out.view()).malformedAt).toBe(0);
    });

    it("does not flag a good name whose dynamic entry had a bad value", () => {
      const decoder = new HpackDecoder();
      expect(decoder.decode(block(0x40, ...str("x"), ...str("a\nb"))).malformedAt).toBe(0);
      expect(decoder.decode(block(0x7e, ...str("fine"))).malformedAt).toBe(-1);
      expect(decoder.decode(block(0xbf)).malformedAt).toBe(0);
    });

    it("reports the first malformed field when there are several", () => {
      const list = new HpackDecoder().decode(block(0x82, 0x00, ...str("A"), ...str("v"), 0x00, ...str("B"), ...str("v")));
      expect(list.malformedAt).toBe(1);
      expect(list.names).toEqual([":method", "A", "B"]);
    });
  });

  it("reports every never-indexed field, by position", () => {
    const list = new HpackDecoder().decode(
      block(0x10, ...str("a"), ...str("1"), 0x82, 0x1f, 0x08, ...str("Bearer x"), 0x1f, 0x11, ...str("c=d")),
    );
    expect(pairs(list)).toEqual(["a: 1", ":method: GET", "authorization: Bearer x", "cookie: c=d"]);
    expect(list.neverIndexed).toEqual([0, 2, 3]);
  });
});
