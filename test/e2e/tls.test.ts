import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as https from "node:https";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  connectNodeAdapter,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { greetRoutes } from "../../src/demo/greet-service.ts";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError } from "../support/call-error.ts";
import { createGrpcJsClient, grpcJsUnary } from "../support/grpc-js-client.ts";
import { type Harness, startHarness } from "../support/harness.ts";
import { loopbackLookup as loopback } from "../support/loopback-lookup.ts";
import type { Pod } from "../../src/adapter/node/start-pod.ts";
import { createTestPki, type IssuedCertificate, type TestPki } from "../support/test-pki.ts";

const API = "api.example.test";
const APPS = "*.apps.example.test";


/** The certificate a TLS handshake with `servername` (or none) is answered with. */
async function servedCertificate(port: number, ca: string, servername?: string, options: tls.ConnectionOptions = {}) {
  return new Promise<tls.PeerCertificate & { alpn: string | false }>((resolve, reject) => {
    const socket = tls.connect(
      { host: "127.0.0.1", port, ca, ...(servername === undefined ? {} : { servername }), ALPNProtocols: ["h2", "http/1.1"], ...options },
      () => {
        const peer = socket.getPeerCertificate();
        const alpn = socket.alpnProtocol ?? false;
        socket.end();
        resolve({ ...peer, alpn });
      },
    );
    socket.once("error", reject);
  });
}

const endpoint = (pod: Pod) => `${pod.address.host}:${pod.address.port}`;

