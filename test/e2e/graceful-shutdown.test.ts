import type { ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Pod, startPod } from "../../src/adapter/node/start-pod.ts";
import { ProbeRequestSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError } from "../support/call-error.ts";
import {
  allTransports,
  createTransport,
  type Harness,
  podRoutes,
  startHarness,
  type TransportName,
} from "../support/harness.ts";
import type { ProbeLog } from "../support/probe-service.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { createTestPki } from "../support/test-pki.ts";


/** Resolves once the pods have seen a call with each tag: the calls are in flight. */
async function inFlight(probes: ProbeLog, tags: readonly string[]): Promise<void> {
  await vi.waitFor(() => expect(tags.filter((tag) => !probes.has(tag))).toEqual([]), { timeout: 5_000, interval: 10 });
}

/** Whether a TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

/** A Connect unary call over a bare HTTP/1.1 socket: the whole answer, once the gateway has closed the connection. */
async function rawConnectOverHttp1(port: number, tag: string, sleepMs: number) {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  const closed = new Promise<string>((resolve) => socket.once("close", () => resolve(text)));
  const body = toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { tag, sleepMs }));
  socket.write(
    `POST /probe.v1.ProbeService/Probe HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/proto\r\n` +
      `Connect-Protocol-Version: 1\r\nContent-Length: ${body.byteLength}\r\n\r\n`,
  );
  socket.write(body);
  return { closed };
}

describe("graceful shutdown", () => {
  let harness: Harness;
  let port: number;
  let adminPort: number;
  beforeAll(async () => {
    harness = await startHarness({ config: { shutdown: { gracePeriod: "10s" } } });
    port = harness.gateway.listeners[0]?.port ?? 0;
    adminPort = harness.gateway.admin?.port ?? 0;
  });
  afterAll(() => harness?.close());

  it("drains: calls in flight on every protocol finish OK, readyz says 503, no new connections, HTTP/2 gets GOAWAY, HTTP/1.1 Connection: close", async () => {
    expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(200);
    // An idle HTTP/2 connection, to see its GOAWAY.
    const idle = http2.connect(harness.baseUrl);
    idle.on("error", () => {});
    const goaway = new Promise<number>((resolve) => idle.once("goaway", (code: number) => resolve(code)));
    await new Promise<void>((resolve) => idle.once("connect", () => resolve()));
    // An idle HTTP/1.1 keep-alive connection, to see it closed at once.
    const keepAlive = net.connect(port, "127.0.0.1");
    keepAlive.on("error", () => {});
    await new Promise<void>((resolve) => {
      keepAlive.once("data", () => resolve());
      keepAlive.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    });
    const keepAliveClosed = new Promise<number>((resolve) => keepAlive.once("close", () => resolve(Date.now())));

    // A client (one connection) per call, so that every call is in flight at once.
    const client = (name: TransportName) => createClient(ProbeService, createTransport(name, harness.baseUrl));
    const unary = allTransports.map((name) => client(name).probe({ tag: `drain-unary-${name}`, sleepMs: 1_200 }));
    const streams = allTransports.map(async (name) => {
      const indexes: number[] = [];
      for await (const res of client(name).probeStream({ tag: `drain-stream-${name}`, count: 4, intervalMs: 300 })) {
        indexes.push(res.index);
      }
      return indexes;
    });
    const http1 = await rawConnectOverHttp1(port, "drain-raw-h1", 1_200);
    const tags = [...allTransports.flatMap((name) => [`drain-unary-${name}`, `drain-stream-${name}`]), "drain-raw-h1"];
    await inFlight(harness.probes, tags);

    const started = Date.now();
    const shutdown = harness.gateway.shutdown();
    expect(tags.filter((tag) => harness.probes.get(tag)?.finished)).toEqual([]);

    // At once in process; a gateway in its own process takes the signal a moment later.
    await vi.waitFor(async () => expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(503), {
      timeout: 1_000,
      interval: 10,
    });
    expect(await refused(port)).toBe(true);
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect((await keepAliveClosed) - started).toBeLessThan(500);
    // New calls have nowhere to go: this gateway accepts no connection any more.
    const late = await callError(createClient(ProbeService, createTransport("grpc", harness.baseUrl)).probe({}));
    expect(late.code).toBe(Code.Unavailable);

    for (const response of await Promise.all(unary)) {
      expect(response.pod).toMatch(/^pod-/);
    }
    for (const indexes of await Promise.all(streams)) {
      expect(indexes).toEqual([0, 1, 2, 3]);
    }
    const raw = await http1.closed;
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw).toMatch(/\r\nconnection: close\r\n/i);

    await shutdown;
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5_000); // the calls' time, not the grace period
    expect(harness.logs.some((line) => line.includes("shutting down"))).toBe(true);
    // The admin listener closes last.
    expect(await refused(adminPort)).toBe(true);
    idle.destroy();
  });
});

