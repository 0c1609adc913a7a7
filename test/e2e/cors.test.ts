import * as http from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, cors, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GreetRequestSchema, GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeRequestSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError } from "../support/call-error.ts";
import { type FakeDnsServer, startFakeDnsServer } from "../support/fake-dns-server.ts";
import { type Harness, startHarness } from "../support/harness.ts";

// CORS as a browser on another origin meets it, over real HTTP: preflights
// answered by the gateway, and every answer to an allowed origin (errors the
// gateway raises itself included) readable by the page. `fetch` and node:http
// stand in for the browser's network stack here (they send Origin as given and
// show every response header); a real browser comes later.

const APP = "https://app.example.test";
const CORS = {
  allowedOrigins: [APP, "https://*.example.org"],
  allowedHeaders: ["x-tenant"],
  exposedHeaders: ["x-request-id"],
  maxAgeSeconds: 600,
};
/** A backend whose DNS name exists without records: no endpoints. */
const DOWN_HOST = "down.example.test";
/** A route without cors. */
const PLAIN_HOST = "plain.example.test";
const EMPTY_NAME = "greet-headless.down.svc.cluster.local";

const GREET = "/greet.v1.GreetService/Greet";
const PROBE = "/probe.v1.ProbeService/Probe";

const greetBytes = (name: string) => toBinary(GreetRequestSchema, create(GreetRequestSchema, { name }));

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

interface RequestSpec {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array<ArrayBuffer>;
  /** The Host to name; fetch cannot set it, so such requests go through node:http. */
  readonly host?: string;
}

/** Every `access-control-*` header of an answer (none means the browser blocks the page from reading it). */
function accessControl(headers: Headers): Record<string, string> {
  return Object.fromEntries([...headers].filter(([name]) => name.startsWith("access-control-")));
}

/** A comma-separated header as a lower-case list. */
function list(headers: Headers, name: string): string[] {
  return (headers.get(name) ?? "")
    .split(",")
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== "");
}

