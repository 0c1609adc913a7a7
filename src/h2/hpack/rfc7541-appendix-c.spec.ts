import { describe, expect, it } from "vitest";
import { ByteSink } from "./byte-sink.ts";
import { HpackDecoder } from "./hpack-decoder.ts";
import { HpackEncoder, type HpackEncoderOptions } from "./hpack-encoder.ts";

// Every header block example of RFC 7541 Appendix C, with the fields it
// decodes to and the dynamic table size after it (the RFC's "Table size").
// C.2.x are independent blocks; C.3 to C.6 are sequences on one connection,
// C.5 and C.6 with SETTINGS_HEADER_TABLE_SIZE 256, so they evict.

interface Example {
  readonly id: string;
  readonly hex: string;
  readonly fields: readonly (readonly [string, string])[];
  readonly tableSize: number;
}

const request1 = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]] as const;
const request2 = [...request1, ["cache-control", "no-cache"]] as const;
const request3 = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
] as const;
const response1 = [
  [":status", "302"],
  ["cache-control", "private"],
  ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
  ["location", "https://www.example.com"],
] as const;
const response2 = [[":status", "307"], ...response1.slice(1)] as const;
const response3 = [
  [":status", "200"],
  ["cache-control", "private"],
  ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
  ["location", "https://www.example.com"],
  ["content-encoding", "gzip"],
  ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
] as const;

const c2: readonly Example[] = [
  { id: "C.2.1", hex: "400a637573746f6d2d6b65790d637573746f6d2d686561646572", fields: [["custom-key", "custom-header"]], tableSize: 55 },
  { id: "C.2.2", hex: "040c2f73616d706c652f70617468", fields: [[":path", "/sample/path"]], tableSize: 0 },
  { id: "C.2.3", hex: "100870617373776f726406736563726574", fields: [["password", "secret"]], tableSize: 0 },
  { id: "C.2.4", hex: "82", fields: [[":method", "GET"]], tableSize: 0 },
];
const c3: readonly Example[] = [
  { id: "C.3.1", hex: "828684410f7777772e6578616d706c652e636f6d", fields: request1, tableSize: 57 },
  { id: "C.3.2", hex: "828684be58086e6f2d6361636865", fields: request2, tableSize: 110 },
  { id: "C.3.3", hex: "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", fields: request3, tableSize: 164 },
];
const c4: readonly Example[] = [
  { id: "C.4.1", hex: "828684418cf1e3c2e5f23a6ba0ab90f4ff", fields: request1, tableSize: 57 },
  { id: "C.4.2", hex: "828684be5886a8eb10649cbf", fields: request2, tableSize: 110 },
  { id: "C.4.3", hex: "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", fields: request3, tableSize: 164 },
];
const c5: readonly Example[] = [
  {
    id: "C.5.1",
    hex:
      "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54" +
      "6e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    fields: response1,
    tableSize: 222,
  },
  { id: "C.5.2", hex: "4803333037c1c0bf", fields: response2, tableSize: 222 },
  {
    id: "C.5.3",
    hex:
      "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d" +
      "4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
    fields: response3,
    tableSize: 215,
  },
];
const c6: readonly Example[] = [
  {
    id: "C.6.1",
    hex: "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
    fields: response1,
    tableSize: 222,
  },
  { id: "C.6.2", hex: "4883640effc1c0bf", fields: response2, tableSize: 222 },
  {
    id: "C.6.3",
    hex:
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b39" +
      "60d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    fields: response3,
    tableSize: 215,
  },
];

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

function hex(data: Uint8Array): string {
  return Array.from(data, (octet) => octet.toString(16).padStart(2, "0")).join("");
}

function pairs(list: { names: string[]; values: string[] }): [string, string][] {
  return list.names.map((name, i) => [name, list.values[i]!]);
}

/** An encoder whose table the peer has set to `tableSize`, that size already signaled (as Appendix C assumes). */
function encoderAt(tableSize: number, options: HpackEncoderOptions): HpackEncoder {
  const encoder = new HpackEncoder(options);
  if (tableSize !== 4096) {
    encoder.setMaxTableSize(tableSize);
    encoder.encode([], [], new ByteSink());
  }
  return encoder;
}

function encodeAll(encoder: HpackEncoder, examples: readonly Example[], neverIndexed: readonly number[] = []): string[] {
  return examples.map((example) => {
    const out = new ByteSink(8); // small, so the encoder's growth is exercised too
    encoder.encode(
      example.fields.map(([name]) => name),
      example.fields.map(([, value]) => value),
      out,
      neverIndexed,
    );
    return hex(out.view());
  });
}