describe("graceful shutdown of a TLS listener", () => {
  let harness: Harness;
  let ca: string;
  let tlsPort: number;
  beforeAll(async () => {
    const pki = await createTestPki();
    ca = pki.ca.certPem;
    const dir = await mkdtemp(join(tmpdir(), "edgegate-shutdown-tls-"));
    const files = await pki.writeFiles(dir, "gateway", await pki.issue(["gateway.example.test"]));
    harness = await startHarness({
      pods: 1,
      config: {
        listeners: [{ address: "127.0.0.1:0" }, { address: "127.0.0.1:0", tls: { certificates: [files] } }],
        shutdown: { gracePeriod: "10s" },
      },
    });
    tlsPort = harness.gateway.listeners[1]?.port ?? 0;
  });
  afterAll(() => harness?.close());

  it("HTTP/2 and HTTP/1.1 calls in flight over TLS finish OK; new connections are refused", async () => {
    const baseUrl = `https://127.0.0.1:${tlsPort}`;
    const agent = new https.Agent({ ca, servername: "gateway.example.test", keepAlive: true, maxSockets: 1 });
    const h2 = createClient(
      ProbeService,
      createGrpcTransport({ baseUrl, nodeOptions: { ca, servername: "gateway.example.test" } }),
    );
    const h1 = createClient(ProbeService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent } }));
    const calls = [h2.probe({ tag: "tls-h2", sleepMs: 800 }), h1.probe({ tag: "tls-h1", sleepMs: 800 })];
    await inFlight(harness.probes, ["tls-h2", "tls-h1"]);
    const shutdown = harness.gateway.shutdown();
    // At once in process; a gateway in its own process takes the signal a moment later.
    await vi.waitFor(async () => expect(await refused(tlsPort)).toBe(true), { timeout: 1_000, interval: 10 });
    for (const response of await Promise.all(calls)) {
      expect(response.pod).toBe("pod-a");
    }
    await shutdown;
    agent.destroy();
  });
});

describe("graceful shutdown, past the grace period", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ pods: 1, config: { shutdown: { gracePeriod: "500ms" } } });
  });
  afterAll(() => harness?.close());

  it("calls still running are answered Unavailable and cancelled upstream, and the shutdown ends on time", async () => {
    const grpc = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const connect = createClient(ProbeService, createTransport("connect-h1", harness.baseUrl));
    const calls = [
      callError(grpc.probe({ tag: "late-grpc", sleepMs: 5_000 })),
      callError(connect.probe({ tag: "late-connect", sleepMs: 5_000 })),
      // A stream that has sent part of its answer already.
      callError(
        (async () => {
          for await (const _ of grpc.probeStream({ tag: "late-stream", count: 10, intervalMs: 300 })) {
            // reading
          }
        })(),
      ),
    ];
    await inFlight(harness.probes, ["late-grpc", "late-connect", "late-stream"]);
    const started = Date.now();
    await harness.gateway.shutdown();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(2_000);
    for (const error of await Promise.all(calls)) {
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toBe("the gateway is shutting down");
    }
    await vi.waitFor(() => {
      for (const tag of ["late-grpc", "late-connect", "late-stream"]) {
        expect(harness.probes.get(tag)?.cancelled).toBe(true);
      }
    }, { timeout: 3_000 });
  });
});

describe("edgegate serve and SIGTERM", () => {
  let dir: string;
  let pod: Pod;
  const probes: ProbeLog = new Map();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgegate-shutdown-"));
    pod = await startPod("pod-a", podRoutes("pod-a", probes));
  });
  afterAll(() => pod?.close());

  /** Starts `edgegate serve` with a 10 s grace period; the tests signal it themselves. */
  async function serve(): Promise<{ child: ChildProcess; port: number; output: () => string }> {
    const config = join(dir, "gateway.yaml");
    await writeFile(
      config,
      `listeners:\n  - address: 127.0.0.1:0\nroutes:\n  - backend: pods\n` +
        `backends:\n  - name: pods\n    discovery:\n      static:\n        endpoints: ["127.0.0.1:${pod.address.port}"]\n` +
        `shutdown:\n  gracePeriod: 10s\n`,
    );
    const gateway = await startGatewayProcess(config);
    gateway.stopping = true;
    return { child: gateway.child, port: gateway.listeners[0]?.port ?? 0, output: () => gateway.logs.join("\n") };
  }

  it("a call in flight completes, then the process exits 0, well within the grace period", async () => {
    const { child, port, output } = await serve();
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      child.once("exit", (code) => resolve({ code, at: Date.now() })),
    );
    const client = createClient(ProbeService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const call = client.probe({ tag: "cli-slow", sleepMs: 1_500 });
    await inFlight(probes, ["cli-slow"]);
    const signalled = Date.now();
    child.kill("SIGTERM");
    const response = await call;
    const answeredAt = Date.now();
    expect(response.pod).toBe("pod-a");
    const { code, at } = await exited;
    expect(code).toBe(0);
    expect(at).toBeGreaterThanOrEqual(answeredAt - 50);
    expect(at - signalled).toBeLessThan(5_000);
    expect(output()).toContain('"msg":"shutting down');
  });

  it("a second SIGTERM exits at once, without waiting for calls", async () => {
    const { child, port } = await serve();
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const client = createClient(ProbeService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const call = callError(client.probe({ tag: "cli-abandoned", sleepMs: 8_000 }));
    await inFlight(probes, ["cli-abandoned"]);
    const signalled = Date.now();
    child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(Date.now() - signalled).toBeLessThan(2_000);
    // The process is gone: how that reads depends on the client (connect-es: Canceled, for a connection reset).
    expect([Code.Canceled, Code.Unavailable]).toContain((await call).code);
  });
});
