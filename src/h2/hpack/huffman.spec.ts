import { describe, expect, it } from "vitest";
import { HpackError } from "./hpack-error.ts";
import { huffmanCodeTable, huffmanEos } from "./huffman-code.ts";
import {
  huffmanDecode,
  huffmanDecodedMaxLength,
  huffmanDecodeInto,
  huffmanEncode,
  huffmanEncodedLength,
} from "./huffman.ts";

function encode(text: string): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(text));
  expect(huffmanEncode(text, out, 0)).toBe(out.length);
  return out;
}

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

function hex(data: Uint8Array): string {
  return Array.from(data, (octet) => octet.toString(16).padStart(2, "0")).join("");
}

function decodeKind(data: Uint8Array): string {
  try {
    huffmanDecode(data, 0, data.length);
  } catch (error) {
    if (error instanceof HpackError) return error.kind;
    throw error;
  }
  return "none";
}

/** The bits of `symbols`' codes, then `padding` as a bit string, packed MSB first (a short final octet filled with `fill`). */
function pack(symbols: readonly number[], padding: string): Uint8Array {
  let bits = "";
  for (const symbol of symbols) {
    bits += huffmanCodeTable[2 * symbol]!.toString(2).padStart(huffmanCodeTable[2 * symbol + 1]!, "0");
  }
  bits += padding;
  if (bits.length % 8 !== 0) throw new Error(`pack: ${bits.length} bits`);
  return Uint8Array.from(bits.match(/.{8}/g) ?? [], (octet) => Number.parseInt(octet, 2));
}

const allOctets = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));

describe("huffmanCodeTable (RFC 7541 Appendix B)", () => {
  it("has 257 symbols, EOS last as 30 ones", () => {
    expect(huffmanCodeTable.length).toBe(2 * 257);
    expect(huffmanCodeTable[2 * huffmanEos]).toBe(0x3fffffff);
    expect(huffmanCodeTable[2 * huffmanEos + 1]).toBe(30);
  });

  it("is the canonical code of its lengths, and complete (Kraft sum exactly 1)", () => {
    const symbols = Array.from({ length: 257 }, (_, s) => s).sort(
      (a, b) => huffmanCodeTable[2 * a + 1]! - huffmanCodeTable[2 * b + 1]! || a - b,
    );
    let code = -1;
    let length = huffmanCodeTable[2 * symbols[0]! + 1]!;
    let kraft = 0;
    for (const symbol of symbols) {
      const next = huffmanCodeTable[2 * symbol + 1]!;
      code = (code + 1) * 2 ** (next - length);
      length = next;
      expect(huffmanCodeTable[2 * symbol], `symbol ${symbol}`).toBe(code);
      kraft += 2 ** -length;
    }
    expect(kraft).toBe(1);
  });

  it("spells a few codes as the RFC prints them", () => {
    const code = (s: number) => [huffmanCodeTable[2 * s], huffmanCodeTable[2 * s + 1]];
    expect(code(0)).toEqual([0x1ff8, 13]);
    expect(code(0x20)).toEqual([0x14, 6]); // ' '
    expect(code(0x30)).toEqual([0x0, 5]); // '0'
    expect(code(0x61)).toEqual([0x3, 5]); // 'a'
    expect(code(0x7f)).toEqual([0xffffffc, 28]);
    expect(code(0xff)).toEqual([0x3ffffee, 26]);
  });
});

describe("huffmanEncode()", () => {
  it("writes the strings of RFC 7541 C.4 and C.6", () => {
    expect(hex(encode("www.example.com"))).toBe("f1e3c2e5f23a6ba0ab90f4ff");
    expect(hex(encode("no-cache"))).toBe("a8eb10649cbf");
    expect(hex(encode("custom-key"))).toBe("25a849e95ba97d7f");
    expect(hex(encode("custom-value"))).toBe("25a849e95bb8e8b4bf");
    expect(hex(encode("302"))).toBe("6402");
    expect(hex(encode("Mon, 21 Oct 2013 20:13:21 GMT"))).toBe("d07abe941054d444a8200595040b8166e082a62d1bff");
  });

  it("writes nothing for the empty string", () => {
    expect(huffmanEncodedLength("")).toBe(0);
    expect(encode("").length).toBe(0);
  });

  it("reports a char above 0xff as length -1", () => {
    expect(huffmanEncodedLength("caf\u00e9")).toBe(5); // 5 + 5 + 6 + 22 bits: é (0xe9) is rare
    expect(huffmanEncodedLength("\u0100")).toBe(-1);
    expect(huffmanEncodedLength("a\u{1f600}")).toBe(-1);
  });

  it("writes at the given offset and returns the end", () => {
    const out = new Uint8Array(10).fill(0xaa);
    expect(huffmanEncode("302", out, 3)).toBe(5);
    expect(hex(out)).toBe("aaaaaa6402aaaaaaaaaa");
  });
});

