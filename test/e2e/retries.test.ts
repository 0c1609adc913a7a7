import * as http2 from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError, outcomesOf } from "../support/call-error.ts";
import { closedPort } from "../support/closed-port.ts";
import { listenH2c } from "../support/listen-h2c.ts";
import { denoGaps, unlessOnDeno } from "../support/deno-gaps.ts";
import { createTransport, type Harness, podRoutes, startHarness } from "../support/harness.ts";
import type { ProbeLog } from "../support/probe-service.ts";

const { constants } = http2;

/**
 * A real connect-node pod serving the probe service that counts the calls
 * its application was handed. Calls arriving while it is `goingAway` are
 * not handed over: the GOAWAY it sends then names the last one that was,
 * and nghttp2 refuses the rest, as a pod shutting down does.
 */
async function countingPod(name: string, probes: ProbeLog) {
  const adapter = connectNodeAdapter({ routes: podRoutes(name, probes, { reflection: false }) });
  let handled = 0;
  let refused = 0;
  const lastHandled = new WeakMap<http2.Http2Session, number>();
  const goingAway = new WeakSet<http2.Http2Session>();
  const server = http2.createServer((req, res) => {
    const session = req.stream.session as http2.ServerHttp2Session;
    if (goingAway.has(session)) {
      return;
    }
    lastHandled.set(session, req.stream.id as number);
    handled++;
    adapter(req, res);
  });
  server.on("stream", (stream) => {
    stream.once("close", () => {
      if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) {
        refused++;
      }
    });
  });
  const listening = await listenH2c(server);
  return {
    ...listening,
    handled: () => handled,
    refused: () => refused,
    /** GOAWAY on every connection: streams already on their way are held back a moment, then refused. */
    goaway() {
      for (const session of listening.sessions) {
        goingAway.add(session);
        setTimeout(() => {
          if (!session.destroyed) {
            session.goaway(constants.NGHTTP2_NO_ERROR, lastHandled.get(session) ?? 0);
          }
        }, 20);
      }
    },
    /** Shuts down like a container that got SIGTERM: no new connections, GOAWAY, finish what is in flight. */
    drain() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of listening.sessions) {
        session.close();
      }
      return closed;
    },
  };
}

/** A pod that handles each stream as told, with the raw HTTP/2 API. */
async function rawPod(onStream: (stream: http2.ServerHttp2Stream) => void, settings?: http2.Settings) {
  let streams = 0;
  const server = http2.createServer({ settings });
  server.on("stream", (stream) => {
    streams++;
    stream.on("error", () => {});
    onStream(stream);
  });
  return { ...(await listenH2c(server)), streams: () => streams };
}

