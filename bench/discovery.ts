// `npm run bench:discovery`: how fast an EndpointSlice change reaches the
// balancer and the first call, and what one event costs at 500 to 50,000
// endpoints. A benchmark, not a test: it prints Markdown tables and exits 0.
//
//   node bench/discovery.ts
//
// Part 1 drives the real path: the in-process fake API server (TLS, bearer
// token, list/watch) → @kubernetes/client-node's informer in the gateway →
// ServiceEndpoints → Balancer, with a closed-loop gRPC load through the
// gateway to real pods on 127.0.0.11/.12. The API server, the gateway, the
// pods and the load generator all share this one process and event loop.
//
// Part 2 times the gateway's data structures alone (no network): one slice
// event at 500, 5,000 and 50,000 endpoints, against the naive alternative
// (rebuild the whole set on every event and diff it), and a pick + release.
import { cpus } from "node:os";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { V1EndpointSlice } from "@kubernetes/client-node";
import { Balancer } from "../src/balance/balancer.ts";
import { createEndpoint, type Endpoint } from "../src/balance/endpoint.ts";
import { createRoundRobinPicker, type Picker } from "../src/balance/picker.ts";
import { diffEndpoints } from "../src/discovery/diff-endpoints.ts";
import type { EndpointChange } from "../src/discovery/endpoint-source.ts";
import { ServiceEndpoints } from "../src/discovery/kubernetes/service-endpoints.ts";
import { type SliceContribution, sliceEndpoints } from "../src/discovery/kubernetes/slice-endpoints.ts";
import { GreetService } from "../src/gen/greet/v1/greet_pb.ts";
import { endpointSlice, type EndpointSliceSpec, type FakeKubeApi, startFakeKubeApi } from "../test/support/fake-kube-api.ts";
import { type Harness, startHarness } from "../test/support/harness.ts";

const NS = "bench";
const SLICES = "endpointslices";
/** Add/remove cycles of pod-b in part 1. */
const CYCLES = 50;
/** Concurrent unary calls of the closed-loop load (one HTTP/2 connection). */
const CONCURRENCY = 8;
const SLICE_SIZE = 100;
/** Measured events per size in part 2 (after as many warm-up events). */
const EVENTS = 2_000;
/** Wall-clock budget for the naive rebuild at one size; it stops earlier at large sizes. */
const NAIVE_BUDGET_MS = 3_000;
const PICKS = 1_000_000;

// ---------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `done()` (timestamps are taken in callbacks, so polling adds nothing to them). */
async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(1);
  }
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

const asc = (values: readonly number[]) => [...values].sort((a, b) => a - b);
const fmt = (value: number, digits = 2) => (Number.isNaN(value) ? "—" : value.toFixed(digits));
const thousands = (n: number) => n.toLocaleString("en-US");

/** 10.x.y.z addresses nobody listens on: endpoints that must never receive a call. */
function fakeIp(k: number): string {
  return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
}

// ---------------------------------------------------------------------------
// Part 1: watch event → balancer → first call, over the real path

interface Figures {
  readonly label: string;
  readonly values: readonly number[];
  /** Time inside `api.put` (the fake server's own work, included in `values`). */
  readonly put?: readonly number[];
}

async function withKube<T>(run: (api: FakeKubeApi, harness: Harness) => Promise<T>, pods: number): Promise<T> {
  const api = await startFakeKubeApi();
  const kubeconfig = await api.writeKubeconfig({ namespace: NS });
  const harness = await startHarness({
    pods,
    podsOnLoopbackAddresses: true,
    discovery: { kubernetes: { namespace: NS, service: "greet", port: "grpc" } },
    config: { kubernetes: { kubeconfig } },
  });
  try {
    return await run(api, harness);
  } finally {
    await harness.close();
    await api.close();
  }
}

function backendOf(harness: Harness) {
  const backend = harness.inProcess?.backends.get("pods");
  if (backend === undefined) {
    throw new Error("the harness has no backend named pods");
  }
  return backend;
}

