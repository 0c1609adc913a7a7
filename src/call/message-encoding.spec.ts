import { compressionGzip } from "@connectrpc/connect-node";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressedFlag, type EnvelopedMessage } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { adaptEncoding, parseEncodingList, requireEncoding } from "./message-encoding.ts";

const registry = new Map([["gzip", compressionGzip]]);
const text = new TextEncoder();

async function* from(...messages: EnvelopedMessage[]): AsyncIterable<EnvelopedMessage> {
  yield* messages;
}

async function collect(messages: AsyncIterable<EnvelopedMessage>): Promise<EnvelopedMessage[]> {
  const all: EnvelopedMessage[] = [];
  for await (const m of messages) {
    all.push(m);
  }
  return all;
}

describe("parseEncodingList()", () => {
  it("reads names in order, lower-cased, without parameters, wildcards or repeats", () => {
    expect(parseEncodingList("gzip, br;q=0.5, *, GZIP, identity")).toEqual(["gzip", "br", "identity"]);
    expect(parseEncodingList(null)).toEqual([]);
    expect(parseEncodingList("")).toEqual([]);
  });
});

describe("requireEncoding()", () => {
  it("treats a missing header as identity", () => {
    expect(requireEncoding(null, registry)).toBe("identity");
  });

  it("rejects an unknown encoding with Unimplemented, naming what is supported", () => {
    try {
      requireEncoding("snappy", registry);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConnectError);
      expect((e as ConnectError).code).toBe(Code.Unimplemented);
      expect((e as ConnectError).rawMessage).toContain("identity, gzip");
    }
  });
});

describe("adaptEncoding()", () => {
  it("passes compressed messages through when the receiver accepts their encoding", async () => {
    const gz = await compressionGzip.compress(text.encode("hello"));
    const input = { flags: compressedFlag, data: gz };
    const out = adaptEncoding(from(input), "gzip", ["gzip"], registry, 1024);
    expect(out.encoding).toBe("gzip");
    expect(await collect(out.messages)).toEqual([input]);
  });

  it("decompresses for a receiver that does not accept the encoding", async () => {
    const gz = await compressionGzip.compress(text.encode("hello"));
    const out = adaptEncoding(
      from({ flags: compressedFlag, data: gz }, { flags: 0, data: text.encode("plain") }),
      "gzip",
      ["identity"],
      registry,
      1024,
    );
    expect(out.encoding).toBe("identity");
    const messages = await collect(out.messages);
    expect(messages.map((m) => [m.flags, new TextDecoder().decode(m.data)])).toEqual([
      [0, "hello"],
      [0, "plain"],
    ]);
  });

  it("enforces the size limit after decompression (a small bomb stays small)", async () => {
    const gz = await compressionGzip.compress(new Uint8Array(100_000));
    const out = adaptEncoding(from({ flags: compressedFlag, data: gz }), "gzip", [], registry, 1_000);
    await expect(collect(out.messages)).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });

  it("rejects a compressed flag without an encoding", async () => {
    const out = adaptEncoding(from({ flags: compressedFlag, data: text.encode("x") }), "identity", [], registry, 1024);
    await expect(collect(out.messages)).rejects.toMatchObject({ code: Code.Internal });
  });
});