// The edge role: TLS termination for several hosts on one port, routing by
// host, each host reaching only its own pods, certificates rotated live.
describe("TLS listeners, SNI and routing by host", () => {
  let pki: TestPki;
  let dir: string;
  let apiCert: IssuedCertificate;
  let appsCert: IssuedCertificate;
  let harness: Harness;
  let tlsPort: number;
  let apiFiles: { certFile: string; keyFile: string };

  beforeAll(async () => {
    pki = await createTestPki();
    dir = await mkdtemp(join(tmpdir(), "edgegate-tls-"));
    apiCert = await pki.issue([API]);
    appsCert = await pki.issue([APPS]);
    apiFiles = await pki.writeFiles(dir, "api", apiCert);
    const appsFiles = await pki.writeFiles(dir, "apps", appsCert);
    harness = await startHarness({
      pods: 4,
      config: (pods) => ({
        listeners: [{ address: "127.0.0.1:0" }, { address: "127.0.0.1:0", tls: { certificates: [apiFiles, appsFiles] } }],
        routes: [
          { hosts: [API], backend: "api" },
          { hosts: [APPS], services: ["greet.v1.GreetService"], backend: "apps" },
        ],
        backends: [
          { name: "api", discovery: { static: { endpoints: pods.slice(0, 2).map(endpoint) } } },
          { name: "apps", discovery: { static: { endpoints: pods.slice(2).map(endpoint) } } },
        ],
      }),
    });
    tlsPort = harness.gateway.listeners[1]?.port ?? 0;
  });
  afterAll(async () => {
    await harness.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A connect-es transport to `host` on the TLS listener, one connection. */
  function tlsTransport(kind: "grpc" | "connect-h1" | "connect-h2" | "grpc-web-h1", host: string): Transport {
    const baseUrl = `https://${host}:${tlsPort}`;
    const nodeOptions = { ca: pki.ca.certPem, lookup: loopback };
    switch (kind) {
      case "grpc":
        return createGrpcTransport({ baseUrl, nodeOptions });
      case "connect-h2":
        return createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions });
      case "connect-h1":
        return createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ...nodeOptions, agent: new https.Agent({ keepAlive: true, maxSockets: 1, ca: pki.ca.certPem }) } });
      case "grpc-web-h1":
        return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ...nodeOptions, agent: new https.Agent({ keepAlive: true, maxSockets: 1, ca: pki.ca.certPem }) } });
    }
  }

  async function answering(transport: Transport, calls = 8): Promise<string[]> {
    const client = createClient(GreetService, transport);
    const pods = new Set<string>();
    for (let i = 0; i < calls; i++) pods.add((await client.greet({ name: "tls" })).pod);
    return [...pods].sort();
  }

  it("serves the certificate whose names match the SNI name, else the first", async () => {
    expect((await servedCertificate(tlsPort, pki.ca.certPem, API)).serialNumber).toBe(apiCert.serial);
    expect((await servedCertificate(tlsPort, pki.ca.certPem, "shop.apps.example.test")).serialNumber).toBe(appsCert.serial);
    // No match (a deeper name, an unknown host) and no SNI at all: the first certificate.
    const fallback = await servedCertificate(tlsPort, pki.ca.certPem, "a.shop.apps.example.test", { rejectUnauthorized: false });
    expect(fallback.serialNumber).toBe(apiCert.serial);
    expect((await servedCertificate(tlsPort, pki.ca.certPem, undefined, { rejectUnauthorized: false })).serialNumber).toBe(apiCert.serial);
  });

  it("offers h2 and http/1.1 by ALPN, and refuses TLS below 1.2", async () => {
    expect((await servedCertificate(tlsPort, pki.ca.certPem, API)).alpn).toBe("h2");
    expect((await servedCertificate(tlsPort, pki.ca.certPem, API, { ALPNProtocols: ["http/1.1"] })).alpn).toBe("http/1.1");
    await expect(servedCertificate(tlsPort, pki.ca.certPem, API, { maxVersion: "TLSv1.1", minVersion: "TLSv1" })).rejects.toThrow();
  });

  it("gRPC over TLS with ALPN h2 from @grpc/grpc-js reaches only the host's pods", async () => {
    const client = createGrpcJsClient(
      GreetService,
      `127.0.0.1:${tlsPort}`,
      { "grpc.ssl_target_name_override": API, "grpc.default_authority": API },
      grpc.credentials.createSsl(Buffer.from(pki.ca.certPem)),
    );
    try {
      const pods = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const { response, error } = await grpcJsUnary(client, GreetService.method.greet, { name: "grpc-js" });
        expect(error).toBeUndefined();
        pods.add(response?.pod ?? "");
      }
      expect([...pods].sort()).toEqual(["pod-a", "pod-b"]);
    } finally {
      client.close();
    }
  });

  it.each(["grpc", "connect-h2", "connect-h1", "grpc-web-h1"] as const)(
    "%s over TLS: each host reaches only its own pods",
    async (kind) => {
      expect(await answering(tlsTransport(kind, API))).toEqual(["pod-a", "pod-b"]);
      expect(await answering(tlsTransport(kind, "shop.apps.example.test"))).toEqual(["pod-c", "pod-d"]);
    },
  );

  it("answers a host no route matches with Unimplemented (Connect unary: 404)", async () => {
    const cleartext = `http://other.example.test:${harness.gateway.listeners[0]?.port}`;
    const client = createClient(GreetService, createConnectTransport({ baseUrl: cleartext, httpVersion: "1.1", nodeOptions: { lookup: loopback } }));
    const error = await callError(client.greet({ name: "nobody" }));
    expect(error.code).toBe(Code.Unimplemented);
    expect(error.rawMessage).toBe('no route for service "greet.v1.GreetService" on host "other.example.test"');
    // The wildcard route is for GreetService only: another service on that host has no route either.
    const apps = `http://shop.apps.example.test:${harness.gateway.listeners[0]?.port}`;
    const probe = createClient(ProbeService, createConnectTransport({ baseUrl: apps, httpVersion: "1.1", nodeOptions: { lookup: loopback } }));
    const probeError = await callError(probe.probe({ tag: "no-route" }));
    expect(probeError.code).toBe(Code.Unimplemented);
    expect(probeError.rawMessage).toBe('no route for service "probe.v1.ProbeService" on host "shop.apps.example.test"');
  });

  it("still serves HTTP/1.1 and h2c on the cleartext listener, routed by Host", async () => {
    const base = `http://${API}:${harness.gateway.listeners[0]?.port}`;
    const h2c = createGrpcTransport({ baseUrl: base, nodeOptions: { lookup: loopback } });
    expect(await answering(h2c)).toEqual(["pod-a", "pod-b"]);
    const h1 = createConnectTransport({ baseUrl: `http://x.apps.example.test:${harness.gateway.listeners[0]?.port}`, httpVersion: "1.1", nodeOptions: { lookup: loopback } });
    expect(await answering(h1)).toEqual(["pod-c", "pod-d"]);
  });

  it("serves a rotated certificate on the next handshake while an open connection keeps working", async () => {
    const open = tlsTransport("connect-h2", API);
    const client = createClient(GreetService, open);
    await client.greet({ name: "before" });
    const rotated = await pki.issue([API]);
    await pki.writeFiles(dir, "api", rotated);
    await vi.waitFor(async () => expect((await servedCertificate(tlsPort, pki.ca.certPem, API)).serialNumber).toBe(rotated.serial), {
      timeout: 5_000,
      interval: 100,
    });
    // The HTTP/2 connection opened before the rotation carries on.
    expect((await client.greet({ name: "after" })).pod).toMatch(/^pod-[ab]$/);
    expect(harness.logs.some((line) => line.includes("certificate reloaded"))).toBe(true);
  });

  it("counts handshakes and exposes certificate expiry in the metrics", async () => {
    const text = await (await fetch(`http://127.0.0.1:${harness.gateway.admin?.port}/metrics`)).text();
    const ok = /edgegate_tls_handshakes_total\{outcome="ok"\} (\d+)/.exec(text);
    expect(Number(ok?.[1])).toBeGreaterThan(5);
    expect(text).toMatch(/edgegate_tls_handshakes_total\{outcome="failed"\} [1-9]/); // the TLS 1.1 attempt
    expect(text).toMatch(new RegExp(`edgegate_certificate_expiry_timestamp_seconds\\{certificate="file:${apiFiles.certFile.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"\\} \\d+`));
  });

  it("keeps the previous certificate when the files on disk are broken", async () => {
    const before = (await servedCertificate(tlsPort, pki.ca.certPem, API)).serialNumber;
    const other = await pki.issue([API]);
    // A certificate without its key (the key file still holds the previous key).
    await writeFile(apiFiles.certFile, other.certPem);
    await vi.waitFor(() => expect(harness.logs.some((line) => line.includes("certificate reload failed"))).toBe(true), { timeout: 5_000 });
    expect((await servedCertificate(tlsPort, pki.ca.certPem, API)).serialNumber).toBe(before);
    await pki.writeFiles(dir, "api", other);
    await vi.waitFor(async () => expect((await servedCertificate(tlsPort, pki.ca.certPem, API)).serialNumber).toBe(other.serial), {
      timeout: 5_000,
      interval: 100,
    });
  });
});