/** Runs `total` unary probe calls, `concurrency` at a time over one HTTP/2 connection. */
async function load(
  baseUrl: string,
  total: number,
  concurrency: number,
  during: (completed: number) => void = () => {},
): Promise<(ConnectError | string)[]> {
  const client = createClient(ProbeService, createTransport("grpc", baseUrl));
  const outcomes: (ConnectError | string)[] = [];
  let next = 0;
  async function worker() {
    while (next < total) {
      const tag = `load-${next++}`;
      try {
        outcomes.push((await client.probe({ tag, sleepMs: 2 }, { timeoutMs: 5_000 })).pod);
      } catch (e) {
        outcomes.push(ConnectError.from(e));
      }
      during(outcomes.length);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

const failures = (outcomes: (ConnectError | string)[]) => outcomes.filter((o) => o instanceof ConnectError);

describe("transparent retries: calls that never reached a pod go to another", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) {
      await cleanup();
    }
  });
  async function harnessWith(extraEndpoints: string[], retry?: Record<string, number>): Promise<Harness> {
    const harness = await startHarness({
      extraEndpoints,
      ...(retry === undefined
        ? {}
        : {
            config: (pods) => ({
              backends: [
                {
                  name: "pods",
                  discovery: { static: { endpoints: [...pods.map((p) => `${p.address.host}:${p.address.port}`), ...extraEndpoints] } },
                  retry,
                },
              ],
            }),
          }),
    });
    cleanups.push(() => harness.close());
    return harness;
  }

  it.each(["grpc", "connect-h1"] as const)(
    "an endpoint on a closed port among three pods: no call fails over %s",
    async (name) => {
      const harness = await harnessWith([`127.0.0.1:${await closedPort()}`]);
      const client = createClient(ProbeService, createTransport(name, harness.baseUrl));
      const pods: string[] = [];
      for (let i = 0; i < 100; i++) {
        pods.push((await client.probe({})).pod);
      }
      expect(new Set(pods)).toEqual(new Set(["pod-a", "pod-b", "pod-c"]));
    },
  );

  it("a closed port under concurrent load: no call fails", async () => {
    const harness = await harnessWith([`127.0.0.1:${await closedPort()}`, `127.0.0.1:${await closedPort()}`]);
    expect(failures(await load(harness.baseUrl, 300, 20))).toEqual([]);
  });

  unlessOnDeno(denoGaps.goawayAbort)("a pod that refuses every stream (REFUSED_STREAM), before or after reading it: no call fails, the request arrives whole", async () => {
    const early = await rawPod((stream) => stream.close(constants.NGHTTP2_REFUSED_STREAM));
    const late = await rawPod((stream) => {
      stream.resume();
      stream.on("end", () => stream.close(constants.NGHTTP2_REFUSED_STREAM));
    });
    cleanups.push(early.close, late.close);
    const harness = await harnessWith([early.address, late.address]);
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const payload = new Uint8Array(1_000).fill(7);
    for (let i = 0; i < 100; i++) {
      const res = await client.probe({ payload });
      expect(res.payload).toEqual(payload);
      // Refusing endpoints cool down for a second: wait some out so they are picked again.
      if (i % 25 === 24) {
        await new Promise((resolve) => setTimeout(resolve, 1_050));
      }
    }
    expect(early.streams()).toBeGreaterThanOrEqual(4);
    expect(late.streams()).toBeGreaterThanOrEqual(4);
  }, 20_000);

  unlessOnDeno(denoGaps.goawayAbort)("a pod that refuses the stream while the request is still being written: sent again whole", async () => {
    // A 1 KiB flow-control window keeps the gateway's write of a 60 KiB message pending when the refusal comes.
    const refusing = await rawPod((stream) => stream.once("data", () => stream.close(constants.NGHTTP2_REFUSED_STREAM)), {
      initialWindowSize: 1024,
    });
    cleanups.push(refusing.close);
    const harness = await harnessWith([refusing.address]);
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const payload = new Uint8Array(60 * 1024).fill(9);
    for (let i = 0; i < 8; i++) {
      expect((await client.probe({ payload })).payload).toEqual(payload);
      if (i % 4 === 3) {
        await new Promise((resolve) => setTimeout(resolve, 1_050)); // the refusing pod's cooldown
      }
    }
    expect(refusing.streams()).toBeGreaterThanOrEqual(2);
  });

  it("an Unavailable answer from a pod's application is not retried", async () => {
    const probes: ProbeLog = new Map();
    const pods = [await countingPod("pod-x", probes), await countingPod("pod-y", probes), await countingPod("pod-z", probes)];
    cleanups.push(...pods.map((p) => p.close));
    const harness = await startHarness({ pods: 0, extraEndpoints: pods.map((p) => p.address) });
    cleanups.push(() => harness.close());
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    for (let i = 0; i < 6; i++) {
      const error = await callError(client.probe({ failCode: Code.Unavailable, failMessage: "draining" }));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toBe("draining");
    }
    expect(pods.map((p) => p.handled())).toEqual([2, 2, 2]);
  });

  unlessOnDeno(denoGaps.upstreamDropCodes)("a pod that resets the stream, or drops the connection, after reading the request: not retried", async () => {
    const probes: ProbeLog = new Map();
    const healthy = await countingPod("pod-x", probes);
    const reset = await rawPod((stream) => {
      stream.resume();
      stream.once("data", () => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    });
    const dropped = await rawPod((stream) => {
      stream.resume();
      stream.once("data", () => stream.session?.destroy());
    });
    cleanups.push(healthy.close, reset.close, dropped.close);
    const harness = await startHarness({ pods: 0, extraEndpoints: [healthy.address, reset.address, dropped.address] });
    cleanups.push(() => harness.close());
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const outcomes = await outcomesOf(12, async () => (await client.probe({})).pod);
    const failed = failures(outcomes) as ConnectError[];
    expect(failed.map((e) => Code[e.code]).sort()).toEqual(["Internal", "Unavailable"]);
    expect(failed.map((e) => e.rawMessage).sort()).toEqual([
      "upstream unavailable: connection lost",
      "upstream unavailable: stream reset by the endpoint",
    ]);
    // Each failed call reached one pod only; the healthy one got exactly the calls that succeeded.
    expect(reset.streams() + dropped.streams()).toBe(2);
    expect(healthy.handled()).toBe(10);
  });

  it("with the budget spent the client gets the failure, Unavailable, saying so", async () => {
    const harness = await harnessWith([`127.0.0.1:${await closedPort()}`], { budgetPercent: 0, minRetriesPerSecond: 0 });
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const outcomes = await outcomesOf(8, async () => (await client.probe({})).pod);
    const failed = failures(outcomes) as ConnectError[];
    expect(failed).toHaveLength(1); // round robin reaches the closed port once; it then cools down
    expect(failed[0]?.code).toBe(Code.Unavailable);
    expect(failed[0]?.rawMessage).toBe("upstream unavailable: connection refused (not retried: retry budget spent)");
    // Every call has ended: none counts as active in the budget any more.
    await vi.waitFor(async () =>
      expect((await harness.gateway.state()).backends.find((b) => b.name === "pods")?.retryBudget).toMatchObject({
        activeCalls: 0,
        retriesInFlight: 0,
      }),
    );
  });

  unlessOnDeno(denoGaps.goawayAbort)("a retry gets the time that remains, and none is made past the deadline", async () => {
    const probes: ProbeLog = new Map();
    const healthy = await countingPod("pod-x", probes);
    // Refuses each stream, but only after 400 ms.
    const slow = await rawPod((stream) => {
      setTimeout(() => {
        if (!stream.closed) {
          stream.close(constants.NGHTTP2_REFUSED_STREAM);
        }
      }, 400);
    });
    cleanups.push(healthy.close, slow.close);
    const harness = await startHarness({ pods: 0, extraEndpoints: [slow.address, healthy.address] });
    cleanups.push(() => harness.close());
    const client = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    // A deadline of 2 s: the call that lands on the slow pod is refused at 400 ms, and retried with what is left.
    let retried: string | undefined;
    for (let i = 0; i < 2 && retried === undefined; i++) {
      const before = slow.streams();
      expect((await client.probe({ tag: `in-time-${i}` }, { timeoutMs: 2_000 })).pod).toBe("pod-x");
      retried = slow.streams() > before ? (probes.get(`in-time-${i}`)?.headers.get("grpc-timeout") ?? "") : undefined;
    }
    const ms = Number(/^(\d+)m$/.exec(retried ?? "")?.[1]);
    expect(ms).toBeLessThanOrEqual(1_600);
    expect(ms).toBeGreaterThan(1_000);
    // A deadline of 300 ms passes before the slow pod refuses: DeadlineExceeded, and no retry.
    await new Promise((resolve) => setTimeout(resolve, 1_050)); // the slow pod's cooldown ends
    let late: ConnectError | undefined;
    for (let i = 0; i < 2 && late === undefined; i++) {
      const before = { healthy: healthy.handled(), slow: slow.streams() };
      const started = performance.now();
      try {
        await client.probe({ tag: `too-late-${i}` }, { timeoutMs: 300 });
        expect(slow.streams()).toBe(before.slow); // answered by the healthy pod at once
      } catch (e) {
        late = ConnectError.from(e);
        expect(late.code).toBe(Code.DeadlineExceeded);
        expect(performance.now() - started).toBeLessThan(1_000);
        await new Promise((resolve) => setTimeout(resolve, 300)); // past the slow pod's refusal
        expect(healthy.handled()).toBe(before.healthy);
      }
    }
    expect(late).toBeDefined();
  });
});

