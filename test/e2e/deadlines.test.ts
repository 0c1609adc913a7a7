import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ProbeRequestSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { allTransports, createTransport, type Harness, startHarness } from "../support/harness.ts";
import { callError } from "../support/call-error.ts";

/** A `grpc-timeout` value (`1500m`, `2S`, ...) in milliseconds. */
function parseGrpcTimeout(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) {
    throw new Error(`malformed grpc-timeout "${value}"`);
  }
  const unitMs = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 }[match[2] as "H"];
  return Number(match[1]) * unitMs;
}


/** The serialized ProbeRequest. */
function probeBytes(init: MessageInitShape<typeof ProbeRequestSchema>): Uint8Array {
  return toBinary(ProbeRequestSchema, create(ProbeRequestSchema, init));
}

/**
 * A raw gRPC unary call over its own h2c session, with no client-side
 * deadline: whatever status comes back was decided by the gateway.
 */
async function rawGrpcUnary(baseUrl: string, path: string, header: Record<string, string>, message: Uint8Array) {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  const envelope = Buffer.alloc(5 + message.byteLength);
  envelope.writeUInt32BE(message.byteLength, 1);
  envelope.set(message, 5);
  try {
    return await new Promise<{ status: string | undefined; message: string | undefined }>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...header });
      const timer = setTimeout(() => reject(new Error("no answer from the gateway within 5s")), 5_000);
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => (head = h));
      req.on("trailers", (t) => (trailers = t));
      req.on("error", reject);
      req.resume();
      req.on("close", () => {
        clearTimeout(timer);
        const status = trailers["grpc-status"] ?? head["grpc-status"];
        const msg = trailers["grpc-message"] ?? head["grpc-message"];
        resolve({ status: status as string | undefined, message: msg === undefined ? undefined : decodeURIComponent(String(msg)) });
      });
      req.end(envelope);
    });
  } finally {
    session.destroy();
  }
}

/** A raw Connect unary call over HTTP/1.1 (fetch), with no client-side deadline. */
async function rawConnectUnary(baseUrl: string, path: string, header: Record<string, string>, message: Uint8Array) {
  const res = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/proto", "connect-protocol-version": "1", ...header },
    body: new Uint8Array(message),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, contentType: res.headers.get("content-type"), body: await res.text() };
}

describe("deadlines", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness?.close());

  it.each(allTransports)("the client's timeout reaches the pod as the remaining time (%s)", async (name) => {
    const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
    await client.probe({ tag: `timeout-${name}` }, { timeoutMs: 5_000 });
    const value = harness.probes.get(`timeout-${name}`)?.headers.get("grpc-timeout");
    expect(value).toBeTypeOf("string");
    const ms = parseGrpcTimeout(value ?? "");
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(5_000);

    await client.probe({ tag: `no-timeout-${name}` });
    expect(harness.probes.get(`no-timeout-${name}`)?.headers.has("grpc-timeout")).toBe(false);
  });

  it.each(allTransports)("a pod slower than the deadline: DeadlineExceeded, and the pod's call is cancelled (%s)", async (name) => {
    const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
    const tag = `slow-${name}`;
    const error = await callError(client.probe({ tag, sleepMs: 2_000 }, { timeoutMs: 200 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    await vi.waitFor(() => expect(harness.probes.get(tag)?.cancelled).toBe(true), { timeout: 3_000, interval: 25 });
    expect(harness.probes.get(tag)?.finished).toBe(false);
  });

  it("Connect unary with connect-timeout-ms past due: HTTP 504 with code deadline_exceeded", async () => {
    const res = await rawConnectUnary(
      harness.baseUrl,
      "/probe.v1.ProbeService/Probe",
      { "connect-timeout-ms": "100" },
      probeBytes({ sleepMs: 2_000, tag: "connect-raw-timeout" }),
    );
    expect(res.status).toBe(504);
    expect(res.contentType).toBe("application/json");
    expect(JSON.parse(res.body)).toMatchObject({ code: "deadline_exceeded" });
    await vi.waitFor(() => expect(harness.probes.get("connect-raw-timeout")?.cancelled).toBe(true), { timeout: 3_000 });
  });

  it.concurrent.for(allTransports)("a long stream without a timeout is not cut (%s)", async (name, { expect }) => {
    const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
    const indexes: number[] = [];
    for await (const res of client.probeStream({ count: 5, intervalMs: 300 })) {
      indexes.push(res.index);
    }
    expect(indexes).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("deadlines enforced by the gateway when the pod ignores them", () => {
  /** Streams the black hole accepted; `closed` once the gateway reset or closed them. */
  const streams: { headers: http2.IncomingHttpHeaders; closed: boolean }[] = [];
  let blackHole: http2.Http2Server;
  const sessions = new Set<http2.ServerHttp2Session>();
  let harness: Harness;
  beforeAll(async () => {
    // An h2c server that accepts every stream and never answers: no headers, no data, no trailers.
    blackHole = http2.createServer();
    blackHole.on("session", (session) => {
      sessions.add(session);
      session.on("error", () => {});
    });
    blackHole.on("stream", (stream, headers) => {
      const record = { headers, closed: false };
      streams.push(record);
      stream.on("error", () => {});
      stream.on("close", () => (record.closed = true));
      stream.resume();
    });
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    const { port } = blackHole.address() as AddressInfo;
    harness = await startHarness({ pods: 0, extraEndpoints: [`127.0.0.1:${port}`] });
  });
  afterAll(async () => {
    await harness?.close();
    for (const session of sessions) {
      session.destroy();
    }
    await new Promise<void>((resolve) => blackHole.close(() => resolve()));
  });

  it("gRPC: DeadlineExceeded from the gateway, and the upstream stream is reset", async () => {
    const before = streams.length;
    const res = await rawGrpcUnary(harness.baseUrl, "/probe.v1.ProbeService/Probe", { "grpc-timeout": "300m" }, probeBytes({}));
    expect(res.status).toBe(String(Code.DeadlineExceeded));
    expect(streams.length).toBe(before + 1);
    const upstream = streams[before];
    expect(parseGrpcTimeout(String(upstream?.headers["grpc-timeout"]))).toBeLessThanOrEqual(300);
    await vi.waitFor(() => expect(upstream?.closed).toBe(true), { timeout: 3_000, interval: 25 });
  });

  it("Connect over HTTP/1.1: 504 deadline_exceeded from the gateway, and the upstream stream is reset", async () => {
    const before = streams.length;
    const res = await rawConnectUnary(harness.baseUrl, "/probe.v1.ProbeService/Probe", { "connect-timeout-ms": "300" }, probeBytes({}));
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body)).toMatchObject({ code: "deadline_exceeded" });
    expect(streams.length).toBe(before + 1);
    await vi.waitFor(() => expect(streams[before]?.closed).toBe(true), { timeout: 3_000, interval: 25 });
  });

  it.each(["grpc", "connect-h1"] as const)("a connect-es client with timeoutMs 300 gets DeadlineExceeded (%s)", async (name) => {
    const before = streams.length;
    const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
    const error = await callError(client.probe({}, { timeoutMs: 300 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    await vi.waitFor(() => {
      expect(streams.length).toBe(before + 1);
      expect(streams[before]?.closed).toBe(true);
    }, { timeout: 3_000, interval: 25 });
  });
});
