import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import {
  createGrpcJsClient,
  type GenericGrpcClient,
  grpcAddress,
  grpcJsBidi,
  grpcJsClientStream,
  grpcJsServerStream,
  grpcJsUnary,
  readGrpcJsStream,
} from "../support/grpc-js-client.ts";
import { type Harness, startHarness } from "../support/harness.ts";

// @grpc/grpc-js is the reference native gRPC client: whatever it sends
// through the gateway must come back exactly as a gRPC server would answer.
describe("@grpc/grpc-js through the gateway", () => {
  let harness: Harness;
  let greet: GenericGrpcClient;
  let probe: GenericGrpcClient;
  beforeAll(async () => {
    harness = await startHarness();
    greet = createGrpcJsClient(GreetService, grpcAddress(harness.baseUrl));
    probe = createGrpcJsClient(ProbeService, grpcAddress(harness.baseUrl));
  });
  afterAll(async () => {
    greet?.close();
    probe?.close();
    await harness?.close();
  });

  it("balances 30 unary calls over one channel evenly over the three pods", async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const { response, error } = await grpcJsUnary(greet, GreetService.method.greet, { name: `call ${i}` });
      expect(error).toBeUndefined();
      expect(response?.greeting).toBe(`Hello, call ${i}!`);
      counts.set(response?.pod ?? "", (counts.get(response?.pod ?? "") ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ "pod-a": 10, "pod-b": 10, "pod-c": 10 });
  });

  it("receives every message of a server stream, from one pod, then OK", async () => {
    const call = grpcJsServerStream(greet, GreetService.method.greetStream, { name: "stream", count: 3 });
    const { messages, status, error } = await readGrpcJsStream(call);
    expect(error).toBeUndefined();
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.map((m) => m.greeting)).toEqual([
      "Hello, stream! (1/3)",
      "Hello, stream! (2/3)",
      "Hello, stream! (3/3)",
    ]);
    expect(new Set(messages.map((m) => m.pod)).size).toBe(1);
  });

  it("sends a client stream and gets one answer counting it", async () => {
    const { call, outcome } = grpcJsClientStream(greet, GreetService.method.greetMany);
    for (const name of ["a", "b", "c", "d"]) {
      call.write({ name });
    }
    call.end();
    const { response, error, status } = await outcome;
    expect(error).toBeUndefined();
    expect(status.code).toBe(grpc.status.OK);
    expect(response?.count).toBe(4);
    expect(response?.greeting).toBe("Hello, a, b, c, d!");
  });

  it("ping-pongs a bidi stream message by message", async () => {
    const call = grpcJsBidi(probe, ProbeService.method.probeBidi);
    const reader = call[Symbol.asyncIterator]();
    const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    const indexes: number[] = [];
    for (let i = 0; i < 3; i++) {
      // The next request goes out only after the previous answer came back.
      call.write({ tag: i === 0 ? "grpcjs-bidi" : "", payload: new Uint8Array([i]) });
      const next = await reader.next();
      expect(next.done).toBe(false);
      indexes.push((next.value as { index: number }).index);
    }
    call.end();
    expect((await reader.next()).done).toBe(true);
    expect(indexes).toEqual([0, 1, 2]);
    expect((await status).code).toBe(grpc.status.OK);
    expect(harness.probes.get("grpcjs-bidi")?.received).toBe(3);
  });

  it("gets a pod's error with its code and message", async () => {
    const { error, status } = await grpcJsUnary(probe, ProbeService.method.probe, {
      failCode: grpc.status.NOT_FOUND,
      failMessage: "no such thing here",
    });
    expect(error?.code).toBe(grpc.status.NOT_FOUND);
    expect(error?.details).toBe("no such thing here");
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(status.details).toBe("no such thing here");
  });

  it("carries request metadata (text and -bin) to the pod, and headers and trailers back", async () => {
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80]);
    const metadata = new grpc.Metadata();
    metadata.set("x-request-id", "req-42");
    metadata.set("x-blob-bin", binary);
    const { response, error, header, status } = await grpcJsUnary(
      probe,
      ProbeService.method.probe,
      { tag: "grpcjs-metadata", responseHeaders: { "x-answer": "header-value" }, responseTrailers: { "x-done": "trailer-value" } },
      metadata,
    );
    expect(error).toBeUndefined();
    const seen = harness.probes.get("grpcjs-metadata")?.headers;
    expect(seen?.get("x-request-id")).toBe("req-42");
    const bin = seen?.get("x-blob-bin");
    expect(bin).toBeTypeOf("string");
    expect(Buffer.from(bin ?? "", "base64")).toEqual(binary);
    expect(response?.requestHeaders["x-request-id"]).toBe("req-42");
    expect(header.get("x-answer")).toEqual(["header-value"]);
    expect(status.metadata.get("x-done")).toEqual(["trailer-value"]);
  });

  it("ends a call past its deadline with DEADLINE_EXCEEDED", async () => {
    const { error, status } = await grpcJsUnary(
      probe,
      ProbeService.method.probe,
      { sleepMs: 2_000 },
      new grpc.Metadata(),
      { deadline: Date.now() + 200 },
    );
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it("works with gzip message compression (grpc.default_compression_algorithm)", async () => {
    const client = createGrpcJsClient(ProbeService, grpcAddress(harness.baseUrl), {
      "grpc.default_compression_algorithm": 2, // gzip
    });
    try {
      // 64 KiB of hex digits: random, yet compressible.
      const payload = new Uint8Array(Buffer.from(randomBytes(32 * 1024).toString("hex")));
      // More calls than pods, so both first contact and the learned encodings are exercised.
      for (let i = 0; i < 4; i++) {
        const { response, error } = await grpcJsUnary(client, ProbeService.method.probe, { payload });
        expect(error).toBeUndefined();
        expect(Buffer.from(response?.payload ?? new Uint8Array()).equals(Buffer.from(payload))).toBe(true);
      }
      const stream = grpcJsServerStream(client, ProbeService.method.probeStream, { count: 3, payloadSize: 65_536 });
      const { messages, status } = await readGrpcJsStream(stream);
      expect(status.code).toBe(grpc.status.OK);
      expect(messages.map((m) => m.payload.byteLength)).toEqual([65_536, 65_536, 65_536]);
      expect(messages.every((m) => m.payload.every((b) => b === 0x61))).toBe(true);
    } finally {
      client.close();
    }
  });
});
