import { CoreV1Api, NetworkingV1Api } from "@kubernetes/client-node";
import { afterEach, beforeAll, afterAll, describe, expect, it, vi } from "vitest";
import { KubernetesDiscovery } from "../../src/discovery/kubernetes/kubernetes-discovery.ts";
import { FORBIDDEN_GRACE_MS } from "../../src/discovery/kubernetes/resilient-informer.ts";
import type { EndpointChange } from "../../src/discovery/endpoint-source.ts";
import { createLogger } from "../../src/log/logger.ts";
import { endpointSlice, type FakeKubeApi, startFakeKubeApi } from "../support/fake-kube-api.ts";

const NS = "shop";

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly error?: string;
}

// Issue 14: a kube-apiserver that is still starting answers 403 for some
// tens of milliseconds, until its RBAC authorizer has synced. The gateway,
// started with its cluster, logged a warning with an RBAC hint that named
// endpointslices for every watch (Ingresses and Secrets included). Now a 403
// in the first seconds of a watch that never synced is retried quietly, and
// a 403 that lasts names the resource of the watch that failed.
describe("kubernetes watches answered 403 Forbidden", () => {
  let api: FakeKubeApi;
  let kubeconfig: string;
  let discovery: KubernetesDiscovery | undefined;
  let lines: LogLine[];
  /** How far the clock moves each time it is read. */
  let step: number;

  beforeAll(async () => {
    api = await startFakeKubeApi();
    kubeconfig = await api.writeKubeconfig({ namespace: NS });
    api.put(
      "endpointslices",
      endpointSlice({ namespace: NS, name: "greet-1", service: "greet", ports: [{ name: "grpc", port: 50051 }], endpoints: [{ ip: "10.0.0.1" }] }),
    );
  });
  afterEach(() => discovery?.close());
  afterAll(async () => {
    await api.close();
  });

  function start(clockStep = 0): KubernetesDiscovery {
    lines = [];
    let clock = 1_000_000;
    step = clockStep;
    discovery = new KubernetesDiscovery({
      settings: { kubeconfig, ingress: undefined },
      log: createLogger("debug", (line) => lines.push(JSON.parse(line) as LogLine)),
      env: () => undefined,
      backoff: { initialMs: 10, maxMs: 20 },
      now: () => (clock += step),
    });
    return discovery;
  }
  const warnings = () => lines.filter((l) => l.level === "warn");

  it("retries the 403s of an API server still starting quietly, then syncs", async () => {
    const kube = start();
    const addresses: string[] = [];
    const source = kube.source({ kind: "kubernetes", namespace: NS, service: "greet", port: "grpc" });
    source.subscribe((change: EndpointChange) => addresses.push(...change.added.map((e) => e.address)));
    api.failNext(3, 403);
    kube.start();
    await vi.waitFor(() => expect(addresses).toEqual(["10.0.0.1:50051"]), { timeout: 5_000 });
    expect(source.synced()).toBe(true);
    const quiet = lines.filter((l) => l.level === "debug" && l.msg.includes("forbidden so far"));
    expect(quiet.length).toBeGreaterThanOrEqual(1);
    expect(warnings()).toEqual([]);
  });

  it("warns once the 403s outlast the grace, naming the resource of each watch that failed", async () => {
    // Every reading of the clock is the grace later: the RBAC rules are really missing.
    const kube = start(FORBIDDEN_GRACE_MS);
    const ingresses = kube.informer({
      path: "/apis/networking.k8s.io/v1/ingresses",
      list: () => kube.api(NetworkingV1Api).listIngressForAllNamespaces(),
      what: "Ingresses in all namespaces",
      onChange: () => {},
    });
    const secrets = kube.informer({
      path: `/api/v1/namespaces/${NS}/secrets`,
      list: () => kube.api(CoreV1Api).listNamespacedSecret({ namespace: NS }),
      what: `Secrets in ${NS}`,
      onChange: () => {},
    });
    kube.source({ kind: "kubernetes", namespace: NS, service: "greet", port: "grpc" });
    api.failNext(1_000_000, 403); // forbidden until the RBAC rules are fixed, below
    kube.start();
    const hints = () =>
      [...new Set(warnings().map((l) => `${l.msg.split(" failed")[0]} → ${/needs get, list and watch on (\S+)\)/.exec(l.error ?? "")?.[1]}`))].sort();
    await vi.waitFor(() => expect(hints()).toHaveLength(3), { timeout: 5_000 });
    expect(hints()).toEqual([
      "watch of EndpointSlices in shop → endpointslices.discovery.k8s.io",
      "watch of Ingresses in all namespaces → ingresses.networking.k8s.io",
      `watch of Secrets in ${NS} → secrets`,
    ]);
    api.failNext(0);
    await vi.waitFor(() => expect(ingresses.synced() && secrets.synced()).toBe(true), { timeout: 5_000 });
  });
});
