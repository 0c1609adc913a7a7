import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError } from "../support/call-error.ts";
import { denoGaps, unlessOnDeno } from "../support/deno-gaps.ts";
import { endpointSlice, type EndpointSliceSpec, type FakeKubeApi, startFakeKubeApi } from "../support/fake-kube-api.ts";
import { createTransport, type Harness, startHarness } from "../support/harness.ts";

const NS = "shop";
const SLICES = "endpointslices";

type Endpoints = EndpointSliceSpec["endpoints"];

/** Pods a..f listen on 127.0.0.11..16, all on one port, as pods of a Deployment do. */
function ip(pod: string): string {
  return `127.0.0.${11 + pod.charCodeAt(0) - 97}`;
}

function ready(...pods: string[]): Endpoints {
  return pods.map((pod) => ({ ip: ip(pod), ready: true, pod: `greet-${pod}` }));
}

// The test principle of the seeds: drive the cluster, then look at which
// pods answer calls made through the gateway over one client connection.
describe("kubernetes discovery: traffic follows the EndpointSlices", () => {
  let api: FakeKubeApi;
  let harness: Harness;
  let port: number;

  const slice = (name: string, endpoints: Endpoints, ports = [{ name: "grpc", port }]) =>
    api.put(SLICES, endpointSlice({ namespace: NS, name, service: "greet", ports, endpoints }));

  /** Which pods answer 18 calls now (the set, sorted). */
  async function answering(): Promise<string[]> {
    const client = createClient(GreetService, createTransport("grpc", harness.baseUrl));
    const pods = new Set<string>();
    for (let i = 0; i < 18; i++) {
      pods.add((await client.greet({ name: "k8s" })).pod);
    }
    return [...pods].sort();
  }

  const eventually = (expected: string[]) =>
    vi.waitFor(async () => expect(await answering()).toEqual(expected), { timeout: 10_000, interval: 20 });

  const lists = () => api.requests.filter((r) => r.path.endsWith(`/${SLICES}`) && !r.watch).length;
  const watches = () => api.requests.filter((r) => r.path.endsWith(`/${SLICES}`) && r.watch);

  beforeAll(async () => {
    api = await startFakeKubeApi();
    const kubeconfig = await api.writeKubeconfig({ namespace: NS });
    harness = await startHarness({
      pods: 6,
      podsOnLoopbackAddresses: true,
      discovery: { kubernetes: { service: "greet", port: "grpc" } },
      config: { kubernetes: { kubeconfig } },
    });
    port = harness.pods[0]?.address.port ?? 0;
    slice("greet-1", ready("a", "b", "c"));
    await vi.waitFor(async () => expect(await harness.gateway.ready()).toBe(true));
  });
  afterAll(async () => {
    await harness.close();
    await api.close();
  });

  it("lists and watches with the Service's label selector, bookmarks on, the context's namespace", async () => {
    // Ready means listed; the watch request follows at once but may not have reached the server yet.
    await vi.waitFor(() => expect(watches().length).toBeGreaterThan(0));
    const [list] = api.requests.filter((r) => !r.watch);
    expect(list?.path).toBe(`/apis/discovery.k8s.io/v1/namespaces/${NS}/${SLICES}`);
    expect(list?.query.labelSelector).toBe("kubernetes.io/service-name in (greet)");
    const [watch] = watches();
    expect(watch?.query).toMatchObject({
      labelSelector: "kubernetes.io/service-name in (greet)",
      allowWatchBookmarks: "true",
    });
  });

  it("balances over the ready pods of the slice", async () => {
    await eventually(["pod-a", "pod-b", "pod-c"]);
  });

  it("follows a scale-up 3 → 5 and a scale-down 5 → 2", async () => {
    slice("greet-1", ready("a", "b", "c", "d", "e"));
    await eventually(["pod-a", "pod-b", "pod-c", "pod-d", "pod-e"]);
    slice("greet-1", ready("a", "b"));
    await eventually(["pod-a", "pod-b"]);
  });

  it("merges a second slice, counts a pod listed in both once, and a deleted slice takes only its own", async () => {
    slice("greet-2", ready("b", "c", "d"));
    await eventually(["pod-a", "pod-b", "pod-c", "pod-d"]);
    // pod-b is in both slices: exactly one share of the calls, not two.
    const client = createClient(GreetService, createTransport("grpc", harness.baseUrl));
    const counts = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const { pod } = await client.greet({ name: "share" });
      counts.set(pod, (counts.get(pod) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ "pod-a": 10, "pod-b": 10, "pod-c": 10, "pod-d": 10 });
    api.remove(SLICES, NS, "greet-1");
    await eventually(["pod-b", "pod-c", "pod-d"]);
  });

  it("sends nothing to not-ready pods; serving-and-terminating ones only while none is ready", async () => {
    slice("greet-2", [
      { ip: ip("b"), ready: true },
      { ip: ip("c"), ready: false },
      { ip: ip("d"), ready: false, serving: true, terminating: true },
    ]);
    await eventually(["pod-b"]);
    slice("greet-2", [
      { ip: ip("b"), ready: false, serving: true, terminating: true },
      { ip: ip("c"), ready: false },
      { ip: ip("d"), ready: false, serving: true, terminating: true },
    ]);
    await eventually(["pod-b", "pod-d"]);
    slice("greet-2", [
      { ip: ip("b"), ready: false, serving: false, terminating: true },
      { ip: ip("d"), ready: false, serving: false, terminating: true },
    ]);
    const client = createClient(GreetService, createTransport("connect-h1", harness.baseUrl));
    await vi.waitFor(async () => {
      const error = await callError(client.greet({ name: "none" }));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toBe('no endpoints available for backend "pods"');
    });
  });

  it("resolves the port by name in each slice, and ignores a slice without it", async () => {
    slice("greet-2", ready("a", "b"), [{ name: "metrics", port: 9 }, { name: "grpc", port }]);
    slice("greet-3", ready("c"), [{ name: "grpc", port }, { name: "http", port: 8080 }]);
    slice("greet-4", ready("d"), [{ name: "http", port }]);
    await eventually(["pod-a", "pod-b", "pod-c"]);
    api.remove(SLICES, NS, "greet-3");
    api.remove(SLICES, NS, "greet-4");
    await eventually(["pod-a", "pod-b"]);
  });

  it("lets a call in flight on a pod that leaves finish normally, and sends new calls elsewhere", async () => {
    const probe = createClient(ProbeService, createTransport("grpc", harness.baseUrl));
    const slow = probe.probe({ tag: "leaving", sleepMs: 1_000 });
    await vi.waitFor(() => expect(harness.probes.get("leaving")).toBeDefined());
    const leaving = harness.probes.get("leaving")?.pod as string;
    const staying = leaving === "pod-a" ? "pod-b" : "pod-a";
    slice("greet-2", ready(staying.slice(4)));
    await eventually([staying]);
    await expect(slow).resolves.toMatchObject({ pod: leaving });
  });

  unlessOnDeno(denoGaps.droppedFetchBody)("re-watches from the last resourceVersion after a dropped connection, without a re-list", async () => {
    const listsBefore = lists();
    const rv = api.resourceVersion();
    api.dropWatches();
    slice("greet-2", ready("c", "e"));
    await eventually(["pod-c", "pod-e"]);
    expect(lists()).toBe(listsBefore);
    expect(watches().at(-1)?.query.resourceVersion).toBe(rv);
  });

  unlessOnDeno(denoGaps.droppedFetchBody)("re-watches after the server ends a watch (its timeout), without a re-list", async () => {
    const listsBefore = lists();
    const watchesBefore = watches().length;
    api.endWatches();
    await vi.waitFor(() => expect(watches().length).toBeGreaterThan(watchesBefore));
    slice("greet-2", ready("a", "f"));
    await eventually(["pod-a", "pod-f"]);
    expect(lists()).toBe(listsBefore);
  });

  unlessOnDeno(denoGaps.droppedFetchBody)("re-watches from a bookmark's resourceVersion when other objects moved it on", async () => {
    // Slices of another Service advance the resourceVersion without an event for this watch.
    api.put(SLICES, endpointSlice({ namespace: NS, name: "other-1", service: "other", ports: [{ name: "grpc", port }], endpoints: ready("a") }));
    const rv = api.resourceVersion();
    api.bookmark();
    await new Promise((resolve) => setTimeout(resolve, 100));
    api.dropWatches();
    await vi.waitFor(() => expect(watches().at(-1)?.query.resourceVersion).toBe(rv));
  });

  unlessOnDeno(denoGaps.droppedFetchBody)("re-lists after 410 Gone, when the history it would resume from was compacted", async () => {
    const listsBefore = lists();
    await api.stop();
    slice("greet-2", ready("b", "d"));
    api.put(SLICES, endpointSlice({ namespace: NS, name: "greet-5", service: "greet", ports: [{ name: "grpc", port }], endpoints: ready("e") }));
    api.compact();
    await api.start();
    await eventually(["pod-b", "pod-d", "pod-e"]);
    expect(lists()).toBeGreaterThan(listsBefore);
    api.remove(SLICES, NS, "greet-5");
    await eventually(["pod-b", "pod-d"]);
  });

  unlessOnDeno(denoGaps.droppedFetchBody)("keeps serving the last known pods while the API server is down, and catches up when it is back", async () => {
    await api.stop();
    const failuresBefore = harness.logs.filter((l) => l.includes("watch of EndpointSlices in")).length;
    await vi.waitFor(
      () =>
        expect(harness.logs.filter((l) => l.includes("watch of EndpointSlices in")).length).toBeGreaterThan(
          failuresBefore + 1,
        ),
      { timeout: 5_000 },
    );
    expect(await answering()).toEqual(["pod-b", "pod-d"]);
    expect(await harness.gateway.ready()).toBe(true);
    slice("greet-2", ready("a", "c"));
    await api.start();
    await eventually(["pod-a", "pod-c"]);
  });

  unlessOnDeno(denoGaps.droppedFetchBody)("restarts after the API server answers errors (the informer stops on them)", async () => {
    api.failNext(3, 500);
    api.dropWatches();
    slice("greet-2", ready("b", "f"));
    await eventually(["pod-b", "pod-f"]);
    expect(harness.logs.some((l) => l.includes("watch of EndpointSlices in") && l.includes("HTTP 500"))).toBe(true);
  });

  unlessOnDeno(denoGaps.droppedFetchBody)("counts watch events and restarts in the metrics", async () => {
    const text = await (await fetch(`http://127.0.0.1:${harness.gateway.admin?.port}/metrics`)).text();
    expect(Number(/edgegate_discovery_events_total\{source="kubernetes",resource="endpointslices"\} (\d+)/.exec(text)?.[1])).toBeGreaterThan(10);
    expect(Number(/edgegate_watch_restarts_total\{resource="endpointslices"\} (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
  });

  it("never writes the bearer token to the logs", () => {
    expect(harness.logs.join("\n")).not.toContain(api.token);
  });
});

describe("kubernetes discovery: readiness, sharing, credentials", () => {
  let api: FakeKubeApi;
  beforeAll(async () => {
    api = await startFakeKubeApi();
  });
  afterAll(() => api.close());

  it("shares one watch per namespace between backends, and reports ready only once every namespace has synced", async () => {
    const kubeconfig = await api.writeKubeconfig();
    await api.stop();
    const kube = (namespace: string, service: string) => ({ kubernetes: { namespace, service, port: 50051 } });
    const harness = await startHarness({
      pods: 0,
      config: {
        kubernetes: { kubeconfig },
        routes: [{ backend: "a" }],
        backends: [
          { name: "a", discovery: kube("one", "greet") },
          { name: "b", discovery: kube("one", "shop") },
          { name: "c", discovery: kube("two", "greet") },
        ],
      },
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await harness.gateway.ready()).toBe(false);
      const readyz = () => fetch(`http://127.0.0.1:${harness.gateway.admin?.port}/readyz`).then((r) => r.status);
      expect(await readyz()).toBe(503);
      await api.start();
      // Services without any slice count as synced once listed: an empty Service is a fact, not a failure.
      await vi.waitFor(async () => expect(await harness.gateway.ready()).toBe(true), { timeout: 10_000 });
      expect(await readyz()).toBe(200);
      await vi.waitFor(() => expect(api.openWatches(SLICES)).toBe(2));
      const selectors = api.requests.filter((r) => r.watch).map((r) => `${r.path} ${r.query.labelSelector}`);
      expect(new Set(selectors)).toEqual(
        new Set([
          `/apis/discovery.k8s.io/v1/namespaces/one/${SLICES} kubernetes.io/service-name in (greet,shop)`,
          `/apis/discovery.k8s.io/v1/namespaces/two/${SLICES} kubernetes.io/service-name in (greet)`,
        ]),
      );
    } finally {
      await harness.close();
    }
  });

  it("stays unready with a clear log when the API server rejects the token", async () => {
    const kubeconfig = await api.writeKubeconfig({ token: "not-the-token" });
    const harness = await startHarness({
      pods: 0,
      discovery: { kubernetes: { namespace: NS, service: "greet", port: "grpc" } },
      config: { kubernetes: { kubeconfig } },
    });
    try {
      await vi.waitFor(() => expect(harness.logs.some((l) => l.includes("HTTP 401"))).toBe(true));
      expect(await harness.gateway.ready()).toBe(false);
      expect(harness.logs.join("\n")).not.toContain(api.token);
    } finally {
      await harness.close();
    }
  });

  it("fails at startup, naming the key, when the kubeconfig file is missing", async () => {
    await expect(
      startHarness({
        pods: 0,
        discovery: { kubernetes: { service: "greet", port: "grpc" } },
        config: { kubernetes: { kubeconfig: "/nonexistent/kubeconfig" } },
      }),
    ).rejects.toThrow("cannot load the kubeconfig /nonexistent/kubeconfig (kubernetes.kubeconfig)");
  });
});
