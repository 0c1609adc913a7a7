import * as http2 from "node:http2";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { Code, createClient } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { greetRoutes } from "../../src/demo/greet-service.ts";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { callError } from "../support/call-error.ts";
import { listenH2c } from "../support/listen-h2c.ts";
import { createTransport, type Harness, startHarness } from "../support/harness.ts";

// Keepalive towards the pods (`backends[].keepalive`): a connection to a pod
// can die silently (a node gone, a conntrack entry dropped, a black-holing
// network) with no RST and no FIN. Without PINGs, a quiet stream on it hangs
// until its deadline, or for ever. With them, the gateway notices within
// interval + timeout, ends the calls on it Unavailable and opens a new
// connection for the next ones. And it must not PING a pod whose answers
// flow: gRPC servers count PINGs they did not need as strikes.

const KEEPALIVE = { interval: "200ms", timeout: "300ms" };

/** A pod that counts the PING frames it receives. */
async function countingPod(name: string) {
  let pings = 0;
  const server = http2.createServer(connectNodeAdapter({ routes: greetRoutes(name) }));
  server.on("session", (session) => session.on("ping", () => pings++));
  return { ...(await listenH2c(server)), pings: () => pings };
}

/**
 * A TCP relay in front of a pod whose existing connections can be frozen: no
 * byte goes through either way any more, but nothing is closed, as when the
 * pod's node vanishes. Connections opened after that are relayed as usual.
 */
async function freezableRelay(targetPort: number) {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(targetPort, "127.0.0.1");
    const pair: [net.Socket, net.Socket] = [inbound, outbound];
    pairs.add(pair);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const end = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on("error", end).on("close", end);
    outbound.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => pairs.size,
    freeze() {
      const frozen = [...pairs];
      for (const [inbound, outbound] of frozen) {
        inbound.unpipe(outbound);
        outbound.unpipe(inbound);
        inbound.pause();
        outbound.pause();
      }
      pairs.clear();
      return () => {
        for (const [inbound, outbound] of frozen) {
          inbound.destroy();
          outbound.destroy();
        }
      };
    },
    close: () => {
      for (const [inbound, outbound] of pairs) {
        inbound.destroy();
        outbound.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("keepalive towards the pods", () => {
  let pod: Awaited<ReturnType<typeof countingPod>>;
  let relay: Awaited<ReturnType<typeof freezableRelay>>;
  let harness: Harness;
  const dropFrozen: Array<() => void> = [];
  beforeAll(async () => {
    pod = await countingPod("pod-k");
    relay = await freezableRelay(pod.port);
    harness = await startHarness({
      pods: 0,
      config: {
        backends: [
          {
            name: "pods",
            discovery: { static: { endpoints: [`127.0.0.1:${relay.port}`] } },
            keepalive: KEEPALIVE,
          },
        ],
      },
    });
  });
  afterEach(() => {
    for (const drop of dropFrozen.splice(0)) drop();
  });
  afterAll(async () => {
    await harness?.close();
    await relay?.close();
    await pod?.close();
  });

  const client = () => createClient(GreetService, createTransport("grpc", harness.baseUrl));

  it("PINGs the pod while a stream is quiet, and the stream goes on undisturbed", async () => {
    const before = pod.pings();
    const answers = [];
    // Two messages 1.5 s apart: a quiet stream, 7 keepalive intervals long.
    for await (const answer of client().greetStream({ name: "quiet", count: 2, intervalMs: 1_500 })) {
      answers.push(answer.greeting);
    }
    expect(answers).toEqual(["Hello, quiet! (1/2)", "Hello, quiet! (2/2)"]);
    const pings = pod.pings() - before;
    // One per interval (200 ms) after the last sign of life, each answered at once: about 7, never one per few ms.
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(pings).toBeLessThanOrEqual(9);
  });

  it("sends no PING while the pod's answers keep coming", async () => {
    let pingsAtFirstAnswer: number | undefined;
    let count = 0;
    // 20 messages 50 ms apart: the pod is never silent for a keepalive interval.
    for await (const _ of client().greetStream({ name: "busy", count: 20, intervalMs: 50 })) {
      pingsAtFirstAnswer ??= pod.pings();
      count++;
    }
    expect(count).toBe(20);
    expect(pod.pings() - (pingsAtFirstAnswer ?? 0)).toBe(0);
  });

  it("ends a stream on a connection that died silently Unavailable within interval + timeout, and the next call opens a new one", async () => {
    const stream = client().greetStream({ name: "doomed", count: 2, intervalMs: 10_000 })[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value?.greeting).toBe("Hello, doomed! (1/2)");
    const frozenAt = performance.now();
    dropFrozen.push(relay.freeze());
    const error = await callError(stream.next());
    const noticedAfterMs = performance.now() - frozenAt;
    expect(error.code).toBe(Code.Unavailable);
    // 200 ms interval + 300 ms timeout; the pod's next message was 10 s away.
    expect(noticedAfterMs).toBeLessThan(3_000);
    const answer = await client().greet({ name: "next" });
    expect(answer.pod).toBe("pod-k");
  });

  it("checks a connection idle longer than the interval with a PING before reusing it: a dead one costs no call", async () => {
    expect((await client().greet({ name: "warm" })).pod).toBe("pod-k");
    const connections = relay.connections();
    expect(connections).toBeGreaterThan(0);
    dropFrozen.push(relay.freeze());
    await new Promise((resolve) => setTimeout(resolve, 400));
    const startedAt = performance.now();
    expect((await client().greet({ name: "after a silent death" })).pod).toBe("pod-k");
    // The PING before reuse went unanswered (300 ms), and the call went out on a new connection.
    expect(performance.now() - startedAt).toBeLessThan(3_000);
    expect(relay.connections()).toBeGreaterThan(0);
  });
});
