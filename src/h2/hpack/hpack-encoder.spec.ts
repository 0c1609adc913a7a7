import { describe, expect, it } from "vitest";
import { ByteSink } from "./byte-sink.ts";
import { HpackDecoder } from "./hpack-decoder.ts";
import { HpackEncoder, type HpackEncoderOptions } from "./hpack-encoder.ts";
import { defaultSensitiveNames } from "./indexing-policy.ts";

function hex(data: Uint8Array): string {
  return Array.from(data, (octet) => octet.toString(16).padStart(2, "0")).join("");
}

/** Encodes one block of `fields` ("name: value") and returns it as hex. */
function encodeHex(encoder: HpackEncoder, fields: readonly string[], neverIndexed?: readonly number[]): string {
  const out = new ByteSink(4);
  const split = fields.map((field) => field.split(": ") as [string, string]);
  encoder.encode(
    split.map(([name]) => name),
    split.map(([, value]) => value ?? ""),
    out,
    neverIndexed,
  );
  return hex(out.view());
}

const raw = (options: HpackEncoderOptions = {}) => new HpackEncoder({ huffman: false, ...options });
const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");

const grpcRequest = [
  ":method: POST",
  ":scheme: http",
  ":path: /greet.v1.GreetService/Greet",
  ":authority: greet.default.svc:8080",
  "content-type: application/grpc",
  "te: trailers",
  "user-agent: grpc-go/1.72.0",
  "grpc-accept-encoding: gzip",
  "grpc-timeout: 4999872u",
];

