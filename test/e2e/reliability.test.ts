import { type ChildProcess, spawn } from "node:child_process";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it, vi } from "vitest";
import { greetRoutes } from "../../src/demo/greet-service.ts";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { endpointSlice, type FakeKubeApi, startFakeKubeApi } from "../support/fake-kube-api.ts";
import { type Harness, startHarness } from "../support/harness.ts";

const root = new URL("../..", import.meta.url).pathname;
const node = join(root, "node_modules/.bin/node");

/** One call of a load run: when it started and ended, and who answered (or how it failed). */
interface Outcome {
  readonly started: number;
  readonly ended: number;
  readonly pod: string | undefined;
  readonly code: Code | undefined;
}

/**
 * Runs `total` unary calls through the gateway, `concurrency` at a time over
 * one HTTP/2 connection, calling `during(done)` after each completion so a
 * test can act at a given point of the run.
 */
async function load(
  baseUrl: string,
  total: number,
  concurrency: number,
  during: (completed: number) => void | Promise<void> = () => {},
): Promise<Outcome[]> {
  const client = createClient(GreetService, createGrpcTransport({ baseUrl }));
  const outcomes: Outcome[] = [];
  let next = 0;
  async function worker() {
    while (next < total) {
      next++;
      const started = performance.now();
      try {
        const { pod } = await client.greet({ name: "load" }, { timeoutMs: 5_000 });
        outcomes.push({ started, ended: performance.now(), pod, code: undefined });
      } catch (error) {
        outcomes.push({ started, ended: performance.now(), pod: undefined, code: ConnectError.from(error).code });
      }
      await during(outcomes.length);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

/** A demo pod in its own process, so it can be killed with SIGKILL like a crashed container. */
async function spawnPod(name: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(node, [join(root, "bin/edgegate.js"), "demo-pod", "--address", "127.0.0.1:0", "--name", name], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const address = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      const match = /"address":"(127\.0\.0\.1:\d+)"/.exec(line);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`pod ${name} exited with ${code}`)));
  });
  return { child, address };
}

describe("a pod killed with SIGKILL during a run of 2,000 calls", () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill("SIGKILL");
  });

  it("fails only calls in flight on that pod, with Unavailable, and stops using it within a second", async () => {
    const pods = await Promise.all(["pod-a", "pod-b", "pod-c"].map(spawnPod));
    children.push(...pods.map((p) => p.child));
    const harness = await startHarness({
      pods: 0,
      config: { backends: [{ name: "pods", discovery: { static: { endpoints: pods.map((p) => p.address) } } }] },
    });
    try {
      let killedAt = Number.POSITIVE_INFINITY;
      const outcomes = await load(harness.baseUrl, 2_000, 16, (completed) => {
        if (completed === 500) {
          killedAt = performance.now();
          pods[1]?.child.kill("SIGKILL");
        }
      });
      const failed = outcomes.filter((o) => o.code !== undefined);
      expect(outcomes).toHaveLength(2_000);
      // Only calls that were in flight when the pod died may fail (at most the concurrency), each as Unavailable.
      expect(failed.length).toBeLessThanOrEqual(16);
      for (const outcome of failed) {
        expect(outcome.code).toBe(Code.Unavailable);
        expect(outcome.started).toBeLessThan(killedAt + 1_000);
      }
      // Calls after the kill go to the two live pods.
      const after = outcomes.filter((o) => o.started > killedAt + 1_000);
      expect(after.length).toBeGreaterThan(0);
      expect(new Set(after.map((o) => o.pod))).toEqual(new Set(["pod-a", "pod-c"]));
      console.log(`kill -9 run: ${failed.length} of ${outcomes.length} calls failed (all Unavailable)`);
    } finally {
      await harness.close();
    }
  }, 60_000);
});

/** An in-process pod that shuts down like a well-behaved container: GOAWAY, then finish what is in flight. */
async function drainablePod(name: string, host: string, port: number) {
  const server = http2.createServer(connectNodeAdapter({ routes: greetRoutes(name) }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    async drain() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      await closed;
    },
  };
}