describe("huffmanDecode()", () => {
  it("reads the strings of RFC 7541 C.4 and C.6", () => {
    const read = (h: string) => huffmanDecode(bytes(h), 0, h.length / 2);
    expect(read("f1e3c2e5f23a6ba0ab90f4ff")).toBe("www.example.com");
    expect(read("9bd9ab")).toBe("gzip");
    expect(read("640eff")).toBe("307");
    expect(read("94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007")).toBe(
      "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    );
  });

  it("round-trips each of the 256 octets alone, and all of them in one string", () => {
    for (let octet = 0; octet < 256; octet++) {
      const text = String.fromCharCode(octet);
      const data = encode(text);
      expect(huffmanDecode(data, 0, data.length), `octet ${octet}`).toBe(text);
    }
    const data = encode(allOctets);
    expect(huffmanDecode(data, 0, data.length)).toBe(allOctets);
    const reversed = [...allOctets].reverse().join("").repeat(3);
    const again = encode(reversed);
    expect(huffmanDecode(again, 0, again.length)).toBe(reversed);
  });

  it("round-trips every pair of octets (each code boundary against each other)", () => {
    for (let a = 0; a < 256; a++) {
      let text = "";
      for (let b = 0; b < 256; b++) text += String.fromCharCode(a, b);
      const data = encode(text);
      expect(huffmanDecode(data, 0, data.length)).toBe(text);
    }
  });

  it("decodes the empty string from no octets", () => {
    expect(huffmanDecode(new Uint8Array(0), 0, 0)).toBe("");
  });

  it("decodes a slice, into an output at an offset, within huffmanDecodedMaxLength", () => {
    const data = bytes("00f1e3c2e5f23a6ba0ab90f4ff00");
    const out = new Uint8Array(2 + huffmanDecodedMaxLength(12));
    const end = huffmanDecodeInto(data, 1, 13, out, 2);
    expect(String.fromCharCode(...out.subarray(2, end))).toBe("www.example.com");
    // The bound holds for the densest string: '0' has a 5-bit code.
    const zeros = encode("0".repeat(40));
    expect(zeros.length).toBe(25);
    expect(huffmanDecodedMaxLength(zeros.length)).toBe(40);
  });

  it("rejects the EOS symbol inside the string (huffman-eos)", () => {
    expect(decodeKind(pack([huffmanEos], "11"))).toBe("huffman-eos"); // EOS alone: 32 ones
    expect(decodeKind(pack([0x61, huffmanEos], "11111"))).toBe("huffman-eos"); // after a symbol
    expect(decodeKind(pack([0x61, huffmanEos, 0x61, 0x61], "111"))).toBe("huffman-eos"); // with more after it
    expect(decodeKind(bytes("ffffffff"))).toBe("huffman-eos");
  });

  it("rejects padding longer than 7 bits (huffman-padding)", () => {
    expect(decodeKind(pack([0x61], "111"))).toBe("none"); // 'a' + 3 bits of padding: valid
    expect(decodeKind(pack([0x61], "11111111111"))).toBe("huffman-padding"); // 11 bits
    expect(decodeKind(pack([], "11111111"))).toBe("huffman-padding"); // one octet of padding only
    expect(decodeKind(pack([0x30, 0x30, 0x30], "1" + "11111111"))).toBe("huffman-padding"); // 15 bits + 9
  });

  it("rejects padding that is not all ones, and a cut-off code (huffman-padding)", () => {
    expect(decodeKind(pack([0x61], "000"))).toBe("huffman-padding");
    expect(decodeKind(pack([0x61], "101"))).toBe("huffman-padding");
    expect(decodeKind(pack([0x61], "110"))).toBe("huffman-padding");
    expect(decodeKind(bytes("fe"))).toBe("huffman-padding"); // the start of a longer code
  });

  it("names the rule in its messages", () => {
    expect(() => huffmanDecode(bytes("ffffffff"), 0, 4)).toThrow(/EOS symbol.*RFC 7541 §5\.2/);
    expect(() => huffmanDecode(bytes("1fff"), 0, 2)).toThrow(/longer than 7 bits/);
    expect(() => huffmanDecode(bytes("18"), 0, 1)).toThrow(/not all ones/);
  });
});
