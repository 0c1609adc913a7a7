import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createWritableIterable, encodeEnvelope } from "@connectrpc/connect/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import {
  ProbeRequestSchema,
  ProbeResponseSchema,
  ProbeService,
} from "../../src/gen/probe/v1/probe_pb.ts";
import {
  allTransports,
  createTransport,
  fullDuplexTransports,
  type Harness,
  startHarness,
} from "../support/harness.ts";

type ProbeInit = MessageInitShape<typeof ProbeRequestSchema>;

/** Rejects with a clear message instead of letting a deadlock run into the test timeout. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Decodes base64 that may be several separately padded segments, one 4-character group at a time. */
function decodeBase64Segments(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  expect(clean.length % 4, "grpc-web-text body length is a multiple of 4").toBe(0);
  const parts: Buffer[] = [];
  for (let i = 0; i < clean.length; i += 4) {
    parts.push(Buffer.from(clean.slice(i, i + 4), "base64"));
  }
  return new Uint8Array(Buffer.concat(parts));
}

interface Frame {
  readonly flags: number;
  readonly data: Uint8Array;
}

function parseEnvelopes(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset < bytes.byteLength) {
    expect(bytes.byteLength - offset, "room for an envelope header").toBeGreaterThanOrEqual(5);
    const flags = view.getUint8(offset);
    const length = view.getUint32(offset + 1);
    expect(offset + 5 + length, "envelope fits in the body").toBeLessThanOrEqual(bytes.byteLength);
    frames.push({ flags, data: bytes.subarray(offset + 5, offset + 5 + length) });
    offset += 5 + length;
  }
  return frames;
}