/** Two pods under load: pod-a stays, pod-b is added to and removed from the slice CYCLES times. */
async function propagationUnderLoad(): Promise<{ figures: Figures[]; calls: number; errors: number }> {
  return withKube(async (api, harness) => {
    const port = harness.pods[0]?.address.port ?? 0;
    const a = { ip: "127.0.0.11", ready: true, pod: "greet-a" };
    const b = { ip: "127.0.0.12", ready: true, pod: "greet-b" };
    const bAddress = `${b.ip}:${port}`;
    const put = (endpoints: EndpointSliceSpec["endpoints"]) =>
      api.put(SLICES, endpointSlice({ namespace: NS, name: "greet-1", service: "greet", ports: [{ name: "grpc", port }], endpoints }));
    const backend = backendOf(harness);

    put([a]);
    await until("the gateway to sync", () => harness.inProcess?.ready() === true && backend.balancer.current().length === 1);

    interface Pending {
      readonly t0: number;
      put?: number;
      balancer?: number;
      call?: number;
    }
    let adding: Pending | undefined;
    let removing: Pending | undefined;
    // Calls started after pod-b left the balancer cannot have been sent to it, unless it was added back.
    let removedAt = performance.now();
    // The gateway's own subscriber (the balancer) was registered first, so in the same
    // synchronous publish this one sees the change right after the balancer applied it.
    // subscribe() first delivers the current set (pod-a only), ignored here.
    const unsubscribe = backend.source.subscribe((change) => {
      const now = performance.now();
      if (adding !== undefined && adding.balancer === undefined && change.added.some((e) => e.address === bAddress)) {
        adding.balancer = now;
      }
      if (removing !== undefined && removing.balancer === undefined && change.removed.some((e) => e.address === bAddress)) {
        removing.balancer = now;
      }
    });

    const client = createClient(GreetService, createGrpcTransport({ baseUrl: harness.baseUrl }));
    let running = true;
    let calls = 0;
    let errors = 0;
    const worker = async () => {
      while (running) {
        const started = performance.now();
        try {
          const { pod } = await client.greet({ name: "bench" });
          calls++;
          if (pod === "pod-b" && adding !== undefined && adding.call === undefined && started >= removedAt) {
            adding.call = performance.now();
          }
        } catch {
          errors++;
        }
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);
    await sleep(500); // warm up the sessions and the JIT

    const adds: Pending[] = [];
    const removes: Pending[] = [];
    for (let i = 0; i < CYCLES; i++) {
      // Jitter, so events do not fall into step with the load.
      await sleep(10 + Math.random() * 20);
      const add: Pending = { t0: performance.now() };
      adding = add;
      put([a, b]);
      add.put = performance.now();
      await until("pod-b in the balancer and its first call", () => add.balancer !== undefined && add.call !== undefined);
      adds.push(add);

      await sleep(10 + Math.random() * 20);
      const remove: Pending = { t0: performance.now() };
      removing = remove;
      put([a]);
      remove.put = performance.now();
      await until("pod-b out of the balancer", () => remove.balancer !== undefined);
      removedAt = remove.balancer as number;
      removes.push(remove);
    }
    running = false;
    await Promise.all(workers);
    unsubscribe();

    const since = (list: Pending[], at: (p: Pending) => number | undefined) => list.map((p) => (at(p) as number) - p.t0);
    return {
      calls,
      errors,
      figures: [
        { label: "pod-b added → in the balancer", values: since(adds, (p) => p.balancer), put: since(adds, (p) => p.put) },
        { label: "pod-b added → first call answered by pod-b", values: since(adds, (p) => p.call) },
        {
          label: "of which: in the balancer → first call answered (pick, new h2c connection, pod, answer)",
          values: adds.map((p) => (p.call as number) - (p.balancer as number)),
        },
        { label: "pod-b removed → out of the balancer", values: since(removes, (p) => p.balancer), put: since(removes, (p) => p.put) },
      ],
    };
  }, 2);
}

/**
 * 5,000 endpoints in 50 slices of 100, no load (only pod-a and pod-b are
 * real). pod-b's readiness flips in slice 0: one changed endpoint in one
 * slice of 100 → time until the balancer has the change.
 */
async function propagationAtScale(): Promise<{ figures: Figures[] }> {
  return withKube(async (api, harness) => {
    const port = harness.pods[0]?.address.port ?? 0;
    const bAddress = `127.0.0.12:${port}`;
    const backend = backendOf(harness);
    const slices = 50;
    let next = 1;
    const others = (n: number) => Array.from({ length: n }, () => ({ ip: fakeIp(next++), ready: true }));
    const filler = others(SLICE_SIZE - 2);
    const slice0 = (bReady: boolean) =>
      api.put(
        SLICES,
        endpointSlice({
          namespace: NS,
          name: "greet-00",
          service: "greet",
          ports: [{ name: "grpc", port }],
          endpoints: [{ ip: "127.0.0.11", ready: true }, { ip: "127.0.0.12", ready: bReady }, ...filler],
        }),
      );
    slice0(false);
    for (let s = 1; s < slices; s++) {
      api.put(
        SLICES,
        endpointSlice({
          namespace: NS,
          name: `greet-${String(s).padStart(2, "0")}`,
          service: "greet",
          ports: [{ name: "grpc", port }],
          endpoints: others(SLICE_SIZE),
        }),
      );
    }
    const total = slices * SLICE_SIZE;
    await until(`${total - 1} endpoints in the balancer`, () => harness.inProcess?.ready() === true && backend.balancer.current().length === total - 1);

    let pending: { t0: number; balancer?: number; added: boolean } | undefined;
    const unsubscribe = backend.source.subscribe((change: EndpointChange) => {
      const now = performance.now();
      if (pending === undefined || pending.balancer !== undefined) {
        return;
      }
      const list = pending.added ? change.added : change.removed;
      if (list.some((e) => e.address === bAddress)) {
        pending.balancer = now;
      }
    });
    const ready: number[] = [];
    const readyPut: number[] = [];
    const notReady: number[] = [];
    const notReadyPut: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      for (const added of [true, false]) {
        await sleep(10 + Math.random() * 20);
        const p: { t0: number; balancer?: number; added: boolean } = { t0: performance.now(), added };
        pending = p;
        slice0(added);
        const putMs = performance.now() - p.t0;
        await until("the change in the balancer", () => p.balancer !== undefined);
        (added ? ready : notReady).push((p.balancer as number) - p.t0);
        (added ? readyPut : notReadyPut).push(putMs);
      }
    }
    unsubscribe();
    if (backend.balancer.current().length !== total - 1) {
      throw new Error(`expected ${total - 1} endpoints after the last event, got ${backend.balancer.current().length}`);
    }
    return {
      figures: [
        { label: "pod-b ready in a slice of 100 → in the balancer", values: ready, put: readyPut },
        { label: "pod-b not ready in a slice of 100 → out of the balancer", values: notReady, put: notReadyPut },
      ],
    };
  }, 2);
}

