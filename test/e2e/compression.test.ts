import { randomBytes } from "node:crypto";
import * as http from "node:http";
import * as http2 from "node:http2";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeRequestSchema, ProbeResponseSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { denoGaps, unlessOnDeno } from "../support/deno-gaps.ts";
import { allTransports, createTransport, type Harness, startHarness } from "../support/harness.ts";

const probePath = "/probe.v1.ProbeService/Probe";
const probeStreamPath = "/probe.v1.ProbeService/ProbeStream";

function probeBytes(init: MessageInitShape<typeof ProbeRequestSchema>): Buffer {
  return Buffer.from(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, init)));
}

function envelope(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + data.byteLength);
  out[0] = flags;
  out.writeUInt32BE(data.byteLength, 1);
  out.set(data, 5);
  return out;
}

function splitEnvelopes(data: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  for (let at = 0; at < data.length; ) {
    const length = data.readUInt32BE(at + 1);
    out.push({ flags: data[at] ?? -1, data: data.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/** A raw Connect unary request over HTTP/1.1 (node:http: no automatic accept-encoding or decompression). */
function rawH1(baseUrl: string, path: string, header: Record<string, string>, body: Buffer) {
  return new Promise<{ status: number; header: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request(`${baseUrl}${path}`, { method: "POST", agent: false, headers: header, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, header: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 5s")));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * A raw gRPC call over its own h2c session (headers, envelopes as sent on the wire, trailers),
 * the session closed (GOAWAY) once the call is over. On Deno the
 * gateway aborts in about half the runs as its session takes that GOAWAY (nghttp2-goaway-abort):
 * the tests built on it are skipped there.
 */
async function rawGrpc(baseUrl: string, path: string, header: Record<string, string>, body: Buffer) {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  try {
    return await new Promise<{
      header: http2.IncomingHttpHeaders;
      messages: { flags: number; data: Buffer }[];
      status: string | undefined;
      message: string | undefined;
    }>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...header });
      const timer = setTimeout(() => reject(new Error("no answer within 5s")), 5_000);
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on("response", (h) => (head = h));
      req.on("trailers", (t) => (trailers = t));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("close", () => {
        clearTimeout(timer);
        const message = trailers["grpc-message"] ?? head["grpc-message"];
        resolve({
          header: head,
          messages: splitEnvelopes(Buffer.concat(chunks)),
          status: (trailers["grpc-status"] ?? head["grpc-status"]) as string | undefined,
          message: message === undefined ? undefined : decodeURIComponent(String(message)),
        });
      });
      req.end(body);
    });
  } finally {
    session.destroy();
  }
}

const connectHeaders = { "content-type": "application/proto", "connect-protocol-version": "1" };

describe("compression", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness?.close());

  it.each(allTransports)("gzip both ways: a 64 KiB unary and a 3 × 64 KiB server stream arrive intact (%s)", async (name) => {
    const client = createClient(ProbeService, createTransport(name, harness.baseUrl, { gzip: true }));
    // Random hex digits: every byte matters, and gzip still has something to do.
    const payload = new Uint8Array(Buffer.from(randomBytes(32 * 1024).toString("hex")));
    for (let i = 0; i < 4; i++) {
      const res = await client.probe({ payload });
      expect(Buffer.from(res.payload).equals(Buffer.from(payload))).toBe(true);
    }
    const received: Uint8Array[] = [];
    for await (const res of client.probeStream({ payload, count: 3 })) {
      received.push(res.payload);
    }
    expect(received).toHaveLength(3);
    for (const p of received) {
      expect(Buffer.from(p).equals(Buffer.from(payload))).toBe(true);
    }
  });

  it("Connect unary: a gzip request with accept-encoding gzip gets a gzip response", async () => {
    const body = gzipSync(probeBytes({ payloadSize: 50_000 }));
    const res = await rawH1(harness.baseUrl, probePath, { ...connectHeaders, "content-encoding": "gzip", "accept-encoding": "gzip" }, body);
    expect(res.status).toBe(200);
    expect(res.header["content-encoding"]).toBe("gzip");
    expect(res.body.byteLength).toBeLessThan(50_000);
    const decoded = fromBinary(ProbeResponseSchema, gunzipSync(res.body));
    expect(new Uint8Array(decoded.payload)).toEqual(new Uint8Array(50_000).fill(0x61));
  });

  it("Connect unary: a gzip request without accept-encoding gets an identity response", async () => {
    const body = gzipSync(probeBytes({ payloadSize: 50_000 }));
    const res = await rawH1(harness.baseUrl, probePath, { ...connectHeaders, "content-encoding": "gzip" }, body);
    expect(res.status).toBe(200);
    expect(res.header["content-encoding"] ?? "identity").toBe("identity");
    const decoded = fromBinary(ProbeResponseSchema, res.body);
    expect(new Uint8Array(decoded.payload)).toEqual(new Uint8Array(50_000).fill(0x61));
  });

  unlessOnDeno(denoGaps.goawayAbort)("gRPC: a client that sends gzip but accepts only identity gets uncompressed messages", async () => {
    const body = envelope(1, gzipSync(probeBytes({ payloadSize: 50_000, count: 2 })));
    const res = await rawGrpc(harness.baseUrl, probeStreamPath, { "grpc-encoding": "gzip", "grpc-accept-encoding": "identity" }, body);
    expect(res.status).toBe("0");
    expect(res.header["grpc-encoding"] ?? "identity").toBe("identity");
    expect(res.messages.map((m) => m.flags)).toEqual([0, 0]);
    for (const m of res.messages) {
      expect(fromBinary(ProbeResponseSchema, m.data).payload.byteLength).toBe(50_000);
    }
  });

  unlessOnDeno(denoGaps.goawayAbort)("gRPC: a client that accepts gzip gets gzip messages", async () => {
    const body = envelope(0, probeBytes({ payloadSize: 50_000, count: 2 }));
    const res = await rawGrpc(harness.baseUrl, probeStreamPath, { "grpc-accept-encoding": "gzip" }, body);
    expect(res.status).toBe("0");
    expect(res.header["grpc-encoding"]).toBe("gzip");
    expect(res.messages.map((m) => m.flags)).toEqual([1, 1]);
    for (const m of res.messages) {
      expect(fromBinary(ProbeResponseSchema, gunzipSync(m.data)).payload.byteLength).toBe(50_000);
    }
  });

  unlessOnDeno(denoGaps.goawayAbort)("gRPC: an unsupported request encoding is Unimplemented, naming the supported ones", async () => {
    const res = await rawGrpc(harness.baseUrl, probePath, { "grpc-encoding": "snappy" }, envelope(1, Buffer.from("whatever")));
    expect(res.status).toBe(String(Code.Unimplemented));
    expect(res.message).toContain("snappy");
    expect(res.message).toContain("gzip");
    expect(res.message).toContain("identity");
  });

  it("Connect unary: an unsupported content-encoding is unimplemented (HTTP 501), naming the supported ones", async () => {
    const res = await rawH1(harness.baseUrl, probePath, { ...connectHeaders, "content-encoding": "snappy" }, Buffer.from("whatever"));
    expect(res.status).toBe(501);
    const error = JSON.parse(res.body.toString()) as { code: string; message: string };
    expect(error.code).toBe("unimplemented");
    expect(error.message).toContain("gzip");
  });
});

describe("corrupt compressed messages", () => {
  // A fresh gateway: the first corrupt message reaches it before it has
  // learned anything about the pods' encodings; later ones after good calls.
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness?.close());

  const garbage = Buffer.from("this is definitely not a gzip member, just bytes");

  /** Three good gzip calls in a row: round robin must still spread them over all three pods. */
  async function goodCalls(send: (payload: Uint8Array) => Promise<{ pod: string; payload: Uint8Array }>) {
    const pods: string[] = [];
    for (let i = 0; i < 3; i++) {
      const payload = new Uint8Array([i, 1, 2, 3]);
      const res = await send(payload);
      expect(new Uint8Array(res.payload)).toEqual(payload);
      pods.push(res.pod);
    }
    // A client's corrupt message says nothing about the pod's health.
    expect(pods.toSorted()).toEqual(["pod-a", "pod-b", "pod-c"]);
  }

  unlessOnDeno(denoGaps.goawayAbort)("gRPC: a corrupt gzip message is an error status, and the next calls are served by every pod", async () => {
    for (let round = 0; round < 2; round++) {
      const bad = await rawGrpc(harness.baseUrl, probePath, { "grpc-encoding": "gzip" }, envelope(1, garbage));
      // statuscodes.md: "Could not decompress, but compression algorithm supported": INTERNAL
      // (connect-node servers say InvalidArgument for corrupt data; either is a fair answer).
      expect([String(Code.Internal), String(Code.InvalidArgument)], `round ${round}: ${bad.status} ${bad.message}`).toContain(bad.status);
      expect.soft(bad.message).not.toMatch(/unavailable|connection/i);
      await goodCalls(async (payload) => {
        const good = await rawGrpc(harness.baseUrl, probePath, { "grpc-encoding": "gzip" }, envelope(1, gzipSync(probeBytes({ payload }))));
        expect(good.status, `round ${round}: ${good.message}`).toBe("0");
        return fromBinary(ProbeResponseSchema, good.messages[0]?.data ?? Buffer.alloc(0));
      });
    }
  });

  it("Connect unary: a corrupt gzip body is a JSON error, and the next calls are served by every pod", async () => {
    for (let round = 0; round < 2; round++) {
      const bad = await rawH1(harness.baseUrl, probePath, { ...connectHeaders, "content-encoding": "gzip" }, garbage);
      expect(bad.header["content-type"]).toBe("application/json");
      const error = JSON.parse(bad.body.toString()) as { code: string; message: string };
      expect([500, 400], `round ${round}: ${bad.status} ${bad.body}`).toContain(bad.status);
      expect(["internal", "invalid_argument"]).toContain(error.code);
      expect.soft(error.message).not.toMatch(/unavailable|connection/i);
      await goodCalls(async (payload) => {
        const good = await rawH1(harness.baseUrl, probePath, { ...connectHeaders, "content-encoding": "gzip" }, gzipSync(probeBytes({ payload })));
        expect(good.status).toBe(200);
        return fromBinary(ProbeResponseSchema, good.body);
      });
    }
  });
});
