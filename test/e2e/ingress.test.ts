import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as tls from "node:tls";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GreetRequestSchema, GreetResponseSchema, GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError } from "../support/call-error.ts";
import { endpointSlice, type FakeKubeApi, type KubeObject, startFakeKubeApi } from "../support/fake-kube-api.ts";
import { createGrpcJsClient, grpcJsUnary } from "../support/grpc-js-client.ts";
import { type Harness, startHarness } from "../support/harness.ts";
import { createTestPki, type IssuedCertificate, type TestPki } from "../support/test-pki.ts";
import { loopbackLookup } from "../support/loopback-lookup.ts";

// Kubernetes Ingress resources as the route source, end to end: a fake
// kube-apiserver serves Ingresses, Services, TLS Secrets and EndpointSlices
// in their real shapes; the gateway has no routes or backends of its own;
// real clients (grpc-js, connect-es, node:http2, node:tls, fetch) call it over
// real sockets, and the pods that answer say where each call went.

const NS = "testing";
const CLASS = "edgegate";

/** The seeds' host (SEEDS.md, setup 1), on a test domain. */
const HOST_A = "asr.voice.example.test";
const HOST_B = "tts.voice.example.test";
const HOST_C = "api.example.test";
const HOST_D = "traefik.example.test";
const HOST_E = "late.example.test";
const HOST_X = "broken.example.test";

// ---------------------------------------------------------------------------
// Kubernetes objects, in the shapes the API server sends

/** Pods a..f listen on 127.0.0.11..16, all on one port, as pods of a Deployment do. */
function ip(pod: string): string {
  return `127.0.0.${11 + pod.charCodeAt(0) - 97}`;
}

interface ServicePortSpec {
  readonly name: string;
  readonly port: number;
  readonly targetPort: number;
}

/** A headless Service like the seed's `testing-voice-asr` (clusterIP None, selector, named ports). */
function service(name: string, ports: readonly ServicePortSpec[]): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: NS, labels: { "app.kubernetes.io/name": "voice", "app.kubernetes.io/instance": NS } },
    spec: {
      type: "ClusterIP",
      clusterIP: "None",
      clusterIPs: ["None"],
      selector: { role: name, "app.kubernetes.io/name": "voice", "app.kubernetes.io/instance": NS },
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: "TCP" })),
      sessionAffinity: "None",
    },
  };
}

/** A `kubernetes.io/tls` Secret as cert-manager or `kubectl create secret tls` writes it. */
function tlsSecret(name: string, pair: { certPem: string; keyPem: string }): KubeObject {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: NS },
    type: "kubernetes.io/tls",
    data: { "tls.crt": b64(pair.certPem), "tls.key": b64(pair.keyPem) },
  };
}

interface PathSpec {
  readonly path: string;
  readonly pathType?: "Prefix" | "Exact" | "ImplementationSpecific";
  readonly service: string;
  /** A number resolves through the Service's ports; a name is the slices' port name. */
  readonly port: number | string;
}

interface IngressSpec {
  /** `spec.ingressClassName`; leave out to use only `legacyClass` (the annotation). */
  readonly className?: string;
  readonly legacyClass?: string;
  readonly annotations?: Record<string, string>;
  readonly tls?: ReadonlyArray<{ hosts: string[]; secretName: string }>;
  readonly rules: ReadonlyArray<{ host?: string; paths: readonly PathSpec[] }>;
}

function ingress(name: string, spec: IngressSpec): KubeObject {
  const annotations = {
    ...spec.annotations,
    ...(spec.legacyClass === undefined ? {} : { "kubernetes.io/ingress.class": spec.legacyClass }),
  };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace: NS, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
    spec: {
      ...(spec.className === undefined ? {} : { ingressClassName: spec.className }),
      ...(spec.tls === undefined ? {} : { tls: spec.tls }),
      rules: spec.rules.map((rule) => ({
        ...(rule.host === undefined ? {} : { host: rule.host }),
        http: {
          paths: rule.paths.map((p) => ({
            path: p.path,
            pathType: p.pathType ?? "Prefix",
            backend: {
              service: { name: p.service, port: typeof p.port === "number" ? { number: p.port } : { name: p.port } },
            },
          })),
        },
      })),
    },
  };
}

