import { describe, expect, it } from "vitest";
import { HpackError } from "./hpack-error.ts";
import { decodeInteger, encodeInteger, maxHpackInteger } from "./hpack-integer.ts";

function encode(value: number, prefixBits: number, flags = 0): number[] {
  const out = new Uint8Array(8);
  return Array.from(out.subarray(0, encodeInteger(out, 0, value, prefixBits, flags)));
}

function decode(bytes: number[], prefixBits: number): { value: number; offset: number } {
  const cursor = { offset: 0 };
  const value = decodeInteger(Uint8Array.from(bytes), bytes.length, cursor, prefixBits);
  return { value, offset: cursor.offset };
}

function kindOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof HpackError) return error.kind;
    throw error;
  }
  return "none";
}

describe("encodeInteger()", () => {
  it("writes RFC 7541 C.1's examples", () => {
    expect(encode(10, 5)).toEqual([0x0a]); // C.1.1
    expect(encode(1337, 5)).toEqual([0x1f, 0x9a, 0x0a]); // C.1.2
    expect(encode(42, 8)).toEqual([0x2a]); // C.1.3
  });

  it("keeps the caller's pattern in the first octet's high bits", () => {
    expect(encode(1337, 5, 0xe0)).toEqual([0xff, 0x9a, 0x0a]);
    expect(encode(3, 7, 0x80)).toEqual([0x83]);
  });

  it("needs at most 5 continuation octets for 2^31-1", () => {
    for (let prefixBits = 1; prefixBits <= 8; prefixBits++) {
      expect(encode(maxHpackInteger, prefixBits).length).toBeLessThanOrEqual(6);
    }
  });
});

describe("decodeInteger()", () => {
  it("reads RFC 7541 C.1's examples and leaves the cursor after them", () => {
    expect(decode([0x0a], 5)).toEqual({ value: 10, offset: 1 });
    expect(decode([0x1f, 0x9a, 0x0a, 0x55], 5)).toEqual({ value: 1337, offset: 3 });
    expect(decode([0x2a], 8)).toEqual({ value: 42, offset: 1 });
  });

  it("ignores the bits above the prefix", () => {
    expect(decode([0xea], 5)).toEqual({ value: 10, offset: 1 });
  });

  it("round-trips the edges of every prefix size", () => {
    for (let prefixBits = 1; prefixBits <= 8; prefixBits++) {
      const edge = 2 ** prefixBits - 1;
      for (const value of [0, 1, edge - 1, edge, edge + 1, edge + 127, edge + 128, 16_383, 2 ** 21, 2 ** 28, maxHpackInteger]) {
        if (value < 0) continue;
        const bytes = encode(value, prefixBits);
        expect(decode(bytes, prefixBits), `${value} on ${prefixBits} bits`).toEqual({ value, offset: bytes.length });
      }
    }
  });

  it("accepts 2^31-1 and rejects 2^31 (integer-overflow)", () => {
    expect(decode([0x1f, 0xe0, 0xff, 0xff, 0xff, 0x07], 5).value).toBe(maxHpackInteger);
    expect(kindOf(() => decode([0x1f, 0xe1, 0xff, 0xff, 0xff, 0x07], 5))).toBe("integer-overflow");
    expect(kindOf(() => decode([0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f], 7))).toBe("integer-overflow");
  });

  it("rejects a sixth continuation octet, even one that adds nothing (integer-overflow)", () => {
    // 0x80 octets are valid zero padding by §5.1's grammar; bounding them stops an endless integer.
    expect(decode([0x1f, 0x80, 0x80, 0x80, 0x80, 0x00], 5)).toEqual({ value: 31, offset: 6 });
    expect(kindOf(() => decode([0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5))).toBe("integer-overflow");
  });

  it("rejects an integer cut off by the end of the block (truncated)", () => {
    expect(kindOf(() => decode([], 5))).toBe("truncated");
    expect(kindOf(() => decode([0x1f], 5))).toBe("truncated");
    expect(kindOf(() => decode([0x1f, 0x9a], 5))).toBe("truncated");
  });

  it("throws HpackError with COMPRESSION_ERROR's code", () => {
    let thrown: unknown;
    try {
      decode([0x1f], 5);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HpackError);
    expect((thrown as HpackError).code).toBe(0x9);
    expect((thrown as HpackError).recoverable).toBe(false);
    expect((thrown as HpackError).message).toMatch(/^HPACK truncated: .*RFC 7541 §5\.1/);
  });
});
