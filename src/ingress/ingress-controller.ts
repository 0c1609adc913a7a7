import {
  CoreV1Api,
  type KubernetesObject,
  NetworkingV1Api,
  type V1Ingress,
  type V1Secret,
  type V1Service,
} from "@kubernetes/client-node";
import type { Backend } from "../backend/backend.ts";
import type { IngressConfig } from "../config/gateway-config.ts";
import type { KubernetesDiscovery } from "../discovery/kubernetes/kubernetes-discovery.ts";
import type { ResilientInformer } from "../discovery/kubernetes/resilient-informer.ts";
import type { Logger } from "../log/logger.ts";
import type { RouteEntry } from "../route/route-table.ts";
import type { Runtime } from "../runtime.ts";
import type { CertificateStore } from "../tls/certificate-store.ts";
import {
  type IngressBackendRef,
  type IngressTls,
  matchesIngressHost,
  matchesIngressPath,
  translateIngresses,
} from "./ingress-routes.ts";

export interface IngressControllerOptions {
  readonly config: IngressConfig;
  readonly discovery: KubernetesDiscovery;
  readonly certificates: CertificateStore;
  readonly runtime: Pick<Runtime, "inspectCertificate">;
  readonly log: Logger;
  /** The gateway's backends by name; Ingress backends are added and removed here as `ingress:<ns>/<service>:<port>`. */
  readonly backends: Map<string, Backend>;
  /** Makes a backend with EndpointSlice discovery for a Service port an Ingress names. */
  readonly createBackend: (name: string, ref: IngressBackendRef) => Backend;
  /** Swaps in the routes the Ingresses give (after the config's own). */
  readonly publishRoutes: (entries: readonly RouteEntry[]) => void;
}

const TLS_SECRET_TYPE = "kubernetes.io/tls";

/**
 * Kubernetes Ingress resources of our class as a route source, as the
 * Traefik or nginx ingress controllers users come from do it: rules become
 * routes (host, then path against the RPC path), each backend Service port
 * becomes a backend with EndpointSlice discovery, and each `spec.tls`
 * Secret is served by the TLS listeners for its hosts.
 *
 * Ingresses, Services (to resolve a port number to the slices' port name)
 * and TLS Secrets are watched with the same resilient informer as the
 * slices. Any change recomputes the whole translation (Ingress counts are
 * small) on the next tick, so a burst of events, such as a re-list, costs one
 * recomputation; routes are swapped atomically, new backends exist before
 * the routes that name them, and removed ones close after.
 */
export class IngressController {
  private readonly options: IngressControllerOptions;
  private readonly ingresses: Array<ResilientInformer<V1Ingress>> = [];
  private readonly services: Array<ResilientInformer<V1Service>> = [];
  private readonly secrets: Array<ResilientInformer<V1Secret>> = [];
  private readonly secretKeys = new Set<string>();
  private problems = new Set<string>();
  private scheduled = false;
  private closed = false;
  private wasReady = false;

  constructor(options: IngressControllerOptions) {
    this.options = options;
    const { discovery } = options;
    const networking = discovery.api(NetworkingV1Api);
    const core = discovery.api(CoreV1Api);
    const onChange = () => this.schedule();
    // Each informer's first watch means its list is in: the last one to get there triggers the first translation.
    const onWatching = onChange;
    const tlsOnly = `type=${TLS_SECRET_TYPE}`;
    for (const namespace of options.config.namespaces ?? [undefined]) {
      const scope = namespace === undefined ? "" : `/namespaces/${namespace}`;
      const where = namespace === undefined ? "all namespaces" : namespace;
      this.ingresses.push(
        discovery.informer<V1Ingress>({
          path: `/apis/networking.k8s.io/v1${scope}/ingresses`,
          list: () =>
            (namespace === undefined ? networking.listIngressForAllNamespaces() : networking.listNamespacedIngress({ namespace })),
          what: `Ingresses in ${where}`,
          onChange,
          onWatching,
        }),
      );
      this.services.push(
        discovery.informer<V1Service>({
          path: `/api/v1${scope}/services`,
          list: () => (namespace === undefined ? core.listServiceForAllNamespaces() : core.listNamespacedService({ namespace })),
          what: `Services in ${where}`,
          onChange,
          onWatching,
        }),
      );
      this.secrets.push(
        discovery.informer<V1Secret>({
          path: `/api/v1${scope}/secrets`,
          list: () =>
            (namespace === undefined
              ? core.listSecretForAllNamespaces({ fieldSelector: tlsOnly })
              : core.listNamespacedSecret({ namespace, fieldSelector: tlsOnly })),
          fieldSelector: tlsOnly,
          what: `TLS Secrets in ${where}`,
          onChange,
          onWatching,
        }),
      );
    }
  }

  /**
   * True once Ingresses, Services and Secrets have been listed and the
   * backends the Ingresses name have their endpoints. It then stays true: a
   * new Ingress later must not take a serving gateway out of its load balancer.
   */
  ready(): boolean {
    if (this.wasReady) {
      return true;
    }
    const informers = [...this.ingresses, ...this.services, ...this.secrets];
    if (!informers.every((informer) => informer.synced()) || this.scheduled) {
      return false;
    }
    const ingressBackends = [...this.options.backends].filter(([name]) => name.startsWith(INGRESS_BACKEND_PREFIX));
    this.wasReady = ingressBackends.every(([, backend]) => backend.source.synced());
    return this.wasReady;
  }

