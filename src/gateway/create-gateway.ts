import { Code, ConnectError } from "@connectrpc/connect";
import { adminState } from "../admin/admin-state.ts";
import { createAdminApp } from "../admin/create-admin-app.ts";
import { type Backend, createBackend } from "../backend/backend.ts";
import type { BackendConfig, DiscoveryConfig, GatewayConfig, HostPort, KeepaliveConfig } from "../config/gateway-config.ts";
import { DEFAULT_KEEPALIVE, DEFAULT_OUTLIER_DETECTION, DEFAULT_RETRY, DEFAULT_SCHEMAS } from "../config/validate-config.ts";
import { withCors } from "../cors/with-cors.ts";
import { Registry } from "prom-client";
import { createAccessLog } from "../observe/access-log.ts";
import { createAdminStateObserver } from "../observe/admin-state.ts";
import { createGatewayMetrics } from "../observe/call-metrics.ts";
import { createCallTracing } from "../observe/call-tracing.ts";
import { type CallObserver, observers } from "../observe/call-observer.ts";
import { createDnsSource } from "../discovery/dns-source.ts";
import type { EndpointSource } from "../discovery/endpoint-source.ts";
import type { KubernetesDiscovery } from "../discovery/kubernetes/kubernetes-discovery.ts";
import { createStaticSource } from "../discovery/static-source.ts";
import type { IngressController } from "../ingress/ingress-controller.ts";
import type { Logger } from "../log/logger.ts";
import { configRouteEntries, createRouteTable, type RouteEntry, type RouteTable } from "../route/route-table.ts";
import type { BoundListener, Runtime } from "../runtime.ts";
import { loadCertificateFiles } from "../tls/certificate-files.ts";
import { CertificateStore } from "../tls/certificate-store.ts";
import { createBackendSchema } from "../schema/create-backend-schema.ts";
import type { UpstreamContext } from "../upstream/call-upstream.ts";
import type { UpstreamClient } from "../upstream/upstream-client.ts";
import { createCallHandler } from "./create-call-handler.ts";

/** A running gateway. */
export interface Gateway {
  /** Bound addresses of the call listeners, in config order. */
  readonly listeners: readonly HostPort[];
  /** Bound address of the admin listener, when configured. */
  readonly admin: HostPort | undefined;
  /** Backends by name: the config's, and `ingress:<ns>/<service>:<port>` ones from Ingresses. */
  readonly backends: ReadonlyMap<string, Backend>;
  /** Certificates the TLS listeners serve. */
  readonly certificates: CertificateStore;
  /** True when every configured backend's discovery has synced, and the Ingress source too when on; false once shutting down. */
  ready(): boolean;
  /**
   * Graceful shutdown: `/readyz` answers 503 at once, the call listeners stop
   * accepting, HTTP/2 clients get GOAWAY (they open new connections
   * elsewhere), HTTP/1.1 keep-alive connections close when idle (`Connection:
   * close` on responses still to come), and calls in flight may finish
   * within `gracePeriodMs`. The ones still running at its end are cancelled
   * (upstream too) and answered Unavailable, in its last second (a tenth of
   * it when shorter), and what connections are left are then cut: the
   * shutdown is over by `gracePeriodMs`. Then the admin listener, discovery
   * and upstream connections close. Calling it again returns the same
   * shutdown.
   */
  shutdown(gracePeriodMs: number): Promise<void>;
  /** A shutdown with a short grace period (2 s), for tests and the demo. */
  close(): Promise<void>;
}

/** Grace period of `Gateway.close()`. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The end of a grace period kept for answering the calls still running
 * (cancelled, Unavailable) before their connections are cut: this long, or a
 * tenth of the grace period when that is shorter.
 */
const CANCEL_ANSWER_MS = 1_000;

/**
 * Wires the stages from config: discovery sources into balancers, the route
 * table (config routes, then Ingress routes), CORS around the call handler,
 * certificates into the TLS listeners, the admin app. No logic of its own
 * lives here.
 */