describe("TLS listener startup", () => {
  it("fails, naming the file, when a certificate cannot be loaded", async () => {
    await expect(
      startHarness({
        pods: 1,
        config: { listeners: [{ address: "127.0.0.1:0", tls: { certificates: [{ certFile: "/nonexistent.crt", keyFile: "/nonexistent.key" }] } }] },
      }),
    ).rejects.toThrow(/cannot load the certificate \/nonexistent\.crt with key \/nonexistent\.key: .*ENOENT/);
  });
});

// Upstream TLS: pods that serve gRPC over TLS themselves.
describe("upstream TLS per backend", () => {
  let pki: TestPki;
  let dir: string;
  let pod: http2.Http2SecureServer;
  let podPort: number;

  beforeAll(async () => {
    pki = await createTestPki();
    dir = await mkdtemp(join(tmpdir(), "edgegate-upstream-tls-"));
    const cert = await pki.issue(["greet.internal"]);
    pod = http2.createSecureServer({ cert: cert.certPem, key: cert.keyPem, ALPNProtocols: ["h2"] }, connectNodeAdapter({ routes: greetRoutes("tls-pod") }));
    await new Promise<void>((resolve) => pod.listen(0, "127.0.0.1", resolve));
    podPort = (pod.address() as AddressInfo).port;
    await writeFile(join(dir, "ca.crt"), pki.ca.certPem);
  });
  afterAll(async () => {
    pod.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function callThrough(tlsConfig: Record<string, unknown>) {
    const harness = await startHarness({
      pods: 0,
      config: {
        routes: [{ backend: "secure" }],
        backends: [{ name: "secure", discovery: { static: { endpoints: [`127.0.0.1:${podPort}`] } }, tls: tlsConfig }],
      },
    });
    try {
      const client = createClient(GreetService, createGrpcTransport({ baseUrl: harness.baseUrl }));
      return await client.greet({ name: "secure" }).then(
        (response) => ({ pod: response.pod, code: undefined }),
        (error: unknown) => ({ pod: undefined, code: ConnectError.from(error).code }),
      );
    } finally {
      await harness.close();
    }
  }

  it("verifies the pod against the backend's CA and server name", async () => {
    expect(await callThrough({ caFile: join(dir, "ca.crt"), serverName: "greet.internal" })).toEqual({ pod: "tls-pod", code: undefined });
  });

  it("refuses a pod whose certificate does not verify (Unavailable), unless verification is off", async () => {
    expect(await callThrough({ serverName: "greet.internal" })).toEqual({ pod: undefined, code: Code.Unavailable });
    expect(await callThrough({ caFile: join(dir, "ca.crt"), serverName: "other.internal" })).toEqual({ pod: undefined, code: Code.Unavailable });
    expect(await callThrough({ insecureSkipVerify: true })).toEqual({ pod: "tls-pod", code: undefined });
  });
});
