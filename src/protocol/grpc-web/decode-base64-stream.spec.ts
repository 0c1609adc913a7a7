import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { decodeBase64Stream } from "./decode-base64-stream.ts";

const latin1 = new TextEncoder();

async function decode(...chunks: string[]): Promise<number[]> {
  async function* source(): AsyncIterable<Uint8Array> {
    for (const chunk of chunks) {
      yield latin1.encode(chunk);
    }
  }
  const out: number[] = [];
  for await (const bytes of decodeBase64Stream(source())) {
    out.push(...bytes);
  }
  return out;
}

describe("decodeBase64Stream()", () => {
  it("decodes groups split across chunks at any position", async () => {
    const encoded = btoa("\x00\x01\x02\x03\x04\x05\x06");
    for (let cut = 0; cut <= encoded.length; cut++) {
      expect(await decode(encoded.slice(0, cut), encoded.slice(cut))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    }
  });

  it("accepts padding between separately encoded segments", async () => {
    expect(await decode(btoa("\x01"), btoa("\x02\x03"), btoa("\x04"))).toEqual([1, 2, 3, 4]);
    expect(await decode(`${btoa("\x01")}${btoa("\x02")}`)).toEqual([1, 2]);
  });

  it("ignores whitespace and line breaks", async () => {
    expect(await decode("AA\r\nEC\n", " Aw==")).toEqual([0, 1, 2, 3]);
  });

  it.each([
    ["a character outside the alphabet", ["AA*C"]],
    ["a truncated group at the end", ["AAE"]],
    ["padding in the middle of a group", ["A=AA"]],
    ["a single padding character before data", ["AA=A"]],
  ])("rejects %s with InvalidArgument", async (_, chunks) => {
    await expect(decode(...chunks)).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