export async function createGateway(config: GatewayConfig, runtime: Runtime, log: Logger): Promise<Gateway> {
  const clients: UpstreamClient[] = [];
  const cleanups: Array<() => void> = [];
  const bound: BoundListener[] = [];
  let admin: BoundListener | undefined;
  const backends = new Map<string, Backend>();
  const inFlight = new Set<AbortController>();
  const shutdown = async (gracePeriodMs: number) => {
    // Calls drain first (their pods stay reachable meanwhile); the admin listener answers 503 on /readyz until they have.
    // The calls still running in the last moments of the grace period are cancelled, upstream too, and answered
    // Unavailable in their own protocol; only then are the connections that are left cut.
    const answerMs = Math.min(CANCEL_ANSWER_MS, gracePeriodMs / 10);
    const cancel = setTimeout(() => {
      const reason = new ConnectError("the gateway is shutting down", Code.Unavailable);
      for (const call of inFlight) call.abort(reason);
    }, gracePeriodMs - answerMs);
    await Promise.all(bound.map((l) => l.close(gracePeriodMs)));
    clearTimeout(cancel);
    await admin?.close();
    for (const backend of backends.values()) backend.close();
    for (const cleanup of cleanups) cleanup();
    for (const client of clients) client.close();
  };
  try {
    const upstreamFor = await upstreamContexts(config, runtime, clients, log);
    const certificates = new CertificateStore();
    const registry = new Registry();
    const metrics = createGatewayMetrics(registry, backends, certificates, () =>
      clients.reduce((sum, client) => sum + (client.sessionCount?.() ?? 0), 0),
    );
    // client-node is loaded only when something watches Kubernetes: a static or DNS gateway starts without it.
    const needsKubernetes =
      config.kubernetes.ingress !== undefined || config.backends.some((b) => b.discovery.kind === "kubernetes");
    const kubernetes = needsKubernetes
      ? new (await import("../discovery/kubernetes/kubernetes-discovery.ts")).KubernetesDiscovery({
          settings: config.kubernetes,
          log,
          env: (name) => runtime.env(name),
          events: {
            event: (resource) => metrics.discoveryEvent("kubernetes", resource),
            restart: (resource) => metrics.watchRestart(resource),
          },
        })
      : undefined;
    if (kubernetes !== undefined) cleanups.push(() => kubernetes.close());
    const sourceFor = (discovery: DiscoveryConfig): EndpointSource => {
      switch (discovery.kind) {
        case "static":
          return createStaticSource(discovery.endpoints);
        case "dns":
          return createDnsSource({
            config: discovery,
            resolve: runtime.resolveHost,
            log,
            onChange: () => metrics.discoveryEvent("dns", discovery.host),
          });
        case "kubernetes":
          return (kubernetes as KubernetesDiscovery).source(discovery);
      }
    };
    const makeBackend = (backendConfig: BackendConfig) => {
      const upstream = upstreamFor(backendConfig);
      return createBackend(backendConfig, sourceFor(backendConfig.discovery), upstream, (pick) =>
        createBackendSchema({
          name: backendConfig.name,
          config: backendConfig.schemas,
          upstream,
          pick,
          readBytes: (path) => runtime.readBytes(path),
          now: runtime.now,
          log,
        }),
      );
    };
    for (const backendConfig of config.backends) {
      backends.set(backendConfig.name, makeBackend(backendConfig));
    }

    const configEntries = configRouteEntries(config.routes);
    let table = createRouteTable(configEntries);
    const routes: RouteTable = {
      match: (request) => table.match(request),
      backendsForHost: (host) => table.backendsForHost(host),
    };
    let ingressEntries: readonly RouteEntry[] = [];
    const publishRoutes = (entries: readonly RouteEntry[]) => {
      ingressEntries = entries;
      table = createRouteTable([...configEntries, ...entries]);
    };

    const files = await loadCertificateFiles(
      config.listeners.flatMap((l) => l.tls?.certificates ?? []),
      certificates,
      runtime,
      log,
    );
    cleanups.push(() => files.close());

    let ingress: IngressController | undefined;
    if (config.kubernetes.ingress !== undefined && kubernetes !== undefined) {
      const { IngressController } = await import("../ingress/ingress-controller.ts");
      ingress = new IngressController({
        config: config.kubernetes.ingress,
        discovery: kubernetes,
        certificates,
        runtime,
        log,
        backends,
        publishRoutes,
        createBackend: (name, ref) =>
          makeBackend({
            name,
            balancer: "round_robin",
            discovery: { kind: "kubernetes", namespace: ref.namespace, service: ref.service, port: ref.port },
            tls: undefined,
            schemas: DEFAULT_SCHEMAS,
            healthCheck: undefined,
            outlierDetection: DEFAULT_OUTLIER_DETECTION,
            retry: DEFAULT_RETRY,
            keepalive: DEFAULT_KEEPALIVE,
          }),
      });
      const controller = ingress;
      cleanups.unshift(() => controller.close());
    }
    kubernetes?.start();

    const callObservers: CallObserver[] = [metrics.observer, createCallTracing()];
    const calls = createAdminStateObserver({ now: runtime.now });
    callObservers.push(calls);
    if (config.accessLog.enabled) {
      callObservers.push(createAccessLog(log, { sampleRate: config.accessLog.sampleRate }));
    }
    const handler = withCors(
      createCallHandler({
        routes,
        backends,
        protocol: {
          compressions: runtime.compressions,
          acceptEncodingHeader: [...runtime.compressions.keys()].join(","),
          readMaxBytes: config.limits.maxMessageBytes,
        },
        now: runtime.now,
        inFlight,
        observer: observers(callObservers),
      }),
      routes,
    );
    const onError = (error: unknown) => log.debug("call ended abnormally", { error });
    let closing = false;
    const configured = config.backends.map((b) => b.name);
    const ready = () =>
      !closing &&
      configured.every((name) => backends.get(name)?.source.synced() === true) &&
      (ingress === undefined || ingress.ready());
    for (const listener of config.listeners) {
      bound.push(
        await runtime.listen(listener.address, handler, {
          limits: config.limits,
          certificates: listener.tls === undefined ? undefined : certificates,
          onError,
          log,
          onTlsHandshake: (outcome) => metrics.tlsHandshake(outcome),
        }),
      );
    }
    if (config.admin !== undefined) {
      const state = () =>
        adminState({
          now: runtime.now,
          ready,
          backends,
          configRoutes: config.routes,
          ingressRoutes: () => ingressEntries.map((e) => ({ source: e.route.source, backend: e.route.backend })),
          certificates: () => certificates.list(),
          calls,
        });
      const app = createAdminApp({ ready, metrics: () => registry.metrics(), metricsContentType: registry.contentType, state });
      admin = await runtime.serveAdmin(config.admin.address, app.fetch);
    }
    let stopping: Promise<void> | undefined;
    const stop = (gracePeriodMs: number) => {
      if (stopping === undefined) {
        closing = true;
        log.info("shutting down: not ready, no new connections, calls in flight may finish", { gracePeriodMs });
        const started = runtime.now();
        stopping = shutdown(gracePeriodMs).then(() => log.info("shut down", { tookMs: runtime.now() - started }));
      }
      return stopping;
    };
    return {
      listeners: bound.map((l) => l.address),
      admin: admin?.address,
      backends,
      certificates,
      ready,
      shutdown: stop,
      close: () => stop(CLOSE_GRACE_MS),
    };
  } catch (e) {
    await shutdown(0);
    throw e;
  }
}

