import {
  ApiException,
  DiscoveryV1Api,
  type KubernetesObject,
  KubeConfig,
  ListWatch,
  makeInformer,
  type V1EndpointSlice,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { endpointSlice, type FakeKubeApi, type KubeObject, startFakeKubeApi } from "../support/fake-kube-api.ts";

/**
 * Drives the fake kube-apiserver only through @kubernetes/client-node, the
 * client the gateway uses: if the client is happy with the fake, tests built
 * on the fake say something about a real cluster.
 */

const slicesPath = (ns: string) => `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;

/** Waits for a condition by polling, so tests are as fast as the server and never flaky on a slow machine. */
async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function slice(ns: string, name: string, labels: Record<string, string> = {}, ip = "10.0.0.1"): KubeObject {
  return endpointSlice({
    namespace: ns,
    name,
    service: "greet",
    labels,
    ports: [{ name: "grpc", port: 50051 }],
    endpoints: [{ ip, ready: true, pod: `${name}-pod` }],
  });
}

interface WatchEvent {
  type: string;
  object: { kind?: string; apiVersion?: string; code?: number; reason?: string; metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> } };
}

/** A client-node Watch whose events and end are recorded for assertions. */
async function watch(kc: KubeConfig, path: string, params: Record<string, string | boolean | undefined> = {}) {
  const events: WatchEvent[] = [];
  const ended: { err: unknown; done: boolean } = { err: undefined, done: false };
  const controller = await new Watch(kc).watch(
    path,
    params,
    (type, object) => events.push({ type, object }),
    (err) => {
      ended.err = err;
      ended.done = true;
    },
  );
  return { events, ended, controller, names: () => events.map((e) => `${e.type} ${e.object.metadata?.name ?? ""}`) };
}

/**
 * makeInformer is declared as Informer & ObjectCache, which hides
 * latestResourceVersion(); at run time it is a ListWatch.
 */
function asListWatch<T extends KubernetesObject>(informer: ReturnType<typeof makeInformer<T>>): ListWatch<T> {
  if (!(informer instanceof ListWatch)) throw new Error("makeInformer no longer returns a ListWatch");
  return informer;
}

/** Asks for bookmarks on every watch; ListWatch itself never does (see the bookmark test). */
class BookmarkingWatch extends Watch {
  override watch(...[path, params, callback, done]: Parameters<Watch["watch"]>): ReturnType<Watch["watch"]> {
    return super.watch(path, { ...params, allowWatchBookmarks: true }, callback, done);
  }
}

describe("fake kube-apiserver, through @kubernetes/client-node", () => {
  let api: FakeKubeApi;
  let kc: KubeConfig;
  let slices: DiscoveryV1Api;
  const controllers: AbortController[] = [];

  beforeAll(async () => {
    api = await startFakeKubeApi();
    kc = new KubeConfig();
    kc.loadFromFile(await api.writeKubeconfig({ namespace: "default" }));
    slices = kc.makeApiClient(DiscoveryV1Api);
  });

  afterEach(async () => {
    for (const c of controllers.splice(0)) c.abort();
    api.endWatches();
  });

  afterAll(async () => {
    await api.close();
  });

  it("rejects a wrong token with 401 on lists and watches", async () => {
    const bad = new KubeConfig();
    bad.loadFromFile(await api.writeKubeconfig({ token: "wrong", ca: "file" }));
    const error = await bad
      .makeApiClient(DiscoveryV1Api)
      .listNamespacedEndpointSlice({ namespace: "auth" })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<unknown>).code).toBe(401);

    const w = await watch(bad, slicesPath("auth"));
    await until(() => w.ended.done, "watch done");
    expect((w.ended.err as { statusCode?: number }).statusCode).toBe(401);
    expect(api.requests.slice(-2).map((r) => [r.status, r.watch])).toEqual([
      [401, false],
      [401, true],
    ]);
  });

  it("lists with the real label and field selector syntax, items without kind", async () => {
    const ns = "list";
    api.put("endpointslices", slice(ns, "a", { tier: "front", app: "x" }));
    api.put("endpointslices", slice(ns, "b", { tier: "back", app: "x" }));
    api.put("endpointslices", slice(ns, "c", { app: "y" }));
    api.put("endpointslices", slice("elsewhere", "d", { app: "x" }));
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await slices.listNamespacedEndpointSlice({ namespace: ns, labelSelector, fieldSelector })).items.map((i) => i.metadata?.name);

    expect(await names()).toEqual(["a", "b", "c"]);
    expect(await names("app=x")).toEqual(["a", "b"]);
    expect(await names("app==y")).toEqual(["c"]);
    expect(await names("app!=x")).toEqual(["c"]);
    expect(await names("tier")).toEqual(["a", "b"]);
    expect(await names("!tier")).toEqual(["c"]);
    expect(await names("tier in (front, middle)")).toEqual(["a"]);
    expect(await names("tier notin (front)")).toEqual(["b", "c"]);
    expect(await names("app=x,tier!=front")).toEqual(["b"]);
    expect(await names("kubernetes.io/service-name=greet,app in (y)")).toEqual(["c"]);
    expect(await names(undefined, "metadata.name=b")).toEqual(["b"]);
    expect(await names(undefined, "metadata.name!=b,metadata.namespace=list")).toEqual(["a", "c"]);

    const list = await slices.listNamespacedEndpointSlice({ namespace: ns, labelSelector: "app=x" });
    expect(list.kind).toBe("EndpointSliceList");
    expect(list.apiVersion).toBe("discovery.k8s.io/v1");
    expect(list.metadata?.resourceVersion).toBe(api.resourceVersion());
    const [first] = list.items;
    expect(first?.kind).toBeUndefined();
    expect(first?.apiVersion).toBeUndefined();
    expect(first?.metadata?.labels?.["kubernetes.io/service-name"]).toBe("greet");
    expect(first?.endpoints?.[0]).toMatchObject({ addresses: ["10.0.0.1"], conditions: { ready: true }, targetRef: { kind: "Pod", name: "a-pod" } });
    expect(first?.ports?.[0]).toEqual({ name: "grpc", port: 50051, protocol: "TCP" });

    const all = await slices.listEndpointSliceForAllNamespaces({ labelSelector: "app=x" });
    expect(all.items.map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`)).toEqual(["elsewhere/d", "list/a", "list/b"]);

    const invalid = await names("app in (x").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((invalid as ApiException<string>).code).toBe(400);
    expect(JSON.parse((invalid as ApiException<string>).body)).toMatchObject({ kind: "Status", reason: "BadRequest", code: 400 });
  });

  it("pages with limit and continue, and reads single objects", async () => {
    const ns = "pages";
    for (const name of ["p1", "p2", "p3"]) api.put("endpointslices", slice(ns, name));
    const first = await slices.listNamespacedEndpointSlice({ namespace: ns, limit: 2 });
    expect(first.items.map((i) => i.metadata?.name)).toEqual(["p1", "p2"]);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const token = first.metadata?._continue;
    expect(token).toBeTruthy();
    // A write between pages is not seen: the pages are one consistent snapshot.
    api.put("endpointslices", slice(ns, "p0"));
    const second = await slices.listNamespacedEndpointSlice({ namespace: ns, limit: 2, _continue: token });
    expect(second.items.map((i) => i.metadata?.name)).toEqual(["p3"]);
    expect(second.metadata?._continue).toBeUndefined();
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);

    const one = await slices.readNamespacedEndpointSlice({ namespace: ns, name: "p2" });
    expect(one.kind).toBe("EndpointSlice");
    expect(one.metadata?.resourceVersion).toBe(api.get("endpointslices", ns, "p2")?.metadata.resourceVersion);
    const missing = await slices.readNamespacedEndpointSlice({ namespace: ns, name: "nope" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((missing as ApiException<string>).code).toBe(404);
    expect(JSON.parse((missing as ApiException<string>).body)).toMatchObject({ reason: "NotFound", message: 'endpointslices.discovery.k8s.io "nope" not found' });
  });

  it("watches ADDED, MODIFIED and DELETED in order, from a list's resourceVersion", async () => {
    const ns = "watch";
    api.put("endpointslices", slice(ns, "before"));
    const list = await slices.listNamespacedEndpointSlice({ namespace: ns });
    const w = await watch(kc, slicesPath(ns), { resourceVersion: list.metadata?.resourceVersion });
    controllers.push(w.controller);
    await until(() => api.openWatches("endpointslices") === 1, "watch open");

    api.put("endpointslices", slice(ns, "s1"));
    api.put("endpointslices", slice(ns, "s1", {}, "10.0.0.2"));
    // An identical replace is a no-op on a real server: no event.
    api.put("endpointslices", slice(ns, "s1", {}, "10.0.0.2"));
    api.remove("endpointslices", ns, "s1");
    await until(() => w.events.length >= 3, "three events");
    expect(w.names()).toEqual(["ADDED s1", "MODIFIED s1", "DELETED s1"]);
    const rvs = w.events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    expect(rvs[2]).toBe(Number(api.resourceVersion()));
    for (const e of w.events) expect([e.object.kind, e.object.apiVersion]).toEqual(["EndpointSlice", "discovery.k8s.io/v1"]);

    // Without a resourceVersion, a watch starts with the current state as ADDED events.
    const fresh = await watch(kc, slicesPath(ns));
    controllers.push(fresh.controller);
    await until(() => fresh.events.length >= 1, "initial ADDED");
    expect(fresh.names()).toEqual(["ADDED before"]);

    // From an old resourceVersion, history is replayed.
    const replay = await watch(kc, slicesPath(ns), { resourceVersion: list.metadata?.resourceVersion });
    controllers.push(replay.controller);
    await until(() => replay.events.length >= 3, "replayed events");
    expect(replay.names()).toEqual(w.names());
  });

  it("turns selector transitions into ADDED and DELETED", async () => {
    const ns = "transitions";
    const w = await watch(kc, slicesPath(ns), { resourceVersion: api.resourceVersion(), labelSelector: "app=x" });
    controllers.push(w.controller);
    await until(() => api.openWatches() === 1, "watch open");

    api.put("endpointslices", slice(ns, "t", { app: "x" }));
    api.put("endpointslices", slice(ns, "t", { app: "y" })); // stops matching
    const leftAt = api.resourceVersion();
    api.put("endpointslices", slice(ns, "t", { app: "y" }, "10.0.0.9")); // still not matching: nothing
    api.put("endpointslices", slice(ns, "other", { app: "y" })); // never matches: nothing
    api.put("endpointslices", slice(ns, "t", { app: "x" })); // matches again
    api.put("endpointslices", slice(ns, "t", { app: "x" }, "10.0.0.7"));
    api.remove("endpointslices", ns, "t");
    await until(() => w.events.length >= 5, "five events");
    expect(w.names()).toEqual(["ADDED t", "DELETED t", "ADDED t", "MODIFIED t", "DELETED t"]);
    // The DELETED of a transition carries the old content at the new resourceVersion.
    expect(w.events[1]?.object.metadata?.labels?.["app"]).toBe("x");
    expect(w.events[1]?.object.metadata?.resourceVersion).toBe(leftAt);
  });

  it("sends BOOKMARKs only when asked; they move a ListWatch's resourceVersion", async () => {
    const ns = "bookmarks";
    const raw = await watch(kc, slicesPath(ns), { resourceVersion: api.resourceVersion(), allowWatchBookmarks: true });
    controllers.push(raw.controller);
    api.put("endpointslices", slice(ns, "m", { app: "match" }));
    const list = () => slices.listNamespacedEndpointSlice({ namespace: ns, labelSelector: "app=match" });
    const plain = asListWatch(makeInformer(kc, slicesPath(ns), list, "app=match"));
    const bookmarking = new ListWatch<V1EndpointSlice>(slicesPath(ns), new BookmarkingWatch(kc), list, false, "app=match");
    await plain.start();
    await bookmarking.start();
    await until(() => api.openWatches() === 3, "three watches");
    const synced = plain.latestResourceVersion();
    expect(bookmarking.latestResourceVersion()).toBe(synced);

    // Writes the selector filters out leave both informers behind...
    api.put("endpointslices", slice(ns, "n", { app: "other" }));
    api.bookmark();
    const current = api.resourceVersion();
    // ...until a bookmark tells the one that asked for bookmarks where the cluster is.
    await until(() => bookmarking.latestResourceVersion() === current, "bookmark reaches the ListWatch");
    await until(() => raw.events.some((e) => e.type === "BOOKMARK"), "raw bookmark");
    expect(raw.events.find((e) => e.type === "BOOKMARK")?.object).toEqual({
      kind: "EndpointSlice",
      apiVersion: "discovery.k8s.io/v1",
      metadata: { resourceVersion: current },
    });
    // makeInformer's ListWatch never sends allowWatchBookmarks, so it gets none.
    expect(plain.latestResourceVersion()).toBe(synced);
    const informerWatches = api.requests.filter((r) => r.watch && r.path === slicesPath(ns) && r.query["labelSelector"] === "app=match");
    expect(informerWatches.map((r) => r.query["allowWatchBookmarks"])).toEqual([undefined, "true"]);

    await plain.stop();
    await bookmarking.stop();
  });

  it("answers a watch from a compacted resourceVersion with ERROR 410; the informer re-lists", async () => {
    const ns = "expired";
    api.put("endpointslices", slice(ns, "a1", { app: "a" }));
    api.put("endpointslices", slice(ns, "a2", { app: "a" }));
    const informer = asListWatch(
      makeInformer(kc, slicesPath(ns), () => slices.listNamespacedEndpointSlice({ namespace: ns, labelSelector: "app=a" }), "app=a"),
    );
    const deleted: string[] = [];
    const errors: unknown[] = [];
    informer.on("delete", (o: KubernetesObject) => deleted.push(o.metadata?.name ?? ""));
    informer.on("error", (e: unknown) => errors.push(e));
    await informer.start();
    await until(() => api.openWatches() === 1, "informer watching");
    const stale = informer.latestResourceVersion();

    // The informer does not see this write (filtered out), so its resourceVersion falls behind...
    api.put("endpointslices", slice(ns, "b1", { app: "b" }));
    // ...and history it would resume from is gone.
    api.compact();
    const expired = await watch(kc, slicesPath(ns), { resourceVersion: stale });
    await until(() => expired.ended.done, "expired watch ends");
    expect(expired.ended.err).toBeNull();
    expect(expired.events).toEqual([
      {
        type: "ERROR",
        object: {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: `too old resource version: ${stale} (${api.resourceVersion()})`,
          reason: "Expired",
          code: 410,
        },
      },
    ]);

    // The informer's watch ends (as at a server-side timeout); what changes meanwhile it must learn from a re-list.
    api.endWatches();
    api.remove("endpointslices", ns, "a1");
    api.put("endpointslices", slice(ns, "a3", { app: "a" }));
    await until(() => informer.list().length === 2 && informer.get("a3", ns), "informer re-listed");
    expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(["a2", "a3"]);
    expect(deleted).toEqual(["a1"]);
    expect(errors).toEqual([]);
    // It watches again (after client-node's 1 s reconnect backoff) from the re-list's resourceVersion.
    await until(() => api.openWatches() === 1, "informer watching again");
    expect(informer.latestResourceVersion()).toBe(api.resourceVersion());
    const lists = api.requests.filter((r) => r.path === slicesPath(ns) && !r.watch);
    expect(lists).toHaveLength(2);
    await informer.stop();
  });

  it("breaks watches mid-stream on dropWatches: done() gets the error and the informer stops", async () => {
    const ns = "dropped";
    const w = await watch(kc, slicesPath(ns));
    const informer = makeInformer(kc, slicesPath(ns), () => slices.listNamespacedEndpointSlice({ namespace: ns }));
    const errors: unknown[] = [];
    informer.on("error", (e: unknown) => errors.push(e));
    await informer.start();
    await until(() => api.openWatches() === 2, "two watches");

    api.dropWatches();
    await until(() => w.ended.done, "watch done");
    expect(w.ended.err).toBeInstanceOf(TypeError);
    expect((w.ended.err as Error).message).toBe("terminated");
    expect((w.ended.err as { cause?: { code?: string } }).cause?.code).toBe("UND_ERR_SOCKET");
    await until(() => errors.length === 1, "informer error");
    // ListWatch gives up on anything but 410 and timeouts: restarting is the caller's job.
    expect(api.openWatches()).toBe(0);
    await informer.stop();
  });

  it("refuses connections while stopped and serves the same state after start", async () => {
    const ns = "restart";
    api.put("endpointslices", slice(ns, "r1"));
    const open = await watch(kc, slicesPath(ns));
    await until(() => open.events.length === 1, "initial event");
    const rv = api.resourceVersion();

    await api.stop();
    await until(() => open.ended.done, "open watch broken");
    expect(open.ended.err).toBeTruthy();
    const refused = await slices.listNamespacedEndpointSlice({ namespace: ns }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");
    const w = await watch(kc, slicesPath(ns));
    await until(() => w.ended.done, "watch refused");
    expect((w.ended.err as { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");

    await api.start();
    const list = await slices.listNamespacedEndpointSlice({ namespace: ns });
    expect(list.items.map((i) => i.metadata?.name)).toEqual(["r1"]);
    expect(list.metadata?.resourceVersion).toBe(rv);
    const again = await watch(kc, slicesPath(ns), { resourceVersion: rv });
    controllers.push(again.controller);
    await until(() => api.openWatches() === 1, "watching again");
    api.put("endpointslices", slice(ns, "r2"));
    await until(() => again.events.length === 1, "live event after restart");
    expect(again.names()).toEqual(["ADDED r2"]);
  });

  it("fails the next requests on demand, and ends watches after timeoutSeconds", async () => {
    const ns = "faults";
    api.failNext(1, 503);
    const failed = await slices.listNamespacedEndpointSlice({ namespace: ns }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((failed as ApiException<string>).code).toBe(503);
    expect(JSON.parse((failed as ApiException<string>).body)).toMatchObject({ reason: "ServiceUnavailable", code: 503 });
    await expect(slices.listNamespacedEndpointSlice({ namespace: ns })).resolves.toBeTruthy();

    const w = await watch(kc, slicesPath(ns), { timeoutSeconds: "0.05" });
    await until(() => w.ended.done, "watch timed out");
    expect(w.ended.err).toBeNull();
  });
});