  close(): void {
    this.closed = true;
  }

  private schedule(): void {
    if (this.scheduled || this.closed) {
      return;
    }
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      if (!this.closed) this.recompute();
    }, 0);
  }

  private recompute(): void {
    // Until every kind has been listed once, a translation would report Services and Secrets
    // "not found" that are merely not listed yet; readiness holds traffic off meanwhile.
    if (![...this.ingresses, ...this.services, ...this.secrets].every((informer) => informer.synced())) {
      return;
    }
    const { backends, log } = this.options;
    const services = new Map<string, V1Service>();
    for (const service of all(this.services)) {
      services.set(objectKey(service), service);
    }
    const translation = translateIngresses(all(this.ingresses), this.options.config.className, (namespace, name) =>
      services.get(`${namespace}/${name}`),
    );

    const wanted = new Map<string, IngressBackendRef>();
    for (const route of translation.routes) {
      wanted.set(backendName(route.backend), route.backend);
    }
    for (const [name, ref] of wanted) {
      if (!backends.has(name)) {
        backends.set(name, this.options.createBackend(name, ref));
      }
    }
    this.options.publishRoutes(
      translation.routes.map((route) => ({
        matches: (request) => matchesIngressHost(route.host, request.host) && matchesIngressPath(route.path, request.path),
        servesHost: (host) => matchesIngressHost(route.host, host),
        takesAll: route.path.type === "Prefix" && route.path.path.replace(/\/+$/, "") === "",
        route: { backend: backendName(route.backend), cors: undefined, source: `ingress ${route.source}`, defaultTimeoutMs: undefined, maxTimeoutMs: undefined },
      })),
    );
    for (const [name, backend] of [...backends]) {
      if (name.startsWith(INGRESS_BACKEND_PREFIX) && !wanted.has(name)) {
        backends.delete(name);
        backend.close();
      }
    }

    const problems = [...translation.problems, ...this.loadSecrets(translation.tls)];
    for (const problem of problems) {
      if (!this.problems.has(problem)) log.warn("ingress problem", { problem });
    }
    this.problems = new Set(problems);
    log.info("ingress routes", {
      routes: translation.routes.map((r) => `${r.host ?? "*"} ${r.path.type} ${r.path.path} -> ${r.backend.key}`),
      certificates: [...this.secretKeys],
    });
  }

  /** Puts the referenced TLS Secrets in the certificate store, drops the rest; returns problems. */
  private loadSecrets(entries: readonly IngressTls[]): string[] {
    const { certificates, runtime } = this.options;
    const secrets = new Map<string, V1Secret>();
    for (const secret of all(this.secrets)) {
      secrets.set(objectKey(secret), secret);
    }
    const hostsBySecret = new Map<string, { source: string; hosts: Set<string> }>();
    for (const entry of entries) {
      const key = `${entry.namespace}/${entry.secretName}`;
      const seen = hostsBySecret.get(key) ?? { source: entry.source, hosts: new Set<string>() };
      for (const host of entry.hosts) seen.hosts.add(host);
      hostsBySecret.set(key, seen);
    }
    const problems: string[] = [];
    const loaded = new Set<string>();
    for (const [key, { source, hosts }] of hostsBySecret) {
      const secret = secrets.get(key);
      const storeKey = `secret:${key}`;
      const certPem = decode(secret?.data?.["tls.crt"]);
      const keyPem = decode(secret?.data?.["tls.key"]);
      if (secret === undefined || certPem === undefined || keyPem === undefined) {
        problems.push(`ingress ${source}: TLS Secret ${key} not found (or not of type ${TLS_SECRET_TYPE} with tls.crt and tls.key)`);
        if (certificates.has(storeKey)) loaded.add(storeKey); // keep serving the last good one
        continue;
      }
      try {
        const info = runtime.inspectCertificate({ certPem, keyPem });
        certificates.set({
          key: storeKey,
          certPem,
          keyPem,
          names: hosts.size > 0 ? [...hosts] : info.names,
          notAfter: info.notAfter,
        });
        loaded.add(storeKey);
      } catch (error) {
        problems.push(`ingress ${source}: TLS Secret ${key}: ${error instanceof Error ? error.message : String(error)}`);
        if (certificates.has(storeKey)) loaded.add(storeKey);
      }
    }
    for (const key of this.secretKeys) {
      if (!loaded.has(key)) certificates.delete(key);
    }
    this.secretKeys.clear();
    for (const key of loaded) this.secretKeys.add(key);
    return problems;
  }
}

/** Name prefix of the backends this controller owns in the gateway's backend map. */
export const INGRESS_BACKEND_PREFIX = "ingress:";

function backendName(ref: IngressBackendRef): string {
  return `${INGRESS_BACKEND_PREFIX}${ref.key}`;
}

function all<T extends KubernetesObject>(informers: ReadonlyArray<ResilientInformer<T>>): T[] {
  return informers.flatMap((informer) => [...informer.list()]);
}

function objectKey(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

/** A Secret's `data` value (base64) as text, or undefined when missing or not base64. */
function decode(value: string | undefined): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}
