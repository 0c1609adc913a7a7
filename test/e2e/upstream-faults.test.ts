import * as http2 from "node:http2";
import { Code, createClient } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { denoGaps, unlessOnDeno } from "../support/deno-gaps.ts";
import { callError } from "../support/call-error.ts";
import { listenH2c } from "../support/listen-h2c.ts";
import { allTransports, createTransport, type Harness, startHarness } from "../support/harness.ts";

/**
 * A pod that misbehaves on request, chosen by the `x-fault` header: the
 * gateway must turn every non-gRPC or broken answer into a status the client
 * can act on (gRPC over HTTP/2, "HTTP to gRPC status code mapping").
 */
async function faultyPod() {
  let streams = 0;
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    streams++;
    stream.on("error", () => {});
    const fault = String(headers["x-fault"] ?? "");
    const status = /^http-(\d+)$/.exec(fault)?.[1];
    if (status !== undefined) {
      stream.respond({ ":status": Number(status), "content-type": "text/plain" });
      stream.end("not grpc");
      return;
    }
    switch (fault) {
      case "html":
        stream.respond({ ":status": 200, "content-type": "text/html" });
        stream.end("<html></html>");
        return;
      case "no-status":
        stream.respond({ ":status": 200, "content-type": "application/grpc" });
        stream.end(encodeEnvelope(0, new Uint8Array(0)));
        return;
      case "drop-connection":
        // Headers and a message, then the connection is gone before any trailers.
        stream.respond({ ":status": 200, "content-type": "application/grpc" });
        stream.write(encodeEnvelope(0, new Uint8Array(0)), () => stream.session?.destroy());
        return;
      case "refuse":
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      case "goaway":
        // Answers, then tells the gateway to open a new connection for what follows.
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(encodeEnvelope(0, new Uint8Array(0)));
        stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR);
        return;
      default:
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "0" }, { endStream: true });
    }
  });
  const listening = await listenH2c(server);
  return { port: listening.port, streams: () => streams, sessions: () => listening.sessions.size, close: listening.close };
}

describe("a pod that answers badly", () => {
  let pod: Awaited<ReturnType<typeof faultyPod>>;
  let harness: Harness;
  beforeAll(async () => {
    pod = await faultyPod();
    harness = await startHarness({ pods: 0, extraEndpoints: [`127.0.0.1:${pod.port}`] });
  });
  afterAll(async () => {
    await harness.close();
    await pod.close();
  });

  const cases: [string, Code][] = [
    ["http-400", Code.Internal],
    ["http-401", Code.Unauthenticated],
    ["http-403", Code.PermissionDenied],
    ["http-404", Code.Unimplemented],
    ["http-429", Code.Unavailable],
    ["http-502", Code.Unavailable],
    ["http-503", Code.Unavailable],
    ["http-504", Code.Unavailable],
    ["http-500", Code.Unknown],
    ["html", Code.Unknown],
    ["no-status", Code.Unknown],
  ];
  describe.each(allTransports)("over %s", (name) => {
    const expectFault = async (fault: string, code: Code) => {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const error = await callError(client.probe({}, { headers: { "x-fault": fault } }));
      expect(Code[error.code]).toBe(Code[code]);
    };
    it.each(cases)("%s becomes %s", expectFault);
    unlessOnDeno(denoGaps.upstreamDropCodes)("drop-connection becomes 14", () => expectFault("drop-connection", Code.Unavailable));
  });

  it("a trailers-only OK without a message is a unary protocol error, a stream that simply ends", async () => {
    const unary = createClient(ProbeService, createTransport("connect-h1", harness.baseUrl));
    expect((await callError(unary.probe({}))).code).toBe(Code.Unimplemented);
    const stream = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const messages = [];
    for await (const m of stream.probeStream({})) {
      messages.push(m);
    }
    expect(messages).toEqual([]);
  });

  it("a refused stream is Unavailable when no other endpoint can take it", async () => {
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const error = await callError(client.probe({}, { headers: { "x-fault": "refuse" } }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("upstream unavailable: stream refused");
  });

  unlessOnDeno(denoGaps.upstreamDropCodes, denoGaps.goawayAbort)("after a GOAWAY the next calls go over a new connection and succeed", async () => {
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const before = pod.streams();
    for (let i = 0; i < 3; i++) {
      await client.probeStream({}, { headers: { "x-fault": "goaway" } })[Symbol.asyncIterator]().next();
    }
    expect(pod.streams() - before).toBe(3);
  });
});

describe("a pod that refuses streams among pods that answer", () => {
  let pod: Awaited<ReturnType<typeof faultyPod>>;
  let harness: Harness;
  beforeAll(async () => {
    pod = await faultyPod();
    harness = await startHarness({ pods: 2, extraEndpoints: [`127.0.0.1:${pod.port}`] });
  });
  afterAll(async () => {
    await harness.close();
    await pod.close();
  });

  it("a refused stream is sent to another pod over every transport: no call fails", async () => {
    const before = pod.streams();
    for (const name of allTransports) {
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const answered = new Set<string>();
      for (let i = 0; i < 6; i++) {
        answered.add((await client.probe({}, { headers: { "x-fault": "refuse" } })).pod);
      }
      expect(answered).toEqual(new Set(["pod-a", "pod-b"]));
    }
    // The refusing pod was tried (then cooled down for a second after each refusal).
    expect(pod.streams() - before).toBeGreaterThanOrEqual(1);
  });
});