describe("HpackDecoder.decode() on RFC 7541 Appendix C", () => {
  it("decodes each C.2 example (one field each) into a fresh table", () => {
    for (const example of c2) {
      const decoder = new HpackDecoder();
      const list = decoder.decode(bytes(example.hex));
      expect(pairs(list), example.id).toEqual(example.fields);
      expect(decoder.tableSize, example.id).toBe(example.tableSize);
    }
  });

  it("reports C.2.3's never-indexed literal, and no other", () => {
    expect(new HpackDecoder().decode(bytes(c2[2]!.hex)).neverIndexed).toEqual([0]);
    for (const example of [c2[0]!, c2[1]!, c2[3]!]) {
      expect(new HpackDecoder().decode(bytes(example.hex)).neverIndexed, example.id).toEqual([]);
    }
  });

  for (const [name, examples, tableSize] of [
    ["C.3 (requests, no Huffman)", c3, 4096],
    ["C.4 (requests, Huffman)", c4, 4096],
    ["C.5 (responses, no Huffman, 256-octet table, evictions)", c5, 256],
    ["C.6 (responses, Huffman, 256-octet table, evictions)", c6, 256],
  ] as const) {
    it(`decodes ${name} in sequence on one connection`, () => {
      const decoder = new HpackDecoder({ maxTableSize: tableSize });
      for (const example of examples) {
        const list = decoder.decode(bytes(example.hex));
        expect(pairs(list), example.id).toEqual(example.fields);
        expect(decoder.tableSize, example.id).toBe(example.tableSize);
        expect(list.malformedAt, example.id).toBe(-1);
        expect(list.size, example.id).toBe(example.fields.reduce((n, [k, v]) => n + k.length + v.length + 32, 0));
      }
    });
  }
});

describe("HpackEncoder.encode() on RFC 7541 Appendix C", () => {
  it("writes C.2.1, C.2.3 (marked never-indexed) and C.2.4 byte for byte", () => {
    const plain = { huffman: false };
    expect(encodeAll(new HpackEncoder(plain), [c2[0]!])).toEqual([c2[0]!.hex]);
    expect(encodeAll(new HpackEncoder(plain), [c2[2]!], [0])).toEqual([c2[2]!.hex]);
    expect(encodeAll(new HpackEncoder(plain), [c2[3]!])).toEqual([c2[3]!.hex]);
  });

  it("indexes C.2.2's :path, where the RFC's encoder did not: gRPC paths repeat", () => {
    // 0x44: literal with incremental indexing, name :path (4); the RFC has 0x04 (without indexing).
    expect(encodeAll(new HpackEncoder({ huffman: false }), [c2[1]!])).toEqual(["44" + c2[1]!.hex.slice(2)]);
  });

  it("writes C.3 and C.4 byte for byte, with the default policy", () => {
    expect(encodeAll(new HpackEncoder({ huffman: false }), c3)).toEqual(c3.map((e) => e.hex));
    expect(encodeAll(new HpackEncoder(), c4)).toEqual(c4.map((e) => e.hex));
  });

  it("writes C.5 byte for byte when set-cookie may be indexed (sensitiveNames: [])", () => {
    expect(encodeAll(encoderAt(256, { huffman: false, sensitiveNames: [] }), c5)).toEqual(c5.map((e) => e.hex));
  });

  it("writes C.6.1 and C.6.3 byte for byte; C.6.2's '307' stays raw, Huffman being no shorter", () => {
    const [first, second, third] = encodeAll(encoderAt(256, { sensitiveNames: [] }), c6);
    expect(first).toBe(c6[0]!.hex);
    // The RFC Huffman-codes "307" (0x83 640eff); raw is as long (0x03 333037) and cheaper to decode.
    expect(second).toBe("4803333037c1c0bf");
    expect(third).toBe(c6[2]!.hex);
  });

  it("sends set-cookie never-indexed by default, so C.6.3 differs only there", () => {
    const [, , third] = encodeAll(encoderAt(256, {}), c6);
    // 0x1f 0x28: never indexed, name index 55 (set-cookie) on a 4-bit prefix; the RFC has 0x77 (indexed).
    const rfc = c6[2]!.hex;
    const at = rfc.indexOf("77ad");
    expect(third).toBe(`${rfc.slice(0, at)}1f28${rfc.slice(at + 2)}`);
  });

  it("round-trips every example through our decoder, whatever the encoding", () => {
    for (const [examples, tableSize] of [[c3, 4096], [c4, 4096], [c5, 256], [c6, 256]] as const) {
      const encoder = encoderAt(tableSize, {});
      const decoder = new HpackDecoder({ maxTableSize: tableSize });
      for (const example of examples) {
        const [block] = encodeAll(encoder, [example]);
        expect(pairs(decoder.decode(bytes(block!))), example.id).toEqual(example.fields);
        expect(decoder.tableSize, example.id).toBe(encoder.tableSize);
      }
    }
  });
});