// ---------------------------------------------------------------------------
// Part 2: the cost of one event on the gateway's data structures

const PORT = 50051;

function slice(name: string, ips: readonly string[], ready: readonly boolean[]): V1EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: NS, labels: { "kubernetes.io/service-name": "greet" } },
    addressType: "IPv4",
    endpoints: ips.map((ip, i) => ({ addresses: [ip], conditions: { ready: ready[i] ?? true } })),
    ports: [{ name: "grpc", port: PORT, protocol: "TCP" }],
  };
}

function newBalancer(picker: Picker = createRoundRobinPicker()): Balancer {
  return new Balancer({ picker, now: () => 0, connectFailureCooldownMs: 1_000 });
}

/**
 * Round robin over the first 64 candidates only: the same balancer code, but
 * a working set that stays in the CPU caches, to tell an O(n) pick from
 * cache misses at large sizes.
 */
function hotPicker(): Picker {
  let next = 0;
  return { pick: (candidates) => candidates[(next++ & 63) % candidates.length] as Endpoint };
}

/** A service of `count` slices of SLICE_SIZE, and events each flipping one endpoint's readiness. */
function service(count: number) {
  let next = 1;
  const ips = Array.from({ length: count }, () => Array.from({ length: SLICE_SIZE }, () => fakeIp(next++)));
  const ready = ips.map((list) => list.map(() => true));
  const names = ips.map((_, s) => `greet-${s}`);
  let flipped: { s: number; j: number } | undefined;
  return {
    initial: () => ips.map((list, s) => slice(names[s] as string, list, ready[s] as boolean[])),
    names,
    /** Alternately makes a random endpoint not ready and makes it ready again: each event is 1 removed or 1 added. */
    event(): { name: string; slice: V1EndpointSlice } {
      let at = flipped;
      if (at === undefined) {
        at = { s: Math.floor(Math.random() * count), j: Math.floor(Math.random() * SLICE_SIZE) };
        flipped = at;
      } else {
        flipped = undefined;
      }
      const row = ready[at.s] as boolean[];
      row[at.j] = !row[at.j];
      const name = names[at.s] as string;
      return { name, slice: slice(name, ips[at.s] as string[], row) };
    },
  };
}