describe("HpackEncoder.encode()", () => {
  it("sends a static name and value as one indexed octet (§6.1)", () => {
    expect(encodeHex(raw(), [":method: GET", ":method: POST", ":status: 200", "accept-encoding: gzip, deflate"])).toBe(
      "82838890",
    );
  });

  it("indexes a literal with incremental indexing, then sends it as one octet (§6.2.1)", () => {
    const encoder = raw();
    // 0x5f: incremental indexing, name content-type (31); 0x10: a raw string of 16 octets.
    expect(encodeHex(encoder, ["content-type: application/grpc"])).toBe(`5f10${ascii("application/grpc")}`);
    expect(encodeHex(encoder, ["content-type: application/grpc"])).toBe("be");
    expect(encoder.tableLength).toBe(1);
  });

  it("references the newest dynamic entry of a name for a new value", () => {
    const encoder = raw();
    encodeHex(encoder, ["x-a: 1"]);
    expect(encodeHex(encoder, ["x-a: 2"])).toBe(`7e01${ascii("2")}`); // name 62
    expect(encodeHex(encoder, ["x-a: 1", "x-a: 2"])).toBe("bfbe"); // both values still there
  });

  it("finds each of several values of one name (:path of several methods)", () => {
    const encoder = raw();
    const paths = Array.from({ length: 6 }, (_, i) => `:path: /svc/M${i}`);
    encodeHex(encoder, paths);
    expect(encodeHex(encoder, paths)).toBe("c3c2c1c0bfbe");
  });

  it("sends sensitive names never-indexed and keeps them out of the table (§6.2.3, §7.1.3)", () => {
    const encoder = raw();
    expect(encodeHex(encoder, ["authorization: Bearer abc"])).toBe(`1f080a${ascii("Bearer abc")}`);
    expect(encodeHex(encoder, ["authorization: Bearer abc"])).toBe(`1f080a${ascii("Bearer abc")}`);
    expect(encodeHex(encoder, ["cookie: a=b", "set-cookie: c=d", "proxy-authorization: x"])).toBe(
      `1f1103${ascii("a=b")}1f2803${ascii("c=d")}1f2201${ascii("x")}`,
    );
    expect(encoder.tableLength).toBe(0);
    expect(defaultSensitiveNames).toContain("authorization");
  });

  it("sends the fields the caller marks never-indexed, even when they are in a table", () => {
    const encoder = raw();
    encodeHex(encoder, ["x-token: t"]);
    // 0x1f 0x2f: never indexed, name 62 on a 4-bit prefix (15 + 47); then a new name, never indexed.
    expect(encodeHex(encoder, [":method: GET", "x-token: t", "x-other: o"], [1, 2])).toBe(
      `821f2f01${ascii("t")}1007${ascii("x-other")}01${ascii("o")}`,
    );
    expect(encoder.tableLength).toBe(1);
  });

  it("relays a decoded list's never-indexed fields the same way", () => {
    const peer = new HpackEncoder({ sensitiveNames: ["x-api-key"] });
    const first = new ByteSink();
    peer.encode(["x-api-key", "x-plain"], ["k", "p"], first);
    const list = new HpackDecoder().decode(first.view());
    expect(list.neverIndexed).toEqual([0]);
    const relayed = new ByteSink();
    new HpackEncoder().encode(list.names, list.values, relayed, list.neverIndexed);
    expect(new HpackDecoder().decode(relayed.view()).neverIndexed).toEqual([0]);
  });

  it("takes custom sensitive names in place of the defaults", () => {
    expect(encodeHex(raw({ sensitiveNames: ["x-key"] }), ["x-key: k"])).toBe(`1005${ascii("x-key")}01${ascii("k")}`);
    const open = raw({ sensitiveNames: [] });
    expect(encodeHex(open, ["cookie: a=b"])).toBe(`6003${ascii("a=b")}`);
    expect(open.tableLength).toBe(1);
  });

  it("does not index values new on every call (grpc-timeout, trace ids, content-length), only their name, once", () => {
    const encoder = raw();
    // A static name: never in the dynamic table; the literal refers to content-length (28) on a 4-bit prefix.
    expect(encodeHex(encoder, ["content-length: 12"])).toBe(`0f0d02${ascii("12")}`);
    expect(encoder.tableLength).toBe(0);
    // A name in no table: indexed once with its first value, so the next values refer to it (62: 0x0f 0x2f).
    expect(encodeHex(encoder, ["grpc-timeout: 4999872u"])).toBe(`400c${ascii("grpc-timeout")}08${ascii("4999872u")}`);
    expect(encodeHex(encoder, ["grpc-timeout: 4999001u"])).toBe(`0f2f08${ascii("4999001u")}`);
    expect(encodeHex(encoder, ["grpc-timeout: 4999872u"])).toBe("be"); // the first value is in the table, after all
    expect(encodeHex(encoder, ["traceparent: 00-abc-01", "traceparent: 00-def-01"])).toBe(
      `400b${ascii("traceparent")}09${ascii("00-abc-01")}0f2f09${ascii("00-def-01")}`,
    );
    expect(encoder.tableLength).toBe(2);
  });

  it("does not index an entry larger than half the table", () => {
    const encoder = raw();
    const half = "v".repeat(4096 / 2 - 32 - 3); // with "x-h": exactly half
    encodeHex(encoder, [`x-h: ${half}`]);
    expect(encoder.tableLength).toBe(1);
    encodeHex(encoder, [`x-h: ${half}w`]);
    expect(encoder.tableLength).toBe(1);
    expect(encodeHex(encoder, [`x-h: ${half}w`]).slice(0, 2)).toBe("0f"); // without indexing, name 62
  });

  it("Huffman-codes a string only when that is shorter (§5.2)", () => {
    const encoder = new HpackEncoder();
    // "x-a" is 18 bits of Huffman, 3 octets either way: raw. "www.example.com": 12 octets instead of 15.
    expect(encodeHex(encoder, ["x-a: www.example.com"])).toBe(`4003${ascii("x-a")}8cf1e3c2e5f23a6ba0ab90f4ff`);
    // "content-type": 9 octets Huffman instead of 12. "&&&": 8-bit codes, as long as raw: raw. "\x00": 2 octets against 1.
    expect(encodeHex(encoder, ["x-content-type: &&&"]).slice(0, 4)).toBe("408a");
    expect(encodeHex(encoder, ["x-b: &&&"])).toBe(`4003${ascii("x-b")}03262626`);
    expect(encodeHex(encoder, ["x-c: \x00"])).toBe(`4003${ascii("x-c")}0100`);
  });

  it("appends to what the sink holds already", () => {
    const out = new ByteSink(1);
    out.reserve(3).set([9, 9, 9]);
    out.length = 3;
    new HpackEncoder().encode([":method"], ["GET"], out);
    expect(hex(out.view())).toBe("09090982");
  });

  it("sends a typical gRPC request in a few octets once its fields are indexed", () => {
    const encoder = new HpackEncoder();
    const first = encodeHex(encoder, grpcRequest).length / 2;
    const second = encodeHex(encoder, grpcRequest.with(-1, "grpc-timeout: 4999001u")).length / 2;
    expect(first).toBeGreaterThan(80);
    // 8 indexed octets, and grpc-timeout: 0x00, name (10 + 1), value (6 + 1)
    expect(second).toBeLessThan(30);
  });

  it("rejects names and values of different lengths, and chars above 0xff (then stays unusable)", () => {
    expect(() => new HpackEncoder().encode(["a"], [], new ByteSink())).toThrow(RangeError);
    const encoder = new HpackEncoder();
    expect(() => encodeHex(encoder, ["x-a: 1", "x-b: \u2713"])).toThrow(/char above 0xff/);
    expect(() => encodeHex(encoder, ["x-a: 1"])).toThrow(/close the connection/);
    expect(() => encodeHex(raw(), ["x-\u0100: 1"])).toThrow(RangeError);
    expect(encodeHex(raw(), ["x-a: caf\u00e9\u00ff"])).toBe(`4003${ascii("x-a")}05${ascii("caf")}e9ff`);
  });
});

