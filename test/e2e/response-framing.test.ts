import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeRequestSchema, ProbeResponseSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { createGrpcJsClient, grpcJsServerStream, grpcJsUnary, readGrpcJsStream } from "../support/grpc-js-client.ts";
import { type Harness, startHarness } from "../support/harness.ts";
import { type ListeningH2c, listenH2c } from "../support/listen-h2c.ts";
import { Flags, FrameType, grpcEnvelope, rawGrpcCall } from "../support/raw-h2.ts";

// Issue 14: what a gRPC client sees frame by frame. gRPC servers (grpc-go,
// grpc-java, grpc-js, Python, C++) answer errors as Trailers-Only: ONE
// HEADERS frame with END_STREAM. Passed on as HEADERS + an empty DATA frame
// with END_STREAM, grpc-go reads "server closed the stream without sending
// trailers" and grpc-js "Call ended without gRPC status" (INTERNAL both).
// And a pod that sends its headers at once and its first message later must
// have them reach the client at once.
//
// The pod here is a raw node:http2 server that frames its answers as grpc-go
// does (`respond(…, { endStream: true })` for an error, headers flushed before
// a slow first message), so the test pins the wire, not a library's habits.

const SLOW_FIRST_MESSAGE_MS = 600;

function grpcGoLikePod(): http2.Http2Server {
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    stream.resume();
    const mode = headers["x-mode"];
    stream.once("end", () => {
      if (mode === "trailers-only") {
        stream.respond(
          { ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "no%20such%20thing" },
          { endStream: true },
        );
        return;
      }
      // Headers now, the first message later (grpc-go's SendHeader, then a slow stream).
      stream.respond({ ":status": 200, "content-type": "application/grpc", "x-sent": "at-once" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      setTimeout(() => {
        const message = toBinary(ProbeResponseSchema, create(ProbeResponseSchema, { pod: "grpc-go-like", index: 0 }));
        stream.end(grpcEnvelope(message));
      }, SLOW_FIRST_MESSAGE_MS);
    });
  });
  return server;
}

describe("response framing towards gRPC clients", () => {
  let pod: ListeningH2c;
  let harness: Harness;
  let port: number;

  beforeAll(async () => {
    pod = await listenH2c(grpcGoLikePod());
    harness = await startHarness({ pods: 0, extraEndpoints: [pod.address] });
    port = harness.gateway.listeners[0]?.port ?? 0;
  });

  afterAll(async () => {
    await harness?.close();
    await pod?.close();
  });

  const rawCall = (path: string, headers: Record<string, string> = {}) =>
    rawGrpcCall(`127.0.0.1:${port}`, path, toBinary(ProbeRequestSchema, create(ProbeRequestSchema, {})), headers);

  it("a pod's Trailers-Only error leaves as ONE HEADERS frame with END_STREAM, no DATA", async () => {
    const { frames } = await rawCall("/probe.v1.ProbeService/Probe", { "x-mode": "trailers-only" });
    expect(frames.map((f) => [f.type, f.flags])).toEqual([[FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM]]);
  });

  it("the gateway's own error (no route) is Trailers-Only too", async () => {
    const { frames } = await rawCall("/no.such.v1.Service/Method");
    expect(frames.map((f) => [f.type, f.flags])).toEqual([[FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM]]);
  });

  it("grpc-js reads the pod's Trailers-Only error as the pod's status, not INTERNAL", async () => {
    const client = createGrpcJsClient(ProbeService, `127.0.0.1:${port}`);
    try {
      const metadata = new grpc.Metadata();
      metadata.set("x-mode", "trailers-only");
      const outcome = await grpcJsUnary(client, ProbeService.method.probe, {}, metadata);
      expect(outcome.status.code).toBe(grpc.status.NOT_FOUND);
      expect(outcome.status.details).toBe("no such thing");
    } finally {
      client.close();
    }
  });

  it("response headers reach the client when the pod sends them, before a slow first message", async () => {
    const { frames, at } = await rawCall("/probe.v1.ProbeService/Probe", { "x-mode": "slow" });
    expect(frames.map((f) => f.type)).toEqual([FrameType.HEADERS, FrameType.DATA, FrameType.HEADERS]);
    expect(frames[0]?.flags).toBe(Flags.END_HEADERS);
    expect(frames[2]?.flags).toBe(Flags.END_HEADERS | Flags.END_STREAM);
    const [headersAt = 0, dataAt = 0] = at;
    // The headers came long before the message the pod held back.
    expect(headersAt).toBeLessThan(SLOW_FIRST_MESSAGE_MS / 2);
    expect(dataAt - headersAt).toBeGreaterThanOrEqual(SLOW_FIRST_MESSAGE_MS / 2);
  });

  it("grpc-js sees the response headers ('metadata') before the first message of a slow stream", async () => {
    const client = createGrpcJsClient(ProbeService, `127.0.0.1:${port}`);
    try {
      const metadata = new grpc.Metadata();
      metadata.set("x-mode", "slow");
      const call = grpcJsServerStream(client, ProbeService.method.probeStream, {}, metadata);
      const started = Date.now();
      const header = new Promise<{ at: number; metadata: grpc.Metadata }>((resolve) =>
        call.once("metadata", (metadata: grpc.Metadata) => resolve({ at: Date.now() - started, metadata })),
      );
      const outcome = await readGrpcJsStream(call);
      expect(outcome.status.code).toBe(grpc.status.OK);
      expect(outcome.messages.map((m) => m.pod)).toEqual(["grpc-go-like"]);
      const { at, metadata: received } = await header;
      expect(received.get("x-sent")).toEqual(["at-once"]);
      expect(at).toBeLessThan(SLOW_FIRST_MESSAGE_MS / 2);
    } finally {
      client.close();
    }
  });
});