// ---------------------------------------------------------------------------
// Clients


describe("kubernetes Ingress as the route source", () => {
  let api: FakeKubeApi;
  let pki: TestPki;
  let harness: Harness;
  /** Port of the pods (each on its own loopback address). */
  let podPort: number;
  let plainPort: number;
  let tlsPort: number;
  let asrCert: IssuedCertificate;
  let ttsCert: IssuedCertificate;

  const slice = (svc: string, pods: readonly string[], portName = "grpc") =>
    api.put(
      "endpointslices",
      endpointSlice({
        namespace: NS,
        name: `${svc}-x7k2p`,
        service: svc,
        ports: [{ name: portName, port: podPort, appProtocol: "kubernetes.io/h2c" }],
        endpoints: pods.map((pod) => ({ ip: ip(pod), ready: true, pod: `${svc}-${pod}`, nodeName: "node-1" })),
      }),
    );

  /** gRPC over TLS (ALPN h2) to the TLS listener, dialled by host name: SNI and :authority are the host. */
  const tlsGreet = (host: string) =>
    createClient(
      GreetService,
      createGrpcTransport({ baseUrl: `https://${host}:${tlsPort}`, nodeOptions: { ca: pki.ca.certPem, lookup: loopbackLookup } }),
    );

  /** gRPC over h2c to the cleartext listener with the host as :authority. */
  const plainClients = (host: string) => {
    const transport = createGrpcTransport({ baseUrl: `http://${host}:${plainPort}`, nodeOptions: { lookup: loopbackLookup } });
    return { greet: createClient(GreetService, transport), probe: createClient(ProbeService, transport) };
  };

  /** Which pods answer 12 Greet calls to a host, over one connection (the set, sorted). */
  async function answering(host: string, via: "tls" | "h2c" = "tls"): Promise<string[]> {
    const client = via === "tls" ? tlsGreet(host) : plainClients(host).greet;
    const pods = new Set<string>();
    for (let i = 0; i < 12; i++) {
      pods.add((await client.greet({ name: host })).pod);
    }
    return [...pods].sort();
  }

  const eventually = (host: string, expected: string[], via: "tls" | "h2c" = "tls") =>
    vi.waitFor(async () => expect(await answering(host, via)).toEqual(expected), { timeout: 5_000, interval: 20 });

  /** A Connect unary call over HTTP/1.1 to the cleartext listener, as a browser would make it. */
  const connectH1Greet = (host: string) =>
    createClient(
      GreetService,
      createConnectTransport({ baseUrl: `http://${host}:${plainPort}`, httpVersion: "1.1", nodeOptions: { lookup: loopbackLookup } }),
    );

  /** Waits until a host answers Unimplemented (no route), through a Connect HTTP/1.1 client. */
  const eventuallyUnrouted = (host: string) =>
    vi.waitFor(
      async () => {
        const error = await callError(connectH1Greet(host).greet({ name: "gone" }));
        expect(error.code).toBe(Code.Unimplemented);
      },
      { timeout: 5_000, interval: 20 },
    );

  /** The serial of the certificate the TLS listener serves for an SNI name, and the ALPN protocol agreed. */
  function served(servername: string, verify = true): Promise<{ serial: string; alpn: string | false }> {
    return new Promise((resolve, reject) => {
      const options = { host: "127.0.0.1", port: tlsPort, servername, ca: pki.ca.certPem, ALPNProtocols: ["h2"], rejectUnauthorized: verify };
      const socket = tls.connect(options, () => {
        const result = { serial: socket.getPeerCertificate().serialNumber, alpn: socket.alpnProtocol ?? false };
        socket.end();
        resolve(result);
      });
      socket.once("error", reject);
    });
  }

  /** A Connect unary POST over HTTP/1.1 (node:http) to the cleartext listener with a Host header. */
  function postH1(host: string, path: string, body: Uint8Array): Promise<{ status: number | undefined; contentType: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: plainPort,
          method: "POST",
          path,
          headers: { host: `${host}:${plainPort}`, "content-type": "application/proto", "connect-protocol-version": "1" },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({ status: res.statusCode, contentType: res.headers["content-type"], body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  const readyz = async () => (await fetch(`http://127.0.0.1:${harness.gateway.admin?.port}/readyz`)).status;

  beforeAll(async () => {
    api = await startFakeKubeApi();
    pki = await createTestPki();
    asrCert = await pki.issue([HOST_A]);
    ttsCert = await pki.issue([HOST_B]);
    const kubeconfig = await api.writeKubeconfig({ namespace: NS });
    // The API server is down when the gateway starts; the seed's objects are
    // put meanwhile (the fake keeps state while stopped) and the first test
    // brings it up.
    await api.stop();
    harness = await startHarness({
      pods: 6,
      podsOnLoopbackAddresses: true,
      config: {
        listeners: [{ address: "127.0.0.1:0" }, { address: "127.0.0.1:0", tls: {} }],
        routes: [],
        backends: [],
        kubernetes: { kubeconfig, ingress: { className: CLASS } },
      },
    });
    podPort = harness.pods[0]?.address.port ?? 0;
    plainPort = harness.gateway.listeners[0]?.port ?? 0;
    tlsPort = harness.gateway.listeners[1]?.port ?? 0;

    // SEEDS.md setup 1, moved to networking.k8s.io/v1 with only the class
    // changed: a headless Service with two named ports, a TLS block with one
    // host and its Secret, one rule "/" to the Service's port NUMBER 50000.
    api.put(
      "services",
      service("testing-voice-asr", [
        { name: "http-grpc-asr", port: 50000, targetPort: podPort },
        { name: "http-asr", port: 50001, targetPort: 50001 },
      ]),
    );
    // The endpointslice controller names slice ports after the Service's ports.
    api.put(
      "endpointslices",
      endpointSlice({
        namespace: NS,
        name: "testing-voice-asr-8fz2m",
        service: "testing-voice-asr",
        ports: [
          { name: "http-asr", port: 50001 },
          { name: "http-grpc-asr", port: podPort },
        ],
        endpoints: ["a", "b"].map((pod) => ({ ip: ip(pod), ready: true, pod: `testing-voice-asr-${pod}` })),
      }),
    );
    api.put("secrets", tlsSecret("vad-cert", asrCert));
    api.put(
      "ingresses",
      ingress("testing-voice-asr", {
        className: CLASS,
        annotations: { "ingress.kubernetes.io/protocol": "h2c" },
        tls: [{ hosts: [HOST_A], secretName: "vad-cert" }],
        rules: [{ host: HOST_A, paths: [{ path: "/", pathType: "ImplementationSpecific", service: "testing-voice-asr", port: 50000 }] }],
      }),
    );
    // Unrelated Secrets the gateway must not pick up (it lists TLS Secrets only).
    api.put("secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db-password", namespace: NS },
      type: "Opaque",
      data: { password: Buffer.from("hunter2").toString("base64") },
    });
  });
  afterAll(async () => {
    await harness?.close();
    await api?.close();
  });

  it("is not ready (/readyz 503) until Ingresses, Services, Secrets and the named EndpointSlices have synced", async () => {
    // The informers retry with backoff while the API server is down.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await readyz()).toBe(503);
    expect(await harness.gateway.ready()).toBe(false);

    await api.start();
    let status = 503;
    for (const until = Date.now() + 8_000; status !== 200 && Date.now() < until; ) {
      status = await readyz();
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(status).toBe(200);
    // At the first 200, every collection had been listed, the slices of the
    // Ingress's Service included (their watch exists only once the Ingress is known).
    const listed = api.requests.filter((r) => !r.watch && r.status === 200).map((r) => r.path);
    expect(listed).toEqual(
      expect.arrayContaining([
        "/apis/networking.k8s.io/v1/ingresses",
        "/api/v1/services",
        "/api/v1/secrets",
        `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`,
      ]),
    );
    const secretList = api.requests.find((r) => r.path === "/api/v1/secrets" && !r.watch);
    expect(secretList?.query.fieldSelector).toBe("type=kubernetes.io/tls");

    // Ready means routed: the seed's host answers from both pods at once, without waiting.
    expect(await answering(HOST_A)).toEqual(["pod-a", "pod-b"]);
  });

  it("serves the seeds' Traefik Ingress with only its class changed: gRPC over TLS to every pod, with the Secret's certificate", async () => {
    await vi.waitFor(async () => expect(await readyz()).toBe(200));
    // The certificate is the Secret's, and ALPN agrees on h2.
    expect(await served(HOST_A)).toEqual({ serial: asrCert.serial, alpn: "h2" });

    // @grpc/grpc-js, the reference native client: one channel over TLS,
    // verifying the Secret's certificate against the CA, the host as SNI and :authority.
    const channel = createGrpcJsClient(
      GreetService,
      `127.0.0.1:${tlsPort}`,
      { "grpc.ssl_target_name_override": HOST_A, "grpc.default_authority": HOST_A },
      grpc.credentials.createSsl(Buffer.from(pki.ca.certPem)),
    );
    try {
      const counts = new Map<string, number>();
      for (let i = 0; i < 10; i++) {
        const { response, error } = await grpcJsUnary(channel, GreetService.method.greet, { name: `asr ${i}` });
        expect(error).toBeUndefined();
        expect(response?.greeting).toBe(`Hello, asr ${i}!`);
        counts.set(response?.pod ?? "", (counts.get(response?.pod ?? "") ?? 0) + 1);
      }
      // Port 50000 went through the Service's port name to the slices' port: both pods, in turn.
      expect(Object.fromEntries(counts)).toEqual({ "pod-a": 5, "pod-b": 5 });
    } finally {
      channel.close();
    }

    // connect-es over TLS by host name, and h2c on the cleartext port with the same authority.
    expect(await answering(HOST_A, "tls")).toEqual(["pod-a", "pod-b"]);
    expect(await answering(HOST_A, "h2c")).toEqual(["pod-a", "pod-b"]);
    // Connect over HTTPS/1.1, as a browser calls: the same host, the same pods.
    const h1 = createClient(
      GreetService,
      createConnectTransport({
        baseUrl: `https://${HOST_A}:${tlsPort}`,
        httpVersion: "1.1",
        nodeOptions: { ca: pki.ca.certPem, lookup: loopbackLookup, agent: new https.Agent({ keepAlive: true, maxSockets: 1 }) },
      }),
    );
    const viaH1 = new Set<string>();
    for (let i = 0; i < 4; i++) viaH1.add((await h1.greet({ name: "h1" })).pod);
    expect([...viaH1].sort()).toEqual(["pod-a", "pod-b"]);
    // Another host has no route.
    const error = await callError(plainClients("nobody.example.test").greet.greet({ name: "x" }));
    expect(error.code).toBe(Code.Unimplemented);
  });

  it("starts routing a host added by a new Ingress, each host to its own Service's pods, with its own certificate", async () => {
    expect((await callError(connectH1Greet(HOST_B).greet({ name: "early" }))).code).toBe(Code.Unimplemented);
    api.put("services", service("testing-voice-tts", [{ name: "grpc", port: 50000, targetPort: podPort }]));
    slice("testing-voice-tts", ["c", "d"]);
    api.put("secrets", tlsSecret("tts-cert", ttsCert));
    api.put(
      "ingresses",
      ingress("testing-voice-tts", {
        className: CLASS,
        tls: [{ hosts: [HOST_B], secretName: "tts-cert" }],
        rules: [{ host: HOST_B, paths: [{ path: "/", service: "testing-voice-tts", port: "grpc" }] }],
      }),
    );
    await eventually(HOST_B, ["pod-c", "pod-d"]);
    expect(await answering(HOST_A)).toEqual(["pod-a", "pod-b"]);
    expect(await served(HOST_B)).toEqual({ serial: ttsCert.serial, alpn: "h2" });
    expect(await served(HOST_A)).toEqual({ serial: asrCert.serial, alpn: "h2" });
  });

  it("serves a host added to an Ingress's TLS entry (same Secret) its certificate", async () => {
    // Issue 14: the Secret's PEMs are unchanged, only the hosts it is served for grow.
    const extra = "extra.voice.example.test";
    const tts = (hosts: string[]) =>
      ingress("testing-voice-tts", {
        className: CLASS,
        tls: [{ hosts, secretName: "tts-cert" }],
        rules: hosts.map((host) => ({ host, paths: [{ path: "/", service: "testing-voice-tts", port: "grpc" }] })),
      });
    expect((await served(extra, false)).serial).not.toBe(ttsCert.serial);
    api.put("ingresses", tts([HOST_B, extra]));
    await eventually(extra, ["pod-c", "pod-d"], "h2c");
    await vi.waitFor(async () => expect((await served(extra, false)).serial).toBe(ttsCert.serial), { timeout: 5_000, interval: 20 });
    expect(await served(HOST_B)).toEqual({ serial: ttsCert.serial, alpn: "h2" });
    // And the host leaves again when the entry loses it.
    api.put("ingresses", tts([HOST_B]));
    await vi.waitFor(async () => expect((await served(extra, false)).serial).not.toBe(ttsCert.serial), { timeout: 5_000, interval: 20 });
  });

  it("routes by path within a host: Prefix /greet.v1.GreetService to one Service, everything else to another", async () => {
    api.put("services", service("greeter", [{ name: "grpc", port: 8080, targetPort: podPort }]));
    api.put("services", service("prober", [{ name: "grpc", port: 8080, targetPort: podPort }]));
    slice("greeter", ["e"]);
    slice("prober", ["f"]);
    api.put(
      "ingresses",
      ingress("api", {
        className: CLASS,
        rules: [
          {
            host: HOST_C,
            paths: [
              { path: "/", pathType: "Prefix", service: "prober", port: 8080 },
              { path: "/greet.v1.GreetService", pathType: "Prefix", service: "greeter", port: 8080 },
            ],
          },
        ],
      }),
    );
    await eventually(HOST_C, ["pod-e"], "h2c");
    const { probe } = plainClients(HOST_C);
    for (let i = 0; i < 4; i++) {
      expect((await probe.probe({ tag: `path-${i}` })).pod).toBe("pod-f");
    }

    // Dropping the rule sends the service to the remaining "/" path.
    api.put(
      "ingresses",
      ingress("api", { className: CLASS, rules: [{ host: HOST_C, paths: [{ path: "/", service: "prober", port: 8080 }] }] }),
    );
    await eventually(HOST_C, ["pod-f"], "h2c");
  });

  it("routes a wildcard host (one more label) and serves its wildcard certificate", async () => {
    const appsCert = await pki.issue(["*.apps.example.test"]);
    api.put("secrets", tlsSecret("apps-cert", appsCert));
    api.put(
      "ingresses",
      ingress("apps", {
        className: CLASS,
        tls: [{ hosts: ["*.apps.example.test"], secretName: "apps-cert" }],
        rules: [{ host: "*.apps.example.test", paths: [{ path: "/", service: "testing-voice-tts", port: "grpc" }] }],
      }),
    );
    await eventually("one.apps.example.test", ["pod-c", "pod-d"]);
    expect(await answering("two.apps.example.test")).toEqual(["pod-c", "pod-d"]);
    expect((await served("one.apps.example.test")).serial).toBe(appsCert.serial);
    // The wildcard stands for exactly one label.
    for (const host of ["apps.example.test", "a.b.apps.example.test"]) {
      expect((await callError(connectH1Greet(host).greet({ name: "wild" }))).code).toBe(Code.Unimplemented);
    }
    api.remove("ingresses", NS, "apps");
    await eventuallyUnrouted("one.apps.example.test");
  });

  it("serves a rotated Secret on the next handshake while an open HTTP/2 connection keeps working", async () => {
    // One HTTP/2 connection opened before the rotation, carrying Connect unary calls.
    const session = http2.connect(`https://127.0.0.1:${tlsPort}`, { ca: pki.ca.certPem, servername: HOST_A });
    try {
      const greetOver = (name: string) =>
        new Promise<{ status: number | undefined; pod: string }>((resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": "/greet.v1.GreetService/Greet",
            ":authority": HOST_A,
            "content-type": "application/proto",
            "connect-protocol-version": "1",
          });
          let status: number | undefined;
          const chunks: Buffer[] = [];
          stream.on("response", (headers) => {
            status = headers[":status"];
          });
          stream.on("data", (chunk: Buffer) => chunks.push(chunk));
          stream.on("end", () => resolve({ status, pod: fromBinary(GreetResponseSchema, Buffer.concat(chunks)).pod }));
          stream.on("error", reject);
          stream.end(toBinary(GreetRequestSchema, create(GreetRequestSchema, { name })));
        });
      const before = await greetOver("before");
      expect(before.status).toBe(200);
      expect(["pod-a", "pod-b"]).toContain(before.pod);
      const socket = session.socket as tls.TLSSocket;
      expect(socket.getPeerCertificate().serialNumber).toBe(asrCert.serial);

      const rotated = await pki.issue([HOST_A]);
      api.put("secrets", tlsSecret("vad-cert", rotated));
      await vi.waitFor(async () => expect((await served(HOST_A)).serial).toBe(rotated.serial), { timeout: 5_000, interval: 20 });

      // The open connection still has the old certificate and still serves calls, on both pods.
      const after = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const result = await greetOver(`after ${i}`);
        expect(result.status).toBe(200);
        after.add(result.pod);
      }
      expect([...after].sort()).toEqual(["pod-a", "pod-b"]);
      expect(session.closed || session.destroyed).toBe(false);
      expect(socket.getPeerCertificate().serialNumber).toBe(asrCert.serial);
      // New clients verify the new certificate and are routed as before.
      expect(await answering(HOST_A)).toEqual(["pod-a", "pod-b"]);
      asrCert = rotated;

      // A Secret updated with a certificate and a key that do not belong
      // together is reported, and the last good pair keeps being served.
      const next = await pki.issue([HOST_A]);
      api.put("secrets", tlsSecret("vad-cert", { certPem: next.certPem, keyPem: rotated.keyPem }));
      await vi.waitFor(() =>
        expect(
          harness.logs.some((l) => l.includes("ingress problem") && l.includes("the private key does not belong to the certificate")),
        ).toBe(true),
      );
      expect((await served(HOST_A)).serial).toBe(rotated.serial);
      expect(await answering(HOST_A)).toEqual(["pod-a", "pod-b"]);
      api.put("secrets", tlsSecret("vad-cert", rotated));
    } finally {
      session.close();
    }
  });

  it("answers Unimplemented (HTTP 404, Connect JSON) for a host whose rule was removed or whose Ingress was deleted", async () => {
    // A rule removed from an Ingress that keeps others.
    api.put(
      "ingresses",
      ingress("api", { className: CLASS, rules: [{ host: "other.example.test", paths: [{ path: "/", service: "prober", port: 8080 }] }] }),
    );
    await eventuallyUnrouted(HOST_C);
    expect(await answering("other.example.test", "h2c")).toEqual(["pod-f"]);

    // An Ingress deleted: its host has no route, its certificate is no longer
    // served for it, and a call in flight on it finishes normally.
    const inFlight = plainClients(HOST_B).probe.probe({ tag: "in-flight", sleepMs: 600 });
    await vi.waitFor(() => expect(harness.probes.get("in-flight")).toBeDefined());
    api.remove("ingresses", NS, "testing-voice-tts");
    await eventuallyUnrouted(HOST_B);
    expect(["pod-c", "pod-d"]).toContain((await inFlight).pod);
    // A plain HTTP/1.1 Connect unary request naming the host (fetch cannot set Host).
    const response = await postH1(HOST_B, "/greet.v1.GreetService/Greet", toBinary(GreetRequestSchema, create(GreetRequestSchema, { name: "gone" })));
    expect(response.status).toBe(404);
    expect(response.contentType).toBe("application/json");
    expect(JSON.parse(response.body)).toMatchObject({ code: "unimplemented" });
    // Without its Secret the host gets the default certificate (another name), not the old one.
    expect((await served(HOST_B, false)).serial).toBe(asrCert.serial);
    // The other host is untouched.
    expect(await answering(HOST_A)).toEqual(["pod-a", "pod-b"]);
  });

  it("ignores Ingresses of another class, by field or by the legacy annotation", async () => {
    // A Traefik Ingress for its own host, and one claiming an Exact path on
    // our host (Exact would win over our "/" Prefix if it counted).
    api.put(
      "ingresses",
      ingress("traefik-own-host", {
        className: "traefik",
        rules: [{ host: HOST_D, paths: [{ path: "/", service: "testing-voice-tts", port: "grpc" }] }],
      }),
    );
    api.put(
      "ingresses",
      ingress("traefik-by-annotation", {
        legacyClass: "traefik",
        rules: [{ host: HOST_A, paths: [{ path: "/greet.v1.GreetService/Greet", pathType: "Exact", service: "testing-voice-tts", port: "grpc" }] }],
      }),
    );
    api.put(
      "ingresses",
      ingress("field-wins", {
        className: "nginx",
        legacyClass: CLASS,
        rules: [{ host: HOST_A, paths: [{ path: "/greet.v1.GreetService", service: "testing-voice-tts", port: "grpc" }] }],
      }),
    );
    // An Ingress of ours put after them: once it routes, the others have been considered too.
    api.put(
      "ingresses",
      ingress("late", { legacyClass: CLASS, rules: [{ host: HOST_E, paths: [{ path: "/", service: "testing-voice-tts", port: "grpc" }] }] }),
    );
    await eventually(HOST_E, ["pod-c", "pod-d"], "h2c");
    expect((await callError(connectH1Greet(HOST_D).greet({ name: "traefik" }))).code).toBe(Code.Unimplemented);
    expect(await answering(HOST_A)).toEqual(["pod-a", "pod-b"]);
  });

  it("skips a rule whose Service port number the Service does not have, logs the problem, and keeps serving", async () => {
    const problem = `service ${NS}/testing-voice-asr has no TCP port 50002`;
    api.put(
      "ingresses",
      ingress("broken", { className: CLASS, rules: [{ host: HOST_X, paths: [{ path: "/", service: "testing-voice-asr", port: 50002 }] }] }),
    );
    await vi.waitFor(() => {
      const line = harness.logs.find((l) => l.includes("ingress problem") && l.includes(problem));
      expect(line).toBeDefined();
      expect(JSON.parse(line ?? "{}")).toMatchObject({ level: "warn", problem: expect.stringContaining(`ingress ${NS}/broken`) });
    });
    expect((await callError(connectH1Greet(HOST_X).greet({ name: "broken" }))).code).toBe(Code.Unimplemented);
    expect(await answering(HOST_A)).toEqual(["pod-a", "pod-b"]);
    expect(await readyz()).toBe(200);

    // Fixed: the route appears.
    api.put(
      "ingresses",
      ingress("broken", { className: CLASS, rules: [{ host: HOST_X, paths: [{ path: "/", service: "testing-voice-asr", port: 50000 }] }] }),
    );
    await eventually(HOST_X, ["pod-a", "pod-b"], "h2c");
  });

  it("never writes the bearer token or a Secret's key to the logs", () => {
    const logs = harness.logs.join("\n");
    expect(logs).not.toContain(api.token);
    expect(logs).not.toContain(asrCert.keyPem.split("\n")[1]);
  });
});
