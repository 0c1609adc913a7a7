import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeDetailSchema, ProbeRequestSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { closedPort } from "../support/closed-port.ts";
import { allTransports, createTransport, type Harness, startHarness } from "../support/harness.ts";
import { callError, outcomesOf } from "../support/call-error.ts";

type ProbeInit = MessageInitShape<typeof ProbeRequestSchema>;

const tricky = "ünïcödé 100% /?#\n";

function requestBytes(req: ProbeInit): Uint8Array<ArrayBuffer> {
  return new Uint8Array(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, req)));
}

function parseEnvelopes(bytes: Uint8Array): { flags: number; data: Uint8Array }[] {
  const frames = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 0; offset + 5 <= bytes.byteLength; ) {
    const length = view.getUint32(offset + 1);
    frames.push({ flags: view.getUint8(offset), data: bytes.subarray(offset + 5, offset + 5 + length) });
    offset += 5 + length;
  }
  return frames;
}

/** The status in a gRPC-Web body's trailer frame (flag 0x80). */
async function grpcWebStatus(res: Response): Promise<{ status: string | undefined; message: string }> {
  const frames = parseEnvelopes(new Uint8Array(await res.arrayBuffer()));
  const trailer = frames.find((f) => (f.flags & 0x80) === 0x80);
  const text = trailer === undefined ? "" : new TextDecoder().decode(trailer.data);
  const status = /^grpc-status:\s*(\d+)/im.exec(text)?.[1];
  const message = decodeURIComponent(/^grpc-message:\s*(.*)$/im.exec(text)?.[1]?.trim() ?? "");
  return { status, message };
}

/** The error of a Connect streaming body's end-stream message (flag 0x02). */
async function connectEndStreamError(res: Response): Promise<{ code?: string; message?: string } | undefined> {
  const frames = parseEnvelopes(new Uint8Array(await res.arrayBuffer()));
  const end = frames.find((f) => (f.flags & 0x02) === 0x02);
  expect(end, "an end-stream message").toBeDefined();
  return (JSON.parse(new TextDecoder().decode(end?.data)) as { error?: { code?: string; message?: string } }).error;
}

function envelope(flags: number, data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(encodeEnvelope(flags, data));
}

/** A transport that sends every call to another service and method (one no route serves). */
function renamed(transport: Transport, typeName: string, name: string): Transport {
  const rename = <M extends { name: string; parent: { typeName: string } }>(m: M): M =>
    ({ ...m, name, parent: { ...m.parent, typeName } }) as M;
  return {
    unary: (method, ...rest) => transport.unary(rename(method), ...rest),
    stream: (method, ...rest) => transport.stream(rename(method), ...rest),
  };
}


