import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KubernetesDiscovery } from "../../src/discovery/kubernetes/kubernetes-discovery.ts";
import type { EndpointChange } from "../../src/discovery/endpoint-source.ts";
import { createLogger } from "../../src/log/logger.ts";
import { endpointSlice, type FakeKubeApi, startFakeKubeApi } from "../support/fake-kube-api.ts";

const NS = "shop";

/** The addresses a subscriber holds after applying every change it was sent. */
function follower() {
  const set = new Set<string>();
  return {
    listener: (change: EndpointChange) => {
      for (const e of change.removed) set.delete(e.address);
      for (const e of change.added) set.add(e.address);
    },
    addresses: () => [...set].sort(),
  };
}

// A Service tracked after the watch started (an Ingress naming a new
// backend, issue 4) restarts the namespace's watch with a wider selector.
describe("kubernetes discovery: tracking a Service after the watch started", () => {
  let api: FakeKubeApi;
  let discovery: KubernetesDiscovery;
  const logs: string[] = [];
  const put = (name: string, service: string, ips: string[]) =>
    api.put(
      "endpointslices",
      endpointSlice({ namespace: NS, name, service, ports: [{ name: "grpc", port: 50051 }], endpoints: ips.map((ip) => ({ ip })) }),
    );

  beforeAll(async () => {
    api = await startFakeKubeApi();
    discovery = new KubernetesDiscovery({
      settings: { kubeconfig: await api.writeKubeconfig({ namespace: NS }), ingress: undefined },
      log: createLogger("debug", (line) => logs.push(line)),
      env: () => undefined,
    });
  });
  afterAll(async () => {
    discovery.close();
    await api.close();
  });

  it("widens the selector, keeps the first Service right, and drops slices deleted during the switch", async () => {
    put("greet-1", "greet", ["10.0.0.1"]);
    put("greet-2", "greet", ["10.0.0.2"]);
    put("shop-1", "shop", ["10.0.1.1"]);
    const greet = follower();
    const greetSource = discovery.source({ kind: "kubernetes", namespace: undefined, service: "greet", port: "grpc" });
    greetSource.subscribe(greet.listener);
    discovery.start();
    await vi.waitFor(() => expect(greet.addresses()).toEqual(["10.0.0.1:50051", "10.0.0.2:50051"]));
    expect(greetSource.synced()).toBe(true);

    await api.stop(); // the switch happens while the old watch cannot see the deletion
    api.remove("endpointslices", NS, "greet-2");
    const shop = follower();
    const shopSource = discovery.source({ kind: "kubernetes", namespace: NS, service: "shop", port: "grpc" });
    shopSource.subscribe(shop.listener);
    expect(shopSource.synced()).toBe(false);
    await api.start();

    await vi.waitFor(() => expect(shop.addresses()).toEqual(["10.0.1.1:50051"]), { timeout: 10_000 });
    expect(shopSource.synced()).toBe(true);
    await vi.waitFor(() => expect(greet.addresses()).toEqual(["10.0.0.1:50051"]));
    await vi.waitFor(() => expect(api.openWatches("endpointslices")).toBe(1));
    const last = api.requests.filter((r) => r.watch).at(-1);
    expect(last?.query.labelSelector).toBe("kubernetes.io/service-name in (greet,shop)");
  });

  it("gives a second port of a watched Service its endpoints from the cache at once", () => {
    const second = follower();
    discovery.source({ kind: "kubernetes", namespace: NS, service: "greet", port: 50051 }).subscribe(second.listener);
    expect(second.addresses()).toEqual(["10.0.0.1:50051"]);
  });
});