/**
 * The upstream stage per backend: one h2c client shared by all h2c backends
 * (sessions pooled per pod address), and one TLS client per backend with
 * upstream TLS (its CA and name to verify are the backend's own).
 */
async function upstreamContexts(
  config: GatewayConfig,
  runtime: Runtime,
  clients: UpstreamClient[],
  log: Logger,
): Promise<(backend: BackendConfig) => UpstreamContext> {
  const context = (client: UpstreamClient, scheme: "http" | "https"): UpstreamContext => ({
    client,
    scheme,
    compressions: runtime.compressions,
    readMaxBytes: config.limits.maxMessageBytes,
    now: runtime.now,
    acceptedByEndpoint: new Map(),
    log,
  });
  // Backends with the same keepalive share one cleartext client, so a pod two of them name gets one set of sessions.
  const cleartext = new Map<string, UpstreamContext>();
  const cleartextFor = (keepalive: KeepaliveConfig): UpstreamContext => {
    const key = `${keepalive.intervalMs}/${keepalive.timeoutMs}`;
    let shared = cleartext.get(key);
    if (shared === undefined) {
      const client = runtime.createUpstreamClient({ keepalive });
      clients.push(client);
      shared = context(client, "http");
      cleartext.set(key, shared);
    }
    return shared;
  };
  const byBackend = new Map<string, UpstreamContext>();
  for (const backend of config.backends) {
    if (backend.tls === undefined) {
      byBackend.set(backend.name, cleartextFor(backend.keepalive));
      continue;
    }
    let ca: string | undefined;
    if (backend.tls.caFile !== undefined) {
      try {
        ca = await runtime.readText(backend.tls.caFile);
      } catch (error) {
        throw new Error(
          `cannot read the CA file ${backend.tls.caFile} of backend ${backend.name}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    const client = runtime.createUpstreamClient({
      keepalive: backend.keepalive,
      tls: { ca, serverName: backend.tls.serverName, insecureSkipVerify: backend.tls.insecureSkipVerify },
    });
    clients.push(client);
    byBackend.set(backend.name, context(client, "https"));
  }
  // Backends made for Ingress rules have the default settings (an Ingress has no place for ours).
  const ingress = cleartextFor(DEFAULT_KEEPALIVE);
  return (backend) => byBackend.get(backend.name) ?? ingress;
}