describe("status translation", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  const codes = Array.from({ length: 16 }, (_, i) => i + 1);
  describe.each(allTransports)("over %s", (name) => {
    it.each(codes)("pod code %i arrives with the same code and an intact message", async (code) => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const message = `code ${code}: ${tricky}`;
      const err = await callError(client.probe({ failCode: code, failMessage: message }));
      expect(err.code).toBe(code);
      expect(err.rawMessage).toBe(message);
    });

    it("error details reach the client", async () => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const err = await callError(client.probe({ failCode: Code.FailedPrecondition, failMessage: "x", failDetail: tricky }));
      expect(err.code).toBe(Code.FailedPrecondition);
      const details = err.findDetails(ProbeDetailSchema);
      expect(details).toHaveLength(1);
      expect(details[0]?.text).toBe(tricky);
      expect(details[0]?.pod).toMatch(/^pod-[abc]$/);
    });

    it("a service with no route is Unimplemented", async () => {
      const client = createClient(ProbeService, renamed(createTransport(name, harness.baseUrl), "other.v1.Nope", "Call"));
      expect((await callError(client.probe({}))).code).toBe(Code.Unimplemented);
    });
  });

  function connectUnary(req: ProbeInit, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${harness.baseUrl}/probe.v1.ProbeService/Probe`, {
      method: "POST",
      headers: { "content-type": "application/proto", ...headers },
      body: requestBytes(req),
    });
  }

  it("Connect unary error: HTTP 404 with the JSON error and its details", async () => {
    const res = await connectUnary({ failCode: Code.NotFound, failMessage: tricky, failDetail: "detail text" });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { code: string; message: string; details: { type: string; value: string }[] };
    expect(body).toMatchObject({ code: "not_found", message: tricky, details: [{ type: "probe.v1.ProbeDetail" }] });
    const detail = fromBinary(ProbeDetailSchema, base64Decode(body.details[0]?.value ?? ""));
    expect(detail.text).toBe("detail text");
    expect(detail.pod).toMatch(/^pod-[abc]$/);
  });

  it.each([
    [Code.InvalidArgument, "invalid_argument", 400],
    [Code.Unauthenticated, "unauthenticated", 401],
    [Code.PermissionDenied, "permission_denied", 403],
    [Code.ResourceExhausted, "resource_exhausted", 429],
    [Code.Unimplemented, "unimplemented", 501],
    [Code.Unavailable, "unavailable", 503],
    [Code.DeadlineExceeded, "deadline_exceeded", 504],
    [Code.Internal, "internal", 500],
  ])("Connect unary: pod code %i is %s with HTTP %i", async (code, name, status) => {
    const res = await connectUnary({ failCode: code, failMessage: "m" });
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ code: name, message: "m" });
  });

  it("no route: Connect unary is HTTP 404 with code unimplemented", async () => {
    const res = await fetch(`${harness.baseUrl}/other.v1.Nope/Call`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: new Uint8Array(0),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: "unimplemented" });
  });

  describe("bad requests get clear protocol errors", () => {
    const url = () => `${harness.baseUrl}/probe.v1.ProbeService/Probe`;
    const post = (path: string, headers: Record<string, string>, body: Uint8Array<ArrayBuffer> | string = requestBytes({})) =>
      fetch(`${harness.baseUrl}${path}`, { method: "POST", headers, body });

    it("Connect JSON unary: a field the schema lacks is invalid_argument naming it", async () => {
      const res = await post("/probe.v1.ProbeService/Probe", { "content-type": "application/json" }, '{"nope":1}');
      expect(res.status).toBe(400);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe("invalid_argument");
      expect(body.message).toMatch(/probe\.v1\.ProbeRequest.*nope/);
    });

    it("Connect JSON streaming: a field of the wrong type ends the stream with invalid_argument", async () => {
      const body = envelope(0, new TextEncoder().encode('{"count":"many"}'));
      const res = await post("/probe.v1.ProbeService/ProbeStream", { "content-type": "application/connect+json" }, body);
      expect(res.status).toBe(200);
      expect(await connectEndStreamError(res)).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/count/) });
    });

    it("gRPC-Web JSON: Unimplemented in the trailer frame", async () => {
      const body = envelope(0, new TextEncoder().encode("{}"));
      const res = await post("/probe.v1.ProbeService/Probe", { "content-type": "application/grpc-web+json" }, body);
      expect(res.status).toBe(200);
      const { status, message } = await grpcWebStatus(res);
      expect(status).toBe(String(Code.Unimplemented));
      expect(message).toMatch(/JSON/);
    });

    it("an unknown content type is 415", async () => {
      expect((await post("/probe.v1.ProbeService/Probe", { "content-type": "text/plain" }, "hi")).status).toBe(415);
    });

    it("gRPC over HTTP/1.1 is 505", async () => {
      const res = await post("/probe.v1.ProbeService/Probe", { "content-type": "application/grpc" }, envelope(0, requestBytes({})));
      expect(res.status).toBe(505);
    });

    it("a GET without a message is invalid_argument; one for a method with side effects is 405", async () => {
      const bare = await fetch(url());
      expect(bare.status).toBe(400);
      expect(await bare.json()).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/encoding=json/) });
      const sideEffects = await fetch(`${url()}?connect=v1&encoding=json&message=${encodeURIComponent("{}")}`);
      expect(sideEffects.status).toBe(405);
      expect(await sideEffects.json()).toMatchObject({ code: "unimplemented", message: expect.stringMatching(/NO_SIDE_EFFECTS/) });
    });

    it("a path that is not an RPC is 404", async () => {
      expect((await post("/hello", { "content-type": "application/proto" })).status).toBe(404);
    });

    it("a malformed connect-timeout-ms is invalid_argument", async () => {
      const res = await connectUnary({}, { "connect-timeout-ms": "abc" });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: "invalid_argument" });
    });

    it("a malformed grpc-timeout is InvalidArgument", async () => {
      const res = await post(
        "/probe.v1.ProbeService/Probe",
        { "content-type": "application/grpc-web+proto", "grpc-timeout": "1x" },
        envelope(0, requestBytes({})),
      );
      expect((await grpcWebStatus(res)).status).toBe(String(Code.InvalidArgument));
    });

    it("an unknown content-encoding is unimplemented, naming the supported ones", async () => {
      const res = await connectUnary({}, { "content-encoding": "snappy" });
      expect(res.status).toBe(501);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe("unimplemented");
      expect(body.message).toMatch(/snappy/);
      expect(body.message).toMatch(/identity/);
      expect(body.message).toMatch(/gzip/);
    });

    it("a truncated envelope in a Connect stream ends with invalid_argument, and the gateway keeps serving", async () => {
      const whole = envelope(0, requestBytes({ count: 2, tag: "truncated" }));
      const truncated = new Uint8Array([...whole, 0, 0, 0, 0, 100, 1, 2, 3]);
      const res = await post("/probe.v1.ProbeService/ProbeStream", { "content-type": "application/connect+proto" }, truncated);
      expect(res.status).toBe(200);
      expect(await connectEndStreamError(res)).toMatchObject({ code: "invalid_argument" });
      const client = createClient(ProbeService, createTransport("connect-h1", harness.baseUrl));
      expect((await client.probe({ payload: new Uint8Array([1]) })).payload).toEqual(new Uint8Array([1]));
    });
  });
});

describe("unreachable endpoints", () => {
  it.each(allTransports)("with no reachable endpoint, %s gets Unavailable without pod addresses", async (name) => {
    const port = await closedPort();
    const harness = await startHarness({ pods: 0, extraEndpoints: [`127.0.0.1:${port}`] });
    try {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const err = await callError(client.probe({}));
      expect(err.code).toBe(Code.Unavailable);
      expect(err.message).not.toContain("127.0.0.1");
      expect(err.message).not.toContain(String(port));
    } finally {
      await harness.close();
    }
  });

  it("Connect JSON and GET, whose schema must come from a pod, are Unavailable (HTTP 503) too, not Unimplemented", async () => {
    const port = await closedPort();
    const harness = await startHarness({ pods: 0, extraEndpoints: [`127.0.0.1:${port}`] });
    try {
      const url = `${harness.baseUrl}/probe.v1.ProbeService/Probe`;
      const post = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      const get = await fetch(`${harness.baseUrl}/greet.v1.GreetService/Greet?connect=v1&encoding=json&message=%7B%7D`);
      for (const res of [post, get]) {
        expect(res.status).toBe(503);
        const body = (await res.json()) as { code: string; message: string };
        expect(body.code).toBe("unavailable");
        expect(body.message).toContain("asking a pod for reflection failed: upstream unavailable: connection refused");
        expect(body.message).not.toContain(String(port));
      }
    } finally {
      await harness.close();
    }
  });

  it.each(["grpc", "connect-h1"] as const)("one refusing endpoint among three over %s: no failure, every pod served", async (name) => {
    const port = await closedPort();
    const harness = await startHarness({ extraEndpoints: [`127.0.0.1:${port}`] });
    try {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const outcomes = await outcomesOf(40, async () => (await client.probe({})).pod);
      // The call round robin sends to the closed port never reached a pod: it is sent to another (retries.test.ts).
      expect(outcomes.filter((o) => o instanceof ConnectError)).toEqual([]);
      expect(new Set(outcomes)).toEqual(new Set(["pod-a", "pod-b", "pod-c"]));
    } finally {
      await harness.close();
    }
  });
});
