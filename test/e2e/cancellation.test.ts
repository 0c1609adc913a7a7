import { setTimeout as delay } from "node:timers/promises";
import type * as grpc from "@grpc/grpc-js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { createGrpcJsClient, type GenericGrpcClient, grpcAddress, grpcJsBidi } from "../support/grpc-js-client.ts";
import { allTransports, createTransport, fullDuplexTransports, type Harness, startHarness } from "../support/harness.ts";

describe("cancellation", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness?.close());

  it.each(allTransports)("a client that aborts a server stream cancels the pod's call (%s)", async (name) => {
    const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
    const tag = `abort-${name}`;
    const abort = new AbortController();
    let received = 0;
    let error: ConnectError | undefined;
    try {
      for await (const _ of client.probeStream({ tag, count: 1_000, intervalMs: 50 }, { signal: abort.signal })) {
        if (++received === 2) {
          abort.abort();
        }
      }
    } catch (e) {
      error = ConnectError.from(e);
    }
    expect(received).toBe(2);
    expect(error?.code).toBe(Code.Canceled);
    // Over HTTP/1.1 the abort closes the socket; over HTTP/2 it resets the stream.
    // Either way the gateway must cancel its upstream call.
    await vi.waitFor(() => expect(harness.probes.get(tag)?.cancelled).toBe(true), { timeout: 3_000, interval: 25 });
    const record = harness.probes.get(tag);
    expect(record?.finished).toBe(false);
    expect(record?.sent).toBeLessThan(1_000);
  });

  describe("a grpc-js client", () => {
    let grpcJs: GenericGrpcClient;
    beforeAll(() => {
      grpcJs = createGrpcJsClient(ProbeService, grpcAddress(harness.baseUrl));
    });
    afterAll(() => grpcJs?.close());

    it("that cancels a bidi stream cancels the pod's call", async () => {
      const call = grpcJsBidi(grpcJs, ProbeService.method.probeBidi);
      const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      call.on("error", () => {}); // CANCELLED, reported through 'status'
      const first = new Promise((resolve) => call.once("data", resolve));
      call.write({ tag: "grpcjs-bidi-cancel" });
      await first;
      expect(harness.probes.get("grpcjs-bidi-cancel")?.received).toBe(1);
      call.cancel();
      expect((await status).code).toBe(Code.Canceled);
      await vi.waitFor(() => expect(harness.probes.get("grpcjs-bidi-cancel")?.cancelled).toBe(true), {
        timeout: 3_000,
        interval: 25,
      });
      // (No assertion on `finished`: connect-node servers end the request
      // iterable normally on RST_STREAM, so the pod's loop may complete.)
    });
  });

  // 2000 × 64 KiB is 128 MiB: if anything between the pod and a client that
  // stopped reading buffered the stream whole, the pod would race ahead.
  it.each(fullDuplexTransports)("a stream the client stops reading is never buffered whole (%s)", async (name) => {
    const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
    const tag = `backpressure-${name}`;
    const abort = new AbortController();
    const stream = client.probeStream({ tag, count: 2_000, payloadSize: 65_536 }, { signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    try {
      for (let i = 0; i < 2; i++) {
        const next = await iterator.next();
        expect(next.done).toBe(false);
        expect(next.value?.payload.byteLength).toBe(65_536);
      }
      // Keep the stream open but read nothing more.
      await delay(1_500);
      const sent = harness.probes.get(tag)?.sent ?? 0;
      expect(sent).toBeGreaterThanOrEqual(2);
      // < 200 messages is < ~13 MiB in flight across every buffer and window on the way.
      expect(sent).toBeLessThan(200);
      expect(harness.probes.get(tag)?.finished).toBe(false);
    } finally {
      abort.abort();
      await iterator.return?.().catch(() => undefined);
    }
    await vi.waitFor(() => expect(harness.probes.get(tag)?.cancelled).toBe(true), { timeout: 3_000, interval: 25 });
  });
});
