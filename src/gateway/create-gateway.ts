import { createAdminApp } from "../admin/create-admin-app.ts";
import { type Backend, createBackend } from "../backend/backend.ts";
import type { DiscoveryConfig, GatewayConfig, HostPort } from "../config/gateway-config.ts";
import { createDnsSource } from "../discovery/dns-source.ts";
import type { EndpointSource } from "../discovery/endpoint-source.ts";
import type { KubernetesDiscovery } from "../discovery/kubernetes/kubernetes-discovery.ts";
import { createStaticSource } from "../discovery/static-source.ts";
import type { Logger } from "../log/logger.ts";
import { createRouteTable } from "../route/route-table.ts";
import type { BoundListener, Runtime } from "../runtime.ts";
import type { UpstreamContext } from "../upstream/call-upstream.ts";
import { createCallHandler } from "./create-call-handler.ts";

/** A running gateway. */
export interface Gateway {
  /** Bound addresses of the call listeners, in config order. */
  readonly listeners: readonly HostPort[];
  /** Bound address of the admin listener, when configured. */
  readonly admin: HostPort | undefined;
  readonly backends: ReadonlyMap<string, Backend>;
  /** True when every backend's discovery has synced at least once. */
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * Wires the stages from config: discovery sources into balancers, the route
 * table, the call handler on every listener, the admin app. No logic of its
 * own lives here.
 */
export async function createGateway(config: GatewayConfig, runtime: Runtime, log: Logger): Promise<Gateway> {
  const client = runtime.createUpstreamClient();
  const upstream: UpstreamContext = {
    client,
    compressions: runtime.compressions,
    readMaxBytes: config.limits.maxMessageBytes,
    now: runtime.now,
    acceptedByEndpoint: new Map(),
  };
  // client-node is loaded only when a backend watches Kubernetes: a static or DNS gateway starts without it.
  const kubernetes = config.backends.some((b) => b.discovery.kind === "kubernetes")
    ? new (await import("../discovery/kubernetes/kubernetes-discovery.ts")).KubernetesDiscovery({
        settings: config.kubernetes,
        log,
        env: (name) => runtime.env(name),
      })
    : undefined;
  const sourceFor = (discovery: DiscoveryConfig): EndpointSource => {
    switch (discovery.kind) {
      case "static":
        return createStaticSource(discovery.endpoints);
      case "dns":
        return createDnsSource({ config: discovery, resolve: runtime.resolveHost, log });
      case "kubernetes":
        return (kubernetes as KubernetesDiscovery).source(discovery);
    }
  };
  const backends = new Map<string, Backend>();
  for (const backendConfig of config.backends) {
    backends.set(backendConfig.name, createBackend(backendConfig, sourceFor(backendConfig.discovery), upstream));
  }
  kubernetes?.start();
  const handler = createCallHandler({
    routes: createRouteTable(config.routes),
    backends,
    protocol: {
      compressions: runtime.compressions,
      acceptEncodingHeader: [...runtime.compressions.keys()].join(","),
      readMaxBytes: config.limits.maxMessageBytes,
    },
    now: runtime.now,
  });
  const bound: BoundListener[] = [];
  const onError = (error: unknown) => log.debug("call ended abnormally", { error });
  let closing = false;
  const ready = () => !closing && [...backends.values()].every((b) => b.source.synced());
  try {
    for (const listener of config.listeners) {
      bound.push(await runtime.listen(listener.address, handler, onError));
    }
    const admin =
      config.admin === undefined
        ? undefined
        : await runtime.serveAdmin(config.admin.address, createAdminApp({ ready }).fetch);
    if (admin !== undefined) {
      bound.push(admin);
    }
    return {
      listeners: bound.slice(0, config.listeners.length).map((l) => l.address),
      admin: admin?.address,
      backends,
      ready,
      async close() {
        closing = true;
        await Promise.all(bound.map((l) => l.close()));
        for (const backend of backends.values()) {
          backend.close();
        }
        kubernetes?.close();
        client.close();
      },
    };
  } catch (e) {
    await Promise.all(bound.map((l) => l.close()));
    for (const backend of backends.values()) {
      backend.close();
    }
    kubernetes?.close();
    client.close();
    throw e;
  }
}
