import { type ApiType, type Configuration, KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { KubernetesConfig, KubernetesDiscoveryConfig } from "../../config/gateway-config.ts";
import type { Logger } from "../../log/logger.ts";
import { type BackoffOptions, createBackoff } from "../backoff.ts";
import type { EndpointSource } from "../endpoint-source.ts";
import { NamespaceWatch } from "./namespace-watch.ts";
import { ResilientInformer, type ResilientInformerOptions } from "./resilient-informer.ts";

export interface KubernetesDiscoveryOptions {
  readonly settings: KubernetesConfig;
  readonly log: Logger;
  /** Reads an environment variable (the runtime's, injected: the core never touches `process`). */
  readonly env: (name: string) => string | undefined;
  /** Retry delays after a failed list or watch; default 250 ms doubling up to 30 s. */
  readonly backoff?: BackoffOptions;
  /** Counts watch events and restarts per resource, for metrics. */
  readonly events?: { readonly event: (resource: string) => void; readonly restart: (resource: string) => void };
  /** The clock the watches judge early 403s by (`FORBIDDEN_GRACE_MS`); injected so tests can control time. */
  readonly now?: () => number;
}

/** Retry delays after a failed list or watch: 250 ms doubling to 30 s, jittered. */
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000 };

/**
 * The gateway's link to the Kubernetes API: one kubeconfig, one
 * EndpointSlice watch per namespace shared by every backend in it.
 */
export class KubernetesDiscovery {
  private readonly options: KubernetesDiscoveryOptions;
  private readonly kubeConfig: KubeConfig;
  private readonly watches = new Map<string, NamespaceWatch>();
  private readonly informers: Array<ResilientInformer<KubernetesObject>> = [];
  private started = false;

  constructor(options: KubernetesDiscoveryOptions) {
    this.options = options;
    this.kubeConfig = loadKubeConfig(options.settings, options.env);
  }

  /** The API server this gateway talks to, for the startup log. */
  server(): string {
    return this.kubeConfig.getCurrentCluster()?.server ?? "(none)";
  }

  /** The namespace of a backend without one: the context's (in a cluster, the pod's own), else "default". */
  defaultNamespace(): string {
    return this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext())?.namespace || "default";
  }

  /** A typed API client on this gateway's credentials. */
  api<T extends ApiType>(type: new (configuration: Configuration) => T): T {
    return this.kubeConfig.makeApiClient(type);
  }

  /**
   * A resilient list+watch of any collection (Ingresses, Services, Secrets)
   * on this gateway's credentials; started with `start()`, stopped with `close()`.
   */
  informer<T extends KubernetesObject>(
    options: Omit<ResilientInformerOptions<T>, "kubeConfig" | "log" | "backoff">,
  ): ResilientInformer<T> {
    const resource = options.path.slice(options.path.lastIndexOf("/") + 1);
    const informer = new ResilientInformer<T>({
      ...(this.options.events === undefined ? {} : { events: this.eventsFor(resource) }),
      ...options,
      kubeConfig: this.kubeConfig,
      log: this.options.log,
      backoff: createBackoff(this.options.backoff ?? DEFAULT_BACKOFF),
      ...(this.options.now === undefined ? {} : { now: this.options.now }),
    });
    this.informers.push(informer as unknown as ResilientInformer<KubernetesObject>);
    if (this.started) informer.start();
    return informer;
  }

  private eventsFor(resource: string): { event: () => void; restart: () => void } {
    const events = this.options.events;
    return { event: () => events?.event(resource), restart: () => events?.restart(resource) };
  }

  /** An endpoint source for a backend; watches start with `start()`. */
  source(config: KubernetesDiscoveryConfig): EndpointSource {
    const namespace = config.namespace ?? this.defaultNamespace();
    let watch = this.watches.get(namespace);
    if (watch === undefined) {
      watch = new NamespaceWatch({
        kubeConfig: this.kubeConfig,
        namespace,
        log: this.options.log,
        backoff: createBackoff(this.options.backoff ?? DEFAULT_BACKOFF),
        ...(this.options.events === undefined ? {} : { events: this.eventsFor("endpointslices") }),
        ...(this.options.now === undefined ? {} : { now: this.options.now }),
      });
      this.watches.set(namespace, watch);
      if (this.started) watch.start();
    }
    return watch.track(config.service, config.port);
  }

  /** Starts every namespace's list+watch, after all backends have asked for their sources. */
  start(): void {
    this.started = true;
    for (const [namespace, watch] of this.watches) {
      this.options.log.info("watching EndpointSlices", { server: this.server(), namespace });
      watch.start();
    }
    for (const informer of this.informers) informer.start();
  }

  close(): void {
    for (const watch of this.watches.values()) watch.close();
    for (const informer of this.informers) informer.stop();
  }
}

/**
 * Loads credentials in the order the users expect: a kubeconfig
 * named in the gateway's config; else the pod's service account when running
 * in a cluster; else KUBECONFIG or ~/.kube/config, as kubectl does.
 */
function loadKubeConfig(settings: KubernetesConfig, env: (name: string) => string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (settings.kubeconfig !== undefined) {
    try {
      kubeConfig.loadFromFile(settings.kubeconfig);
    } catch (error) {
      throw new Error(`cannot load the kubeconfig ${settings.kubeconfig} (kubernetes.kubeconfig): ${error instanceof Error ? error.message : String(error)}`);
    }
  } else if (env("KUBERNETES_SERVICE_HOST") !== undefined) {
    kubeConfig.loadFromCluster();
  } else {
    kubeConfig.loadFromDefault();
  }
  return kubeConfig;
}
