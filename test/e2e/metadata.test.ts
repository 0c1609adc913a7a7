import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, decodeBinaryHeader, encodeBinaryHeader } from "@connectrpc/connect";
import * as http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeRequestSchema, ProbeResponseSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { allTransports, createTransport, type Harness, startHarness } from "../support/harness.ts";
import { callError } from "../support/call-error.ts";

type ProbeInit = MessageInitShape<typeof ProbeRequestSchema>;

const binary = new Uint8Array([0, 1, 2, 0xfe, 0xff]);

/** What a call's onHeader / onTrailer options saw. */
function capture() {
  const seen = { header: new Headers(), trailer: new Headers() };
  return {
    seen,
    options: {
      onHeader: (h: Headers) => h.forEach((v, k) => seen.header.append(k, v)),
      onTrailer: (t: Headers) => t.forEach((v, k) => seen.trailer.append(k, v)),
    },
  };
}


describe("metadata", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  function connectUnary(req: ProbeInit): Promise<Response> {
    return fetch(`${harness.baseUrl}/probe.v1.ProbeService/Probe`, {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
      body: toBinary(ProbeRequestSchema, create(ProbeRequestSchema, req)),
    });
  }

  describe.each(allTransports)("over %s", (name) => {
    const client = () => createClient(ProbeService, createTransport(name, harness.baseUrl));

    it("request metadata reaches the pod: ASCII, -bin and repeated values", async () => {
      const headers = new Headers();
      headers.set("x-ascii", "plain value");
      headers.set("x-blob-bin", encodeBinaryHeader(binary));
      headers.append("x-multi", "one");
      headers.append("x-multi", "two");
      const res = await client().probe({ tag: `req-md-${name}` }, { headers });
      expect(res.requestHeaders["x-ascii"]).toBe("plain value");
      expect(decodeBinaryHeader(res.requestHeaders["x-blob-bin"] ?? "")).toEqual(binary);
      expect(res.requestHeaders["x-multi"]).toBe("one, two");
      expect(harness.probes.get(`req-md-${name}`)?.headers.get("x-ascii")).toBe("plain value");
    });

    it("the pod sees native gRPC headers, not the client's protocol or hop headers", async () => {
      const res = await client().probe({ payload: new Uint8Array(64) }, { timeoutMs: 30_000 });
      const seen = res.requestHeaders;
      expect(seen["content-type"]).toBe("application/grpc");
      expect(seen.te).toBe("trailers");
      expect(seen["grpc-timeout"]).toMatch(/^\d+[mSMH]$/);
      for (const absent of ["connect-protocol-version", "connect-timeout-ms", "content-length", "x-grpc-web"]) {
        expect(seen, `pod must not see ${absent}`).not.toHaveProperty(absent);
      }
    });

    it("response headers and trailers reach the client (unary)", async () => {
      const { seen, options } = capture();
      await client().probe(
        { responseHeaders: { "x-head": "h-value" }, responseTrailers: { "x-tail": "t-value" } },
        options,
      );
      expect(seen.header.get("x-head")).toBe("h-value");
      expect(seen.trailer.get("x-tail")).toBe("t-value");
    });

    it("response headers and trailers reach the client (server stream)", async () => {
      const { seen, options } = capture();
      const indexes = [];
      const stream = client().probeStream(
        { count: 2, responseHeaders: { "x-head": "h-stream" }, responseTrailers: { "x-tail": "t-stream" } },
        options,
      );
      for await (const res of stream) {
        indexes.push(res.index);
      }
      expect(indexes).toEqual([0, 1]);
      expect(seen.header.get("x-head")).toBe("h-stream");
      expect(seen.trailer.get("x-tail")).toBe("t-stream");
    });

    it("a -bin response trailer round-trips", async () => {
      const { seen, options } = capture();
      await client().probe({ responseTrailers: { "x-tail-bin": encodeBinaryHeader(binary) } }, options);
      expect(decodeBinaryHeader(seen.trailer.get("x-tail-bin") ?? "")).toEqual(binary);
    });

    it("headers and trailers of an error response are delivered", async () => {
      const err = await callError(
        client().probe({
          failCode: Code.Aborted,
          failMessage: "nope",
          responseHeaders: { "x-head": "h-error" },
          responseTrailers: { "x-tail": "t-error" },
        }),
      );
      expect(err.code).toBe(Code.Aborted);
      expect(err.metadata.get("x-head")).toBe("h-error");
      expect(err.metadata.get("x-tail")).toBe("t-error");
    });
  });

  describe("Connect unary on the wire", () => {
    it("content-length, connect-protocol-version and the timeout stay on the client's hop", async () => {
      const res = await fetch(`${harness.baseUrl}/probe.v1.ProbeService/Probe`, {
        method: "POST",
        headers: { "content-type": "application/proto", "connect-protocol-version": "1", "connect-timeout-ms": "20000" },
        body: toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { payload: new Uint8Array(10) })),
      });
      expect(res.status).toBe(200);
      const seen = fromBinary(ProbeResponseSchema, new Uint8Array(await res.arrayBuffer())).requestHeaders;
      expect(seen).toMatchObject({ "content-type": "application/grpc", te: "trailers" });
      expect(seen["grpc-timeout"]).toMatch(/^\d+m$/);
      for (const absent of ["content-length", "connect-protocol-version", "connect-timeout-ms", "host", "connection"]) {
        expect(seen, `pod must not see ${absent}`).not.toHaveProperty(absent);
      }
    });

    it("headers the client's Connection header names stay on its hop too (HTTP/1.1)", async () => {
      const body = toBinary(ProbeRequestSchema, create(ProbeRequestSchema, {}));
      const answer = await new Promise<{ status: number; body: Uint8Array }>((resolve, reject) => {
        const req = http.request(
          `${harness.baseUrl}/probe.v1.ProbeService/Probe`,
          {
            method: "POST",
            headers: {
              "content-type": "application/proto",
              connection: "keep-alive, x-hop-secret",
              "x-hop-secret": "for the gateway only",
              "x-end-to-end": "for the pod",
            },
            agent: false,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
      expect(answer.status).toBe(200);
      const seen = fromBinary(ProbeResponseSchema, answer.body).requestHeaders;
      expect(seen["x-end-to-end"]).toBe("for the pod");
      expect(seen).not.toHaveProperty("x-hop-secret");
    });

    it("trailers arrive as trailer- headers", async () => {
      const res = await connectUnary({ responseHeaders: { "x-head": "h" }, responseTrailers: { "x-tail": "t" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-head")).toBe("h");
      expect(res.headers.get("trailer-x-tail")).toBe("t");
      expect(res.headers.get("x-tail")).toBeNull();
    });

    it("a -bin trailer arrives as a base64 trailer- header", async () => {
      const res = await connectUnary({ responseTrailers: { "x-tail-bin": encodeBinaryHeader(binary) } });
      expect(decodeBinaryHeader(res.headers.get("trailer-x-tail-bin") ?? "")).toEqual(binary);
    });

    it("an error response carries the trailers as trailer- headers, and the headers", async () => {
      const res = await connectUnary({
        failCode: Code.NotFound,
        failMessage: "gone",
        responseHeaders: { "x-head": "h-err" },
        responseTrailers: { "x-tail": "t-err" },
      });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ code: "not_found", message: "gone" });
      expect(res.headers.get("trailer-x-tail")).toBe("t-err");
      // A pod that fails before its first message may answer trailers-only, where
      // headers and trailers are one block: either placement delivers the header.
      expect(res.headers.get("x-head") ?? res.headers.get("trailer-x-head")).toBe("h-err");
      expect(res.headers.get("grpc-status")).toBeNull();
      expect(res.headers.get("trailer-grpc-status")).toBeNull();
    });
  });
});
