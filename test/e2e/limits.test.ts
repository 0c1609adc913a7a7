import { denoGaps, unlessOnDeno } from "../support/deno-gaps.ts";
import { mkdtemp } from "node:fs/promises";
import * as http2 from "node:http2";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ProbeRequestSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import * as grpc from "@grpc/grpc-js";
import { callError } from "../support/call-error.ts";
import { createGrpcJsClient, grpcJsUnary } from "../support/grpc-js-client.ts";
import { createTransport, type Harness, startHarness, type TransportName } from "../support/harness.ts";
import {
  connectRaw,
  ErrorCode,
  Flags,
  FrameType,
  frame,
  grpcEnvelope,
  headerBlock,
  PREFACE,
} from "../support/raw-h2.ts";
import { createTestPki, type TestPki } from "../support/test-pki.ts";

const NAME = "gateway.example.test";
const HEADERS_TIMEOUT_MS = 500;
const IDLE_TIMEOUT_MS = 800;
const MAX_HEADER_LIST_BYTES = 4_096;
const MAX_MESSAGE_BYTES = 64 * 1024;

/** Connects to a TLS listener (trusting the test CA) and resolves once the handshake is done. */
function connectTls(port: number, ca: string, alpn: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca, servername: NAME, ALPNProtocols: [alpn] }, () =>
      resolve(socket),
    );
    socket.once("error", reject);
  });
}

/** Everything a socket receives until it closes, and when it closed (ms after `since`). */
function untilClosed(socket: net.Socket, since = Date.now()): Promise<{ text: string; afterMs: number }> {
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("error", () => {});
  return new Promise((resolve) => socket.once("close", () => resolve({ text, afterMs: Date.now() - since })));
}

/** Opens a plain TCP connection. */
async function tcp(port: number): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