/** The set-at-a-time way: merge every slice's endpoints on each event and diff with the last set. */
function naive(balancer: Balancer) {
  const contributions = new Map<string, SliceContribution>();
  let previous: Endpoint[] = [];
  return (name: string, contribution: SliceContribution): EndpointChange => {
    contributions.set(name, contribution);
    const ready = new Map<string, Endpoint>();
    const fallback = new Map<string, Endpoint>();
    for (const c of contributions.values()) {
      for (const [address, entry] of c) {
        (entry.class === "ready" ? ready : fallback).set(address, entry.endpoint);
      }
    }
    const next = [...(ready.size > 0 ? ready : fallback).values()];
    const change = diffEndpoints(previous, next);
    balancer.apply(change);
    previous = next;
    return change;
  };
}

interface EventCost {
  readonly endpoints: number;
  readonly slices: number;
  readonly incremental: readonly number[];
  readonly naive: readonly number[];
  readonly pickNs: number;
  readonly pickHotNs: number;
}

const micros = (from: bigint) => Number(process.hrtime.bigint() - from) / 1_000;

function checkOne(change: EndpointChange): void {
  if (change.added.length + change.removed.length !== 1) {
    throw new Error(`an event changed ${change.added.length} added / ${change.removed.length} removed, expected 1`);
  }
}

/** ns per pick + release, the median of 5 batches. */
function pickCost(balancer: Balancer): number {
  const batch = () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < PICKS; i++) {
      (balancer.pick() as { release(): void }).release();
    }
    return Number(process.hrtime.bigint() - start) / PICKS;
  };
  batch(); // warm-up
  return pct(asc(Array.from({ length: 5 }, batch)), 0.5);
}

function eventCost(slices: number): EventCost {
  const svc = service(slices);
  const endpoints = slices * SLICE_SIZE;

  // The design: one slice at a time.
  const endpointsOf = new ServiceEndpoints();
  const balancer = newBalancer();
  for (const s of svc.initial()) {
    balancer.apply(endpointsOf.setSlice(s.metadata?.name ?? "", sliceEndpoints(s, "grpc")));
  }
  if (balancer.current().length !== endpoints) throw new Error("initial load incomplete");
  const incremental: number[] = [];
  for (let i = 0; i < 2 * EVENTS; i++) {
    const { name, slice } = svc.event();
    const start = process.hrtime.bigint();
    const change = endpointsOf.setSlice(name, sliceEndpoints(slice, "grpc"));
    balancer.apply(change);
    const us = micros(start);
    checkOne(change);
    if (i >= EVENTS) incremental.push(us);
  }
  const pickNs = pickCost(balancer);
  const hot = newBalancer(hotPicker());
  hot.apply({ added: balancer.current().slice(), removed: [] });
  const pickHotNs = pickCost(hot);

  // The naive way, on a fresh copy of the same service.
  const svc2 = service(slices);
  const naiveBalancer = newBalancer();
  const rebuild = naive(naiveBalancer);
  for (const s of svc2.initial()) {
    rebuild(s.metadata?.name ?? "", sliceEndpoints(s, "grpc"));
  }
  if (naiveBalancer.current().length !== endpoints) throw new Error("naive initial load incomplete");
  const naiveTimes: number[] = [];
  const deadline = performance.now() + NAIVE_BUDGET_MS;
  const warmUp = Math.min(EVENTS, 50);
  for (let i = 0; i < warmUp + EVENTS && performance.now() < deadline; i++) {
    const { name, slice } = svc2.event();
    const start = process.hrtime.bigint();
    const change = rebuild(name, sliceEndpoints(slice, "grpc"));
    const us = micros(start);
    checkOne(change);
    if (i >= warmUp) naiveTimes.push(us);
  }
  return { endpoints, slices, incremental, naive: naiveTimes, pickNs, pickHotNs };
}

function smallPickCost(count: number): { pickNs: number; pickHotNs: number } {
  const added = Array.from({ length: count }, (_, i) => createEndpoint(fakeIp(i + 1), PORT));
  const balancer = newBalancer();
  balancer.apply({ added, removed: [] });
  const hot = newBalancer(hotPicker());
  hot.apply({ added, removed: [] });
  return { pickNs: pickCost(balancer), pickHotNs: pickCost(hot) };
}

// ---------------------------------------------------------------------------
// Run and print

// Part 2 first, while nothing else runs in the process.
const pick50 = smallPickCost(50);
const costs = [5, 50, 500].map(eventCost);
const underLoad = await propagationUnderLoad();
const atScale = await propagationAtScale();