describe("HpackEncoder.setMaxTableSize()", () => {
  it("signals a lower size at the start of the next block, and evicts (§4.2, §6.3)", () => {
    const encoder = raw();
    encodeHex(encoder, ["x-a: 1", "x-b: 2"]);
    encoder.setMaxTableSize(40);
    expect(encoder.tableMaxSize).toBe(40);
    expect(encodeHex(encoder, [":method: GET"])).toBe("3f0982"); // 40 on a 5-bit prefix
    expect(encoder.tableLength).toBe(1);
    expect(encodeHex(encoder, [":method: GET"])).toBe("82"); // once
  });

  it("signals the smallest size first when it went down and up again (§4.2)", () => {
    const encoder = raw();
    encodeHex(encoder, ["x-a: 1"]);
    encoder.setMaxTableSize(0);
    encoder.setMaxTableSize(4096);
    expect(encodeHex(encoder, [":method: GET"])).toBe("203fe11f82");
    expect(encoder.tableLength).toBe(0);
  });

  it("signals nothing when the size does not change, or only above our cap", () => {
    const encoder = raw();
    encoder.setMaxTableSize(4096);
    expect(encodeHex(encoder, [":method: GET"])).toBe("82");
    encoder.setMaxTableSize(65_536);
    expect(encodeHex(encoder, [":method: GET"])).toBe("82");
    expect(encoder.tableMaxSize).toBe(4096);
  });

  it("grows to the peer's larger table up to its cap", () => {
    const encoder = raw({ maxTableSize: 16_384 });
    expect(encodeHex(encoder, [":method: GET"])).toBe("82");
    encoder.setMaxTableSize(65_536);
    expect(encodeHex(encoder, [":method: GET"])).toBe("3fe17f82"); // 16384
  });

  it("signals a cap below 4096 in the first block", () => {
    const encoder = raw({ maxTableSize: 1024 });
    expect(encoder.tableMaxSize).toBe(1024);
    expect(encodeHex(encoder, [":method: GET"])).toBe("3fe10782");
    expect(encodeHex(encoder, [":method: GET"])).toBe("82");
  });

  it("keeps encoder and decoder tables in step through size changes", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const sizes = [4096, 100, 0, 300, 4096, 64, 2048];
    for (let round = 0; round < 40; round++) {
      const size = sizes[round % sizes.length]!;
      if (round % 3 === 0) encoder.setMaxTableSize(size);
      const fields = [":method: POST", `:path: /svc/M${round % 5}`, `x-round: ${round % 7}`, "content-type: application/grpc"];
      const out = new ByteSink();
      const split = fields.map((f) => f.split(": ") as [string, string]);
      encoder.encode(split.map(([n]) => n), split.map(([, v]) => v), out);
      const list = decoder.decode(out.view());
      expect(list.names.map((n, i) => `${n}: ${list.values[i]}`)).toEqual(fields);
      expect(decoder.tableSize).toBe(encoder.tableSize);
      expect(decoder.tableMaxSize).toBe(encoder.tableMaxSize);
    }
  });
});