describe("connection limits", () => {
  let pki: TestPki;
  let ca: string;
  let harness: Harness;
  let port: number;
  let tlsPort: number;

  beforeAll(async () => {
    pki = await createTestPki();
    ca = pki.ca.certPem;
    const dir = await mkdtemp(join(tmpdir(), "edgegate-limits-"));
    const files = await pki.writeFiles(dir, "local", await pki.issue([NAME, "127.0.0.1"]));
    harness = await startHarness({
      config: {
        listeners: [{ address: "127.0.0.1:0" }, { address: "127.0.0.1:0", tls: { certificates: [files] } }],
        limits: {
          maxHeaderListBytes: MAX_HEADER_LIST_BYTES,
          headersTimeout: `${HEADERS_TIMEOUT_MS}ms`,
          idleTimeout: `${IDLE_TIMEOUT_MS}ms`,
          maxMessageBytes: MAX_MESSAGE_BYTES,
        },
      },
    });
    port = harness.gateway.listeners[0]?.port ?? 0;
    tlsPort = harness.gateway.listeners[1]?.port ?? 0;
  });
  afterAll(() => harness?.close());

  describe("oversize request headers", () => {
    const big = "a".repeat(MAX_HEADER_LIST_BYTES + 1_000);

    it("HTTP/1.1, cleartext and TLS: 431, and the listener keeps serving", async () => {
      const request = `POST /probe.v1.ProbeService/Probe HTTP/1.1\r\nHost: localhost\r\nX-Big: ${big}\r\n\r\n`;
      const plain = await tcp(port);
      const answer = untilClosed(plain);
      plain.write(request);
      expect((await answer).text).toMatch(/^HTTP\/1\.1 431 /);

      const secure = await connectTls(tlsPort, ca, "http/1.1");
      const secureAnswer = untilClosed(secure);
      secure.write(request);
      expect((await secureAnswer).text).toMatch(/^HTTP\/1\.1 431 /);

      const client = createClient(ProbeService, createTransport("connect-h1", harness.baseUrl));
      expect((await client.probe({})).pod).toMatch(/^pod-/);
    });

    it("HTTP/2, cleartext and TLS: the stream is reset (ENHANCE_YOUR_CALM), the session lives on", async () => {
      for (const authority of [`http://127.0.0.1:${port}`, `https://127.0.0.1:${tlsPort}`]) {
        const session = http2.connect(authority, { ca, servername: NAME });
        session.on("error", () => {});
        try {
          const status = (headers: http2.OutgoingHttpHeaders) =>
            new Promise<{ status: unknown; rstCode: number | undefined }>((resolve) => {
              const req = session.request({ ":method": "POST", ":path": "/probe.v1.ProbeService/Probe", ...headers });
              let status: unknown;
              req.on("response", (h) => (status = h[":status"]));
              req.on("error", () => {});
              req.on("close", () => resolve({ status, rstCode: req.rstCode }));
              req.resume();
              req.end();
            });
          expect(await status({ "x-big": big })).toEqual({ status: undefined, rstCode: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM });
          // Not an RPC content type: the gateway answers 415, which shows the session still serves.
          expect(await status({ "x-small": "a" })).toMatchObject({ status: 415 });
          expect(session.destroyed).toBe(false);
        } finally {
          session.destroy();
        }
      }
    });

    it("gRPC clients sending oversize metadata: grpc-js says RESOURCE_EXHAUSTED, connect-es names ENHANCE_YOUR_CALM", async () => {
      // Twice each: the first call goes out before the client has acknowledged the SETTINGS (the gateway resets it),
      // the second after (nghttp2 does); either way the same reset.
      const grpcJs = createGrpcJsClient(ProbeService, `127.0.0.1:${port}`);
      try {
        for (let i = 0; i < 2; i++) {
          const metadata = new grpc.Metadata();
          metadata.set("x-big", big);
          const { error } = await grpcJsUnary(grpcJs, ProbeService.method.probe, {}, metadata);
          expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
        }
        expect((await grpcJsUnary(grpcJs, ProbeService.method.probe, {})).response?.pod).toMatch(/^pod-/);
      } finally {
        grpcJs.close();
      }
      const client = createClient(ProbeService, createGrpcTransport({ baseUrl: harness.baseUrl }));
      for (let i = 0; i < 2; i++) {
        const error = await callError(client.probe({}, { headers: { "x-big": big } }));
        expect(error.message).toContain("ENHANCE_YOUR_CALM");
      }
      expect((await client.probe({})).pod).toMatch(/^pod-/);
    });
  });

  describe("concurrent streams per HTTP/2 connection (default 100)", () => {
    it("the 101st stream opened at once is refused (REFUSED_STREAM) while the 100 others run to the end", async () => {
      const raw = await connectRaw(port);
      try {
        const requests: Buffer[] = [PREFACE, frame(FrameType.SETTINGS, 0, 0)];
        const head = (path: string) =>
          headerBlock({
            ":method": "POST",
            ":scheme": "http",
            ":path": path,
            ":authority": `127.0.0.1:${port}`,
            "content-type": "application/grpc",
            te: "trailers",
          });
        for (let i = 0; i < 101; i++) {
          const streamId = 1 + 2 * i;
          const message = toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { tag: `burst-${i}`, sleepMs: 800 }));
          requests.push(frame(FrameType.HEADERS, Flags.END_HEADERS, streamId, head("/probe.v1.ProbeService/Probe")));
          requests.push(frame(FrameType.DATA, Flags.END_STREAM, streamId, grpcEnvelope(message)));
        }
        // All in one go, as a client does before it has read the server's SETTINGS (and so before it could acknowledge them).
        raw.write(Buffer.concat(requests));
        const reset = await raw.waitFor((f) => f.type === FrameType.RST_STREAM);
        expect(reset.streamId).toBe(201);
        expect(reset.payload.readUInt32BE(0)).toBe(ErrorCode.REFUSED_STREAM);
        raw.write(frame(FrameType.SETTINGS, Flags.ACK, 0));
        // Every other stream ends normally: trailers (HEADERS with END_STREAM), no reset, no GOAWAY.
        for (let i = 0; i < 100; i++) {
          await raw.waitFor((f) => f.streamId === 1 + 2 * i && f.type === FrameType.HEADERS && (f.flags & Flags.END_STREAM) !== 0);
        }
        expect(raw.frames.filter((f) => f.type === FrameType.RST_STREAM)).toHaveLength(1);
        expect(raw.frames.filter((f) => f.type === FrameType.GOAWAY)).toEqual([]);
        for (let i = 0; i < 100; i++) {
          expect(harness.probes.get(`burst-${i}`)?.finished).toBe(true);
        }
        expect(harness.probes.has("burst-100")).toBe(false);
      } finally {
        raw.destroy();
      }
    });

    it("a gRPC client keeps to the limit: the 101st call waits for a free stream, then succeeds", async () => {
      const client = createClient(ProbeService, createGrpcTransport({ baseUrl: harness.baseUrl }));
      const started = Date.now();
      const durations = await Promise.all(
        Array.from({ length: 101 }, async () => {
          await client.probe({ sleepMs: 800 });
          return Date.now() - started;
        }),
      );
      durations.sort((a, b) => a - b);
      // The last call could start only once an earlier one had ended: it ends a whole call's time after the first.
      expect((durations[100] ?? 0) - (durations[0] ?? 0)).toBeGreaterThanOrEqual(750);
      expect(durations[100]).toBeGreaterThanOrEqual(1_600);
    });
  });

  // Each test has its own connection and waits on its own clock: they run side by side.
  describe.concurrent("headers timeout", () => {
    it("HTTP/1.1 slowloris (headers byte by byte, slower than the timeout): 408 and closed", async ({ expect }) => {
      const socket = await tcp(port);
      const since = Date.now();
      const answer = untilClosed(socket, since);
      const text = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1234567890\r\n\r\n";
      let i = 0;
      const drip = setInterval(() => {
        if (i < text.length && !socket.destroyed) socket.write(text[i++] ?? "");
      }, 60);
      try {
        const { text: got, afterMs } = await answer;
        expect(got).toMatch(/^HTTP\/1\.1 408 /);
        expect(i).toBeLessThan(text.length);
        expect(afterMs).toBeLessThan(HEADERS_TIMEOUT_MS * 2 + 1_000);
      } finally {
        clearInterval(drip);
      }
    });

    unlessOnDeno(denoGaps.http1Limits)("HTTP/1.1 over TLS, headers never finished: 408 and closed", async ({ expect }) => {
      const socket = await connectTls(tlsPort, ca, "http/1.1");
      const answer = untilClosed(socket);
      socket.write("GET / HTTP/1.1\r\nHost: local");
      const { text, afterMs } = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      expect(afterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
    });

    it("a connection that sends nothing at all is closed (cleartext, and TLS before its handshake)", async ({ expect }) => {
      for (const p of [port, tlsPort]) {
        const { text, afterMs } = await untilClosed(await tcp(p));
        expect(text).toBe("");
        expect(afterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
        expect(afterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
      }
    });

    it("h2c: a client that sends the preface and SETTINGS but no HEADERS gets GOAWAY and is closed", async ({ expect }) => {
      const raw = await connectRaw(port);
      raw.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0)]));
      const closedAfter = await raw.closed;
      expect(raw.frames.some((f) => f.type === FrameType.GOAWAY)).toBe(true);
      expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(closedAfter).toBeLessThan(HEADERS_TIMEOUT_MS * 2 + 1_000);
    });

    it("h2 over TLS: a session that opens no stream is closed", async ({ expect }) => {
      const socket = await connectTls(tlsPort, ca, "h2");
      const since = Date.now();
      socket.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0)]));
      const { afterMs } = await untilClosed(socket, since);
      expect(afterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
    });
  });

  // Each test has its own connection and waits on its own clock: they run side by side.
  describe.concurrent("idle timeout", () => {
    it("HTTP/2: a session without streams gets GOAWAY and is closed", async ({ expect }) => {
      const session = http2.connect(harness.baseUrl);
      session.on("error", () => {});
      const goaway = new Promise<number>((resolve) => session.once("goaway", (code: number) => resolve(code)));
      const closed = new Promise<void>((resolve) => session.once("close", resolve));
      await new Promise<void>((resolve) => {
        const req = session.request({ ":method": "GET", ":path": "/" });
        req.on("close", resolve);
        req.resume();
      });
      const idleSince = Date.now();
      expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
      await closed;
      expect(Date.now() - idleSince).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 100);
      expect(Date.now() - idleSince).toBeLessThan(IDLE_TIMEOUT_MS + 1_500);
    });

    it("HTTP/2: an open stream quiet for longer than the timeout keeps its connection (no GOAWAY)", async ({ expect }) => {
      const session = http2.connect(harness.baseUrl);
      session.on("error", () => {});
      let goaway = false;
      session.on("goaway", () => (goaway = true));
      try {
        const message = toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { count: 2, intervalMs: IDLE_TIMEOUT_MS + 500 }));
        const status = await new Promise<unknown>((resolve, reject) => {
          const req = session.request({
            ":method": "POST",
            ":path": "/probe.v1.ProbeService/ProbeStream",
            "content-type": "application/grpc",
            te: "trailers",
          });
          req.on("trailers", (trailers) => resolve(trailers["grpc-status"]));
          req.on("error", reject);
          req.resume();
          req.end(grpcEnvelope(message));
        });
        expect(status).toBe("0");
        expect(goaway).toBe(false);
        expect(session.closed).toBe(false);
      } finally {
        session.destroy();
      }
    });

    it("HTTP/1.1: a keep-alive connection is closed once idle", async ({ expect }) => {
      const socket = await tcp(port);
      const answer = untilClosed(socket);
      socket.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
      const { text, afterMs } = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 404 /);
      expect(text).toMatch(/keep-alive/i);
      // Node keeps a second beyond the advertised keep-alive timeout, so a client reusing the connection at the last moment is not cut.
      expect(afterMs).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 100);
      expect(afterMs).toBeLessThan(IDLE_TIMEOUT_MS + 2_000);
    });
  });

  describe("maxMessageBytes", () => {
    const over = MAX_MESSAGE_BYTES + 1;
    it.each(["grpc", "connect-h1", "grpc-web-h2"] satisfies TransportName[])(
      "a request message over the limit: ResourceExhausted, and the pod never sees it (%s)",
      async (name) => {
        const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
        const tag = `big-request-${name}`;
        const error = await callError(client.probe({ tag, payload: new Uint8Array(over) }));
        expect(error.code).toBe(Code.ResourceExhausted);
        expect(harness.probes.get(tag)?.finished ?? false).toBe(false);
      },
    );

    it.each(["grpc", "connect-h1", "grpc-web-h2"] satisfies TransportName[])(
      "a response message over the limit: ResourceExhausted (%s)",
      async (name) => {
        const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
        const tag = `big-response-${name}`;
        const error = await callError(client.probe({ tag, payloadSize: over }));
        expect(error.code).toBe(Code.ResourceExhausted);
        expect(harness.probes.get(tag)?.finished).toBe(true);
        // Just under the limit passes both ways.
        const fits = await client.probe({ payload: new Uint8Array(MAX_MESSAGE_BYTES - 1_024), payloadSize: MAX_MESSAGE_BYTES - 1_024 });
        expect(fits.payload.byteLength).toBe(MAX_MESSAGE_BYTES - 1_024);
      },
    );
  });
});