describe("a rolling replacement of all three pods through discovery", () => {
  let api: FakeKubeApi;
  let harness: Harness;
  afterAll(async () => {
    await harness?.close();
    await api?.close();
  });

  it("loses no call under steady load", async () => {
    api = await startFakeKubeApi();
    const first = await drainablePod("old-a", "127.0.0.11", 0);
    const port = first.port;
    const olds = [first, await drainablePod("old-b", "127.0.0.12", port), await drainablePod("old-c", "127.0.0.13", port)];
    const ips = new Map<string, string>([
      ["old-a", "127.0.0.11"],
      ["old-b", "127.0.0.12"],
      ["old-c", "127.0.0.13"],
      ["new-a", "127.0.0.14"],
      ["new-b", "127.0.0.15"],
      ["new-c", "127.0.0.16"],
    ]);
    const conditions = new Map<string, { ready: boolean; serving: boolean; terminating: boolean }>(
      olds.map((p) => [p.name, { ready: true, serving: true, terminating: false }]),
    );
    const publish = () =>
      api.put(
        "endpointslices",
        endpointSlice({
          namespace: "shop",
          name: "greet-1",
          service: "greet",
          ports: [{ name: "grpc", port }],
          endpoints: [...conditions].map(([name, c]) => ({ ip: ips.get(name) as string, pod: name, ...c })),
        }),
      );
    publish();
    harness = await startHarness({
      pods: 0,
      discovery: { kubernetes: { namespace: "shop", service: "greet", port: "grpc" } },
      config: { kubernetes: { kubeconfig: await api.writeKubeconfig() } },
    });
    await vi.waitFor(async () => expect(await harness.gateway.ready()).toBe(true));

    let running = true;
    const outcomes: Outcome[] = [];
    const steady = (async () => {
      while (running) {
        outcomes.push(...(await load(harness.baseUrl, 40, 8)));
      }
    })();
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    for (const old of olds) {
      const name = old.name.replace("old", "new");
      await drainablePod(name, ips.get(name) as string, port);
      conditions.set(name, { ready: true, serving: true, terminating: false }); // the new pod is ready
      publish();
      await pause(150);
      conditions.set(old.name, { ready: false, serving: true, terminating: true }); // the old one terminates
      publish();
      await pause(150);
      await old.drain(); // and shuts down (GOAWAY, finishes its calls) as the kubelet stops it
      conditions.delete(old.name); // then leaves the slice
      publish();
      await pause(150);
    }
    await pause(300);
    running = false;
    await steady;
    const failed = outcomes.filter((o) => o.code !== undefined);
    console.log(`rolling replacement: ${failed.length} of ${outcomes.length} calls failed`);
    expect(failed).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(200);
    const last = outcomes.slice(-40);
    expect(new Set(last.map((o) => o.pod))).toEqual(new Set(["new-a", "new-b", "new-c"]));
  }, 60_000);
});

describe("a pod that hangs (accepts, never answers)", () => {
  it("is taken out by its health checks, and every call meets its deadline meanwhile", async () => {
    // A pod that accepts connections and streams but never answers anything, health checks included.
    const hung = http2.createServer();
    hung.on("stream", (stream) => stream.on("error", () => {})); // clients reset what they give up on
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    const hungAddress = `127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const harness = await startHarness({
      pods: 2,
      config: (pods) => ({
        backends: [
          {
            name: "pods",
            discovery: { static: { endpoints: [...pods.map((p) => `${p.address.host}:${p.address.port}`), hungAddress] } },
            healthCheck: { interval: "200ms", timeout: "100ms", unhealthyThreshold: 2 },
          },
        ],
      }),
    });
    try {
      const client = createClient(GreetService, createGrpcTransport({ baseUrl: harness.baseUrl }));
      const deadlineMs = 300;
      const outcomes: Array<{ ms: number; code: Code | undefined }> = [];
      const started = performance.now();
      while (performance.now() - started < 2_000) {
        const t = performance.now();
        try {
          await client.greet({ name: "hang" }, { timeoutMs: deadlineMs });
          outcomes.push({ ms: performance.now() - t, code: undefined });
        } catch (error) {
          outcomes.push({ ms: performance.now() - t, code: ConnectError.from(error).code });
        }
      }
      // Every call ends by its deadline (plus scheduling slack), as DeadlineExceeded at worst.
      for (const outcome of outcomes) {
        expect(outcome.ms).toBeLessThan(deadlineMs + 200);
        expect([undefined, Code.DeadlineExceeded]).toContain(outcome.code);
      }
      // Once the checks have marked it unhealthy (2 × 200 ms + timeouts), no call goes there any more.
      const late = outcomes.slice(-20);
      expect(late.every((o) => o.code === undefined)).toBe(true);
      console.log(`hanging pod: ${outcomes.filter((o) => o.code !== undefined).length} of ${outcomes.length} calls hit their deadline`);
    } finally {
      await harness.close();
      hung.close();
    }
  }, 30_000);
});

describe("a graceful shutdown during load", () => {
  it("loses nothing in flight", async () => {
    const harness = await startHarness({ pods: 3, config: { shutdown: { gracePeriod: "5s" } } });
    const client = createClient(GreetService, createGrpcTransport({ baseUrl: harness.baseUrl }));
    let shutdownAt = Number.POSITIVE_INFINITY;
    const outcomes: Outcome[] = [];
    const worker = async () => {
      while (performance.now() < shutdownAt) {
        const started = performance.now();
        try {
          // Slow calls, so many are in flight when the shutdown starts.
          const { pod } = await client.greet({ name: "slow" });
          outcomes.push({ started, ended: performance.now(), pod, code: undefined });
        } catch (error) {
          outcomes.push({ started, ended: performance.now(), pod: undefined, code: ConnectError.from(error).code });
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await new Promise((resolve) => setTimeout(resolve, 500));
    shutdownAt = performance.now();
    await harness.gateway.shutdown();
    await Promise.all(workers);
    await harness.close();
    const inFlight = outcomes.filter((o) => o.started < shutdownAt);
    const failed = inFlight.filter((o) => o.code !== undefined);
    console.log(`graceful shutdown: ${failed.length} of ${inFlight.length} calls in flight or before it failed`);
    // Enough calls to matter: the 16 workers each made several before the shutdown began.
    expect(inFlight.length).toBeGreaterThanOrEqual(64);
    expect(failed).toEqual([]);
  }, 30_000);
});