const cpu = cpus();
console.log(`\n# edgegate discovery benchmark\n`);
console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? "?"}, node ${process.version}, ${new Date().toISOString()}\n`);

console.log(`## 1. Propagation: EndpointSlice watch event → balancer → first call\n`);
console.log(
  `Real path: fake kube-apiserver (TLS, bearer token, list/watch) → @kubernetes/client-node informer → ` +
    `ServiceEndpoints → Balancer (round robin). t0 = just before \`api.put\`; times in ms over ${CYCLES} events each ` +
    `(nearest-rank percentiles). The API server, the gateway, the pods and the load generator share ONE process and ` +
    `event loop, so these include waiting for that loop: they are upper bounds for the gateway's own share.\n`,
);
console.log(
  `- 2 endpoints: closed-loop load of ${CONCURRENCY} concurrent unary GreetService.Greet calls over one HTTP/2 gRPC ` +
    `connection to the gateway throughout (${thousands(underLoad.calls)} calls, ${underLoad.errors} errors). ` +
    `pod-b is added to and removed from the slice; each add opens a fresh upstream HTTP/2 connection to pod-b ` +
    `(its sessions were retired when it left).`,
);
console.log(
  `- 5,000 endpoints (4,999 while pod-b is not ready) in 50 slices of ${SLICE_SIZE} ` +
    `(10.x.y.z fillers marked ready, never called): no load; pod-b's readiness flips in one slice of ${SLICE_SIZE}.\n`,
);
console.log(`| endpoints | event → | median | p95 | max | api.put (fake server, included), median | n |`);
console.log(`|---|---|---:|---:|---:|---:|---:|`);
const row = (endpoints: string, f: Figures) => {
  const v = asc(f.values);
  const put = f.put === undefined ? "—" : fmt(pct(asc(f.put), 0.5));
  console.log(`| ${endpoints} | ${f.label} | ${fmt(pct(v, 0.5))} | ${fmt(pct(v, 0.95))} | ${fmt(v.at(-1) ?? Number.NaN)} | ${put} | ${v.length} |`);
};
for (const f of underLoad.figures) row("2, under load", f);
for (const f of atScale.figures) row("5,000 / 50 slices, no load", f);

console.log(`\n## 2. Cost of one event, in-process (no network, no API server)\n`);
console.log(
  `Each event replaces one slice of ${SLICE_SIZE} with a copy in which one endpoint's readiness flipped ` +
    `(1 added or 1 removed). "Incremental" is the gateway's way: \`sliceEndpoints\` + \`ServiceEndpoints.setSlice\` + ` +
    `\`Balancer.apply\`, ${thousands(EVENTS)} events after ${thousands(EVENTS)} warm-up. "Naive rebuild" parses the ` +
    `changed slice the same way, then merges every slice's endpoints into a new set, \`diffEndpoints\` against the last ` +
    `set and \`Balancer.apply\` (up to ${thousands(EVENTS)} events within ${NAIVE_BUDGET_MS / 1000} s, after 50 warm-up). ` +
    `µs from process.hrtime.bigint() around each event. pick+release: ns per \`balancer.pick()\` + \`lease.release()\`, ` +
    `median of 5 × ${thousands(PICKS)}: round robin over all endpoints, and (last column) the same balancer with picks ` +
    `confined to 64 endpoints, which keeps the working set in the CPU caches.\n`,
);
console.log(`| endpoints / slices | µs per event, median | p99 | naive rebuild µs, median | naive p99 | naive events | pick+release ns | pick+release ns, 64 hot |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|`);
console.log(`| 50 / 1 | — | — | — | — | — | ${fmt(pick50.pickNs, 1)} | ${fmt(pick50.pickHotNs, 1)} |`);
for (const c of costs) {
  const inc = asc(c.incremental);
  const nv = asc(c.naive);
  console.log(
    `| ${thousands(c.endpoints)} / ${c.slices} | ${fmt(pct(inc, 0.5))} | ${fmt(pct(inc, 0.99))} | ${fmt(pct(nv, 0.5), 0)} | ` +
      `${fmt(pct(nv, 0.99), 0)} | ${thousands(nv.length)} | ${fmt(c.pickNs, 1)} | ${fmt(c.pickHotNs, 1)} |`,
  );
}
console.log("");
// Idle HTTP/2 sessions of the load's client would keep the process alive a while longer.
process.exit(0);