describe("CORS for browsers on other origins", () => {
  let dns: FakeDnsServer;
  let harness: Harness;
  let port: number;

  async function send(spec: RequestSpec): Promise<Answer> {
    const method = spec.method ?? "POST";
    const headers = spec.headers ?? {};
    if (spec.host === undefined) {
      const res = await fetch(`${harness.baseUrl}${spec.path}`, {
        method,
        headers,
        ...(spec.body === undefined ? {} : { body: spec.body }),
        signal: AbortSignal.timeout(5_000),
      });
      return { status: res.status, headers: res.headers, body: await res.text() };
    }
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, method, path: spec.path, headers: { ...headers, host: `${spec.host}:${port}` }, timeout: 5_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const out = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              for (const v of Array.isArray(value) ? value : [value ?? ""]) out.append(name, v);
            }
            resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks).toString() });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer to ${method} ${spec.path} within 5 s`)));
      req.on("error", reject);
      req.end(spec.body === undefined ? undefined : Buffer.from(spec.body));
    });
  }

  const preflight = (origin: string, extra: Partial<RequestSpec> = {}) =>
    send({
      method: "OPTIONS",
      path: GREET,
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version,x-tenant",
      },
      ...extra,
    });

  const connectUnary = (origin: string, extra: Partial<RequestSpec> = {}) =>
    send({
      path: GREET,
      headers: { origin, "content-type": "application/proto", "connect-protocol-version": "1", ...extra.headers },
      body: greetBytes("browser"),
      ...(extra.host === undefined ? {} : { host: extra.host }),
      ...(extra.path === undefined ? {} : { path: extra.path }),
    });

  /** What every answer to an allowed origin must carry, whatever its status. */
  function expectReadable(answer: Answer, origin: string): void {
    expect(answer.headers.get("access-control-allow-origin")).toBe(origin);
    expect(list(answer.headers, "access-control-expose-headers")).toEqual(
      expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"]),
    );
    expect(list(answer.headers, "vary")).toContain("origin");
  }

  beforeAll(async () => {
    dns = await startFakeDnsServer();
    dns.setRecords(EMPTY_NAME, []);
    harness = await startHarness({
      pods: 2,
      config: (pods) => ({
        routes: [
          { hosts: [DOWN_HOST], backend: "down", cors: CORS },
          { hosts: [PLAIN_HOST], backend: "pods" },
          { services: ["greet.v1.GreetService", "probe.v1.ProbeService"], backend: "pods", cors: CORS },
        ],
        backends: [
          { name: "pods", discovery: { static: { endpoints: pods.map((p) => `${p.address.host}:${p.address.port}`) } } },
          { name: "down", discovery: { dns: { host: EMPTY_NAME, port: 50051, refreshSeconds: 1, servers: [dns.address] } } },
        ],
      }),
    });
    port = harness.gateway.listeners[0]?.port ?? 0;
    // The "down" backend has looked its name up (and found no addresses).
    await vi.waitFor(() => expect(dns.queries.some((q) => q.name === EMPTY_NAME)).toBe(true));
  });
  afterAll(async () => {
    await harness?.close();
    await dns?.close();
  });

  describe("preflight", () => {
    it("answers 204 for an allowed origin: the origin echoed, POST and GET, connect-es's headers and the route's, max-age", async () => {
      const answer = await preflight(APP);
      expect(answer.status).toBe(204);
      expect(answer.body).toBe("");
      expect(answer.headers.get("access-control-allow-origin")).toBe(APP);
      expect(list(answer.headers, "access-control-allow-methods")).toEqual(expect.arrayContaining(["post", "get"]));
      expect(list(answer.headers, "access-control-allow-headers")).toEqual(
        expect.arrayContaining([...cors.allowedHeaders.map((h) => h.toLowerCase()), "x-tenant"]),
      );
      expect(answer.headers.get("access-control-max-age")).toBe("600");
      expect(list(answer.headers, "vary")).toContain("origin");
    });

    it("allows any subdomain of a wildcard origin on its scheme, and a gRPC-Web preflight", async () => {
      for (const origin of ["https://shop.example.org", "https://eu.shop.example.org"]) {
        const answer = await preflight(origin, {
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-grpc-web,x-user-agent,grpc-timeout",
          },
        });
        expect(answer.status).toBe(204);
        expect(answer.headers.get("access-control-allow-origin")).toBe(origin);
        expect(list(answer.headers, "access-control-allow-headers")).toEqual(
          expect.arrayContaining(["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"]),
        );
      }
    });

    it.each([
      "https://evil.test",
      "https://example.org",
      "http://app.example.test",
      "https://app.example.test:8443",
      "https://app.example.test.evil.test",
      "https://evilexample.org",
      "http://shop.example.org",
      "null",
    ])("gives a disallowed origin (%s) no access-control-* headers", async (origin) => {
      const answer = await preflight(origin);
      expect(accessControl(answer.headers)).toEqual({});
    });

    it("gives a route without cors no access-control-* headers, even for an allowed origin", async () => {
      const answer = await preflight(APP, { host: PLAIN_HOST });
      expect(accessControl(answer.headers)).toEqual({});
    });
  });

  describe("actual calls", () => {
    it("decorates a Connect unary POST (binary) from an allowed origin", async () => {
      const answer = await connectUnary(APP, { headers: { "x-tenant": "acme" } });
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("application/proto");
      expectReadable(answer, APP);
    });

    it("decorates a gRPC-Web POST from an allowed origin, trailers in the body", async () => {
      const message = greetBytes("grpc-web");
      const frame = new Uint8Array(5 + message.byteLength);
      new DataView(frame.buffer).setUint32(1, message.byteLength);
      frame.set(message, 5);
      const origin = "https://shop.example.org";
      const answer = await send({
        path: GREET,
        headers: { origin, "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "x-user-agent": "grpc-web-javascript/0.1" },
        body: frame,
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toMatch(/^application\/grpc-web/);
      expect(answer.body).toMatch(/grpc-status: ?0\r\n/);
      expectReadable(answer, origin);
    });

    it.each(["https://evil.test", "https://example.org", "http://app.example.test"])(
      "answers a disallowed origin (%s) without access-control-* headers (the browser then hides the answer)",
      async (origin) => {
        const answer = await connectUnary(origin);
        expect(answer.status).toBe(200);
        expect(accessControl(answer.headers)).toEqual({});
      },
    );

    it("gives a call without an Origin (not a browser's cross-origin call) no access-control-* headers", async () => {
      const answer = await send({
        path: GREET,
        headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
        body: greetBytes("same-origin"),
      });
      expect(answer.status).toBe(200);
      expect(accessControl(answer.headers)).toEqual({});
    });

    it("gives calls on a route without cors no access-control-* headers", async () => {
      const answer = await connectUnary(APP, { host: PLAIN_HOST });
      expect(answer.status).toBe(200);
      expect(accessControl(answer.headers)).toEqual({});
    });
  });

  // The gateway, not the pod, decides who may read an answer on a cors
  // route: a pod behind it that adds CORS headers of its own (a connect-go
  // server with CORS middleware, say, seeing the forwarded Origin) must not
  // open the route to an origin the policy refuses, nor add credentials.
  it("passes on no access-control-* headers a pod sends: the route's policy alone decides", async () => {
    const podCors = (origin: string) =>
      send({
        path: PROBE,
        headers: { origin, "content-type": "application/proto", "connect-protocol-version": "1" },
        body: toBinary(
          ProbeRequestSchema,
          create(ProbeRequestSchema, {
            responseHeaders: { "access-control-allow-origin": "*", "access-control-allow-credentials": "true" },
          }),
        ),
      });
    const denied = await podCors("https://evil.test");
    expect(denied.status).toBe(200);
    expect(accessControl(denied.headers)).toEqual({});
    const allowed = await podCors(APP);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(APP);
    expect(allowed.headers.has("access-control-allow-credentials")).toBe(false);
  });

  // A browser shows a page nothing of an answer without CORS headers, not
  // even its status: errors must carry them, or every failure looks like a
  // network error.
  describe("errors carry the headers too", () => {
    it("an unsupported content type (415)", async () => {
      const answer = await send({ path: GREET, headers: { origin: APP, "content-type": "text/plain" }, body: greetBytes("x") });
      expect(answer.status).toBe(415);
      expectReadable(answer, APP);
    });

    it("a deadline exceeded at the gateway", async () => {
      const answer = await send({
        path: PROBE,
        headers: { origin: APP, "content-type": "application/proto", "connect-protocol-version": "1", "connect-timeout-ms": "100" },
        body: toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { tag: "cors-deadline", sleepMs: 2_000 })),
      });
      expect(answer.status).toBe(504);
      expect(JSON.parse(answer.body)).toMatchObject({ code: "deadline_exceeded" });
      expectReadable(answer, APP);
    });

    it("a backend without endpoints (unavailable)", async () => {
      const answer = await connectUnary(APP, { host: DOWN_HOST });
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ code: "unavailable", message: 'no endpoints available for backend "down"' });
      expectReadable(answer, APP);
    });

    it("an unknown method on the cors route (unimplemented, from the pod)", async () => {
      const answer = await connectUnary(APP, { path: "/greet.v1.GreetService/Nope" });
      expect(answer.status).toBe(501);
      expect(JSON.parse(answer.body)).toMatchObject({ code: "unimplemented" });
      expectReadable(answer, APP);
    });

    it("an error from the pod, and no headers for a disallowed origin's error", async () => {
      const failing = (origin: string) =>
        send({
          path: PROBE,
          headers: { origin, "content-type": "application/proto", "connect-protocol-version": "1" },
          body: toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { failCode: Code.PermissionDenied, failMessage: "no" })),
        });
      const allowed = await failing(APP);
      expect(allowed.status).toBe(403);
      expectReadable(allowed, APP);
      const denied = await failing("https://evil.test");
      expect(denied.status).toBe(403);
      expect(accessControl(denied.headers)).toEqual({});
    });
  });

  // connect-es in Node sends no Origin of its own; an interceptor sets it as
  // a browser would, and the client reads the headers the browser would check.
  describe("through connect-es clients", () => {
    const withOrigin =
      (origin: string): Interceptor =>
      (next) =>
      (req) => {
        req.header.set("origin", origin);
        return next(req);
      };

    it("a Connect client (HTTP/1.1) sees the CORS headers and the exposed x-request-id on success", async () => {
      const transport = createConnectTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1", interceptors: [withOrigin(APP)] });
      const client = createClient(ProbeService, transport);
      let header: Headers | undefined;
      const response = await client.probe(
        { tag: "cors-connect", responseHeaders: { "x-request-id": "req-42" } },
        { onHeader: (h) => (header = h), headers: { "x-tenant": "acme" } },
      );
      expect(harness.probes.get("cors-connect")?.headers.get("x-tenant")).toBe("acme");
      expect(response.pod).toMatch(/^pod-/);
      expect(header?.get("x-request-id")).toBe("req-42");
      expect(header?.get("access-control-allow-origin")).toBe(APP);
      expect(list(header ?? new Headers(), "access-control-expose-headers")).toEqual(expect.arrayContaining(["x-request-id", "grpc-status"]));
    });

    it("a gRPC-Web client sees them too", async () => {
      const origin = "https://shop.example.org";
      const transport = createGrpcWebTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1", interceptors: [withOrigin(origin)] });
      let header: Headers | undefined;
      await createClient(GreetService, transport).greet({ name: "web" }, { onHeader: (h) => (header = h) });
      expect(header?.get("access-control-allow-origin")).toBe(origin);
      expect(list(header ?? new Headers(), "vary")).toContain("origin");
    });

    it("a Connect client's error carries them in its metadata", async () => {
      const transport = createConnectTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1", interceptors: [withOrigin(APP)] });
      const error = await callError(
        createClient(ProbeService, transport).probe({ failCode: Code.ResourceExhausted, failMessage: "quota" }),
      );
      expect(error).toBeInstanceOf(ConnectError);
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(error.rawMessage).toBe("quota");
      expect(error.metadata.get("access-control-allow-origin")).toBe(APP);
    });
  });
});