describe("maxConnections", () => {
  let pki: TestPki;
  let harness: Harness;

  beforeAll(async () => {
    pki = await createTestPki();
    const dir = await mkdtemp(join(tmpdir(), "edgegate-limits-"));
    const files = await pki.writeFiles(dir, "local", await pki.issue([NAME, "127.0.0.1"]));
    harness = await startHarness({
      pods: 1,
      config: {
        listeners: [{ address: "127.0.0.1:0" }, { address: "127.0.0.1:0", tls: { certificates: [files] } }],
        limits: { maxConnections: 2 },
      },
    });
  });
  afterAll(() => harness?.close());

  /** An HTTP/1.1 request on an open socket: the status line, or undefined when the socket closed instead. */
  function get(socket: net.Socket): Promise<string | undefined> {
    return new Promise((resolve) => {
      const onData = (chunk: Buffer) => {
        socket.off("close", onClose);
        resolve(chunk.toString("latin1").split("\r\n")[0]);
      };
      const onClose = () => resolve(undefined);
      socket.once("data", onData);
      socket.once("close", onClose);
      socket.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    });
  }

  unlessOnDeno(denoGaps.http1Limits)("cleartext: with two connections open, a third is closed at once; logged once per burst", async () => {
    const port = harness.gateway.listeners[0]?.port ?? 0;
    const [first, second] = [await tcp(port), await tcp(port)];
    expect(await get(first)).toBe("HTTP/1.1 404 Not Found");
    expect(await get(second)).toBe("HTTP/1.1 404 Not Found");
    for (let i = 0; i < 3; i++) {
      const extra = await tcp(port);
      const { text, afterMs } = await untilClosed(extra);
      expect(text).toBe("");
      expect(afterMs).toBeLessThan(500);
    }
    const refusals = () => harness.logs.filter((line) => line.includes("refusing connections over limits.maxConnections"));
    // A gateway in its own process writes its logs through a pipe: they arrive a moment later.
    await vi.waitFor(() => expect(refusals()).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(refusals()).toHaveLength(1);
    expect(JSON.parse(refusals()[0] ?? "{}")).toMatchObject({ level: "warn", listener: `127.0.0.1:${port}`, maxConnections: 2 });
    // A freed slot is usable again.
    first.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const next = await tcp(port);
    expect(await get(next)).toBe("HTTP/1.1 404 Not Found");
    second.destroy();
    next.destroy();
  });

  it("TLS: a third connection is closed before its handshake completes", async () => {
    const port = harness.gateway.listeners[1]?.port ?? 0;
    const ca = pki.ca.certPem;
    const open = [await connectTls(port, ca, "http/1.1"), await connectTls(port, ca, "h2")];
    await expect(connectTls(port, ca, "http/1.1")).rejects.toThrow();
    for (const socket of open) socket.destroy();
  });
});