describe("GOAWAY from a pod under load", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) {
      await cleanup();
    }
  });

  async function threePods() {
    const probes: ProbeLog = new Map();
    const pods = [await countingPod("pod-x", probes), await countingPod("pod-y", probes), await countingPod("pod-z", probes)];
    cleanups.push(...pods.map((p) => p.close));
    const harness = await startHarness({ pods: 0, extraEndpoints: pods.map((p) => p.address) });
    cleanups.push(() => harness.close());
    return { pods, harness };
  }

  unlessOnDeno(denoGaps.upstreamDropCodes, denoGaps.goawayAbort)("streams above the last-stream-id are retried, new calls take a new connection, and every call is handled once", async () => {
    const { pods, harness } = await threePods();
    const [draining] = pods as [Awaited<ReturnType<typeof countingPod>>];
    let goaways = 0;
    const outcomes = await load(harness.baseUrl, 600, 20, (completed) => {
      if (completed % 150 === 0 && completed < 600) {
        goaways++;
        draining.goaway();
      }
    });
    expect(goaways).toBe(3);
    console.log(`GOAWAY run: ${draining.refused()} streams refused by 3 GOAWAYs and sent again; ${failures(outcomes).length} of 600 calls failed`);
    expect(failures(outcomes)).toEqual([]);
    // Streams on their way when the GOAWAY went out were refused by the pod, and sent again.
    expect(draining.refused()).toBeGreaterThan(0);
    // No call was handled twice, and the draining pod kept getting calls over new connections.
    expect(pods.reduce((sum, p) => sum + p.handled(), 0)).toBe(600);
    expect(outcomes.slice(-60)).toContain("pod-x");
  });

  unlessOnDeno(denoGaps.goawayAbort)("a pod that shuts down (GOAWAY, finish in flight, then refuse connections) loses no call", async () => {
    const { pods, harness } = await threePods();
    const [draining] = pods as [Awaited<ReturnType<typeof countingPod>>];
    let drained: Promise<void> | undefined;
    const outcomes = await load(harness.baseUrl, 600, 20, (completed) => {
      if (completed === 200) {
        drained = draining.drain();
      }
    });
    await drained;
    console.log(`shutdown run: ${draining.refused()} streams refused by the GOAWAY; ${failures(outcomes).length} of 600 calls failed`);
    expect(failures(outcomes)).toEqual([]);
    expect(pods.reduce((sum, p) => sum + p.handled(), 0)).toBe(600);
    expect(outcomes.slice(-100)).not.toContain("pod-x");
  });
});