function parseTrailer(frame: Frame): Record<string, string> {
  const trailer: Record<string, string> = {};
  for (const line of new TextDecoder().decode(frame.data).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      trailer[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  return trailer;
}

describe("RPC shapes through every protocol", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  async function grpcWebText(method: string, body: string): Promise<{ res: Response; frames: Frame[] }> {
    const res = await fetch(`${harness.baseUrl}/probe.v1.ProbeService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web-text+proto", "x-grpc-web": "1" },
      body,
    });
    const text = await res.text();
    return { res, frames: parseEnvelopes(decodeBase64Segments(text)) };
  }

  function enveloped(req: ProbeInit): Uint8Array {
    return encodeEnvelope(0, toBinary(ProbeRequestSchema, create(ProbeRequestSchema, req)));
  }

  describe.each(allTransports)("over %s", (name) => {
    it("unary", async () => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const res = await client.probe({ tag: `unary-${name}`, payload: new Uint8Array([1, 2, 3]) });
      expect(res.payload).toEqual(new Uint8Array([1, 2, 3]));
      expect(res.pod).toMatch(/^pod-[abc]$/);
      expect(harness.probes.get(`unary-${name}`)?.pod).toBe(res.pod);
    });

    it("server streaming: ProbeStream with count 5 arrives in order from one pod", async () => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const responses = [];
      for await (const res of client.probeStream({ count: 5, tag: `stream-${name}` })) {
        responses.push(res);
      }
      expect(responses.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
      expect(new Set(responses.map((r) => r.pod)).size).toBe(1);
      expect(responses[0]?.pod).toBe(harness.probes.get(`stream-${name}`)?.pod);
    });

    it("server streaming: GreetService.GreetStream", async () => {
      const client = createClient(GreetService, createTransport(name, harness.baseUrl));
      const greetings = [];
      for await (const res of client.greetStream({ name: "shapes", count: 4 })) {
        greetings.push(res);
      }
      expect(greetings.map((g) => g.greeting)).toEqual([1, 2, 3, 4].map((i) => `Hello, shapes! (${i}/4)`));
      expect(new Set(greetings.map((g) => g.pod)).size).toBe(1);
    });
  });

  describe.each(fullDuplexTransports)("over %s", (name) => {
    it("client streaming: 10 requests are counted by the pod", async () => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      async function* requests() {
        for (let i = 0; i < 10; i++) {
          yield create(ProbeRequestSchema, { tag: `client-stream-${name}` });
        }
      }
      const res = await client.probeClientStream(requests());
      expect(res.count).toBe(10);
      expect(harness.probes.get(`client-stream-${name}`)?.received).toBe(10);
    });

    it("bidi is full duplex: each response arrives before the next request is sent", async () => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const input = createWritableIterable<ProbeInit>();
      const events: string[] = [];
      const output = client.probeBidi(input)[Symbol.asyncIterator]();
      for (let i = 0; i < 5; i++) {
        events.push(`send ${i}`);
        void input.write({ tag: `bidi-${name}`, payload: new Uint8Array([i]) });
        const next = await within(output.next(), 5_000, `response ${i} before request ${i + 1}`);
        expect(next.done).toBe(false);
        if (next.done !== true) {
          expect(next.value.index).toBe(i);
          expect(next.value.payload).toEqual(new Uint8Array([i]));
          events.push(`recv ${next.value.index}`);
        }
      }
      input.close();
      expect((await within(output.next(), 5_000, "end of bidi stream")).done).toBe(true);
      expect(events).toEqual([0, 1, 2, 3, 4].flatMap((i) => [`send ${i}`, `recv ${i}`]));
      expect(harness.probes.get(`bidi-${name}`)).toMatchObject({ received: 5, sent: 5, finished: true });
    });
  });

  describe("gRPC-Web text mode (hand-rolled)", () => {
    it("unary: a message frame and a trailer frame with grpc-status 0", async () => {
      const body = Buffer.from(enveloped({ tag: "text-unary", payload: new Uint8Array([7, 8, 9]) })).toString("base64");
      const { res, frames } = await grpcWebText("Probe", body);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/grpc-web-text+proto");
      expect(frames.map((f) => f.flags)).toEqual([0, 0x80]);
      const message = fromBinary(ProbeResponseSchema, (frames[0] as Frame).data);
      expect(message.payload).toEqual(new Uint8Array([7, 8, 9]));
      expect(message.pod).toBe(harness.probes.get("text-unary")?.pod);
      expect(parseTrailer(frames[1] as Frame)["grpc-status"]).toBe("0");
    });

    it("server streaming: 3 message frames then the trailer", async () => {
      const body = Buffer.from(enveloped({ tag: "text-stream", count: 3 })).toString("base64");
      const { res, frames } = await grpcWebText("ProbeStream", body);
      expect(res.status).toBe(200);
      expect(frames.map((f) => f.flags)).toEqual([0, 0, 0, 0x80]);
      expect(frames.slice(0, 3).map((f) => fromBinary(ProbeResponseSchema, f.data).index)).toEqual([0, 1, 2]);
      expect(parseTrailer(frames[3] as Frame)["grpc-status"]).toBe("0");
    });

    it("a request body of two separately padded base64 segments still works", async () => {
      const bytes = enveloped({ tag: "text-split", payload: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) });
      // Split so that neither half is a multiple of 3 bytes: both segments carry padding.
      let cut = Math.floor(bytes.byteLength / 2);
      while (cut % 3 === 0 || (bytes.byteLength - cut) % 3 === 0) {
        cut++;
      }
      const first = Buffer.from(bytes.subarray(0, cut)).toString("base64");
      const second = Buffer.from(bytes.subarray(cut)).toString("base64");
      expect(first.endsWith("=")).toBe(true);
      expect(second.endsWith("=")).toBe(true);
      const { res, frames } = await grpcWebText("Probe", first + second);
      expect(res.status).toBe(200);
      expect(frames.map((f) => f.flags)).toEqual([0, 0x80]);
      expect(parseTrailer(frames[1] as Frame)["grpc-status"]).toBe("0");
      expect(fromBinary(ProbeResponseSchema, (frames[0] as Frame).data).payload).toEqual(
        new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
      );
    });
  });

  describe("large messages", () => {
    const oneMiB = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) % 251);

    it.each(["grpc", "connect-h1"] as const)("a 1 MiB payload echoes intact over %s", async (name) => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const res = await client.probe({ tag: `large-${name}`, payload: oneMiB });
      expect(res.payload.byteLength).toBe(oneMiB.byteLength);
      expect(Buffer.from(res.payload).equals(Buffer.from(oneMiB))).toBe(true);
    });

    it.each(allTransports)("a server stream of 20 x 256 KiB over %s", async (name) => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const sizes: number[] = [];
      const indexes: number[] = [];
      for await (const res of client.probeStream({ count: 20, payloadSize: 256 * 1024 })) {
        sizes.push(res.payload.byteLength);
        indexes.push(res.index);
        expect(res.payload.every((b) => b === 0x61)).toBe(true);
      }
      expect(sizes).toEqual(new Array(20).fill(256 * 1024));
      expect(indexes).toEqual([...Array(20).keys()]);
    });
  });
});
