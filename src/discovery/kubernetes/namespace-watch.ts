import {
  ADD,
  DELETE,
  DiscoveryV1Api,
  ERROR,
  type KubeConfig,
  ListWatch,
  UPDATE,
  type V1EndpointSlice,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "../../log/logger.ts";
import type { Backoff } from "../backoff.ts";
import { describeChange } from "../describe-change.ts";
import type { EndpointChange, EndpointSource } from "../endpoint-source.ts";
import { describeKubeError } from "./describe-kube-error.ts";
import { ServiceEndpoints } from "./service-endpoints.ts";
import { type PortRef, sliceEndpoints } from "./slice-endpoints.ts";

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export interface NamespaceWatchOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly log: Logger;
  readonly backoff: Backoff;
  /** Schedules a retry; returns its cancel function. Injected so tests can control time. */
  readonly schedule?: (run: () => void, delayMs: number) => () => void;
}

/** One backend's view: a Service port, its merged endpoints, its subscribers. */
interface ServicePort {
  readonly service: string;
  readonly port: PortRef;
  readonly endpoints: ServiceEndpoints;
  readonly listeners: Set<(change: EndpointChange) => void>;
}

/** The longest the informer may wait before re-watching after a watch ended cleanly. */
const MAX_REWATCH_DELAY_MS = 1_000;

const defaultSchedule = (run: () => void, delayMs: number) => {
  const timer = setTimeout(run, delayMs);
  return () => clearTimeout(timer);
};

/**
 * The EndpointSlices of every tracked Service in one namespace, from a single
 * list+watch (client-node's informer) shared by all backends there.
 *
 * The informer re-lists on 410 Gone and re-watches from its last
 * resourceVersion after a clean end or its inactivity timeout, but it stops
 * on any other error (a dropped connection, a refused one, a 5xx, a failed
 * list). This class restarts it after a capped, jittered backoff; because the
 * informer keeps its resourceVersion, a restart re-watches from where it was
 * and only a 410 costs a re-list. Until then the last known endpoints keep
 * serving: an unreachable API server never empties a backend.
 *
 * Events are applied one slice at a time ({@link ServiceEndpoints}), so an
 * event costs work in proportion to the slice, whatever the service's size.
 */
export class NamespaceWatch {
  private readonly options: NamespaceWatchOptions;
  private readonly api: DiscoveryV1Api;
  private readonly services = new Map<string, ServicePort[]>();
  /** The Service each known slice belongs to, so a relabelled or deleted slice leaves the right one. */
  private readonly sliceService = new Map<string, string>();
  /** Services whose slices the last successful list covered: they have synced. */
  private readonly listed = new Set<string>();
  private informer: ListWatch<V1EndpointSlice> | undefined;
  private cancelRetry: (() => void) | undefined;
  private closed = false;

  constructor(options: NamespaceWatchOptions) {
    this.options = options;
    this.api = options.kubeConfig.makeApiClient(DiscoveryV1Api);
  }

  /**
   * An endpoint source for one Service port in this namespace. A Service
   * first tracked after `start()` restarts the watch with a wider selector.
   */
  track(service: string, port: PortRef): EndpointSource {
    const view: ServicePort = { service, port, endpoints: new ServiceEndpoints(), listeners: new Set() };
    const views = this.services.get(service);
    if (views === undefined) {
      this.services.set(service, [view]);
      if (this.informer !== undefined) {
        this.start();
      }
    } else {
      views.push(view);
      // Another port of a Service already watched: fill it from the informer's cache.
      for (const slice of this.informer?.list(this.options.namespace) ?? []) {
        if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] === service) {
          view.endpoints.setSlice(slice.metadata?.name ?? "", sliceEndpoints(slice, port));
        }
      }
    }
    return {
      subscribe: (listener) => {
        view.listeners.add(listener);
        const current = view.endpoints.current();
        if (current.length > 0) {
          listener({ added: current, removed: [] });
        }
        return () => view.listeners.delete(listener);
      },
      synced: () => this.listed.has(service),
      close: () => {},
    };
  }

  /** Starts (or restarts, with the current set of Services) the list+watch. */
  start(): void {
    if (this.closed) {
      return;
    }
    this.cancelRetry?.();
    void this.informer?.stop();
    const services = [...this.services.keys()].sort();
    const selector = `${SERVICE_NAME_LABEL} in (${services.join(",")})`;
    const { namespace } = this.options;
    const path = `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`;
    let reconciled = false;
    const informer: ListWatch<V1EndpointSlice> = new ListWatch<V1EndpointSlice>(
      path,
      new ResumingWatch(this.options.kubeConfig, {
        active: () => this.informer === informer && !this.closed,
        // The informer only watches once its list (if it needed one) is in its cache.
        onWatch: () => {
          if (!reconciled) {
            reconciled = true;
            this.forgetSlicesMissingFrom(informer);
          }
          for (const service of services) this.listed.add(service);
        },
        onEvent: () => this.options.backoff.reset(),
      }),
      async () => {
        const list = await this.api.listNamespacedEndpointSlice({ namespace, labelSelector: selector });
        this.options.backoff.reset();
        return list;
      },
      false,
      selector,
      undefined,
      // After a clean end with no event since, the informer waits 1 s, 2 s, ... up to 30 s before it
      // re-watches, blind to changes all that time; a second is the most we let it wait.
      { delayFn: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, MAX_REWATCH_DELAY_MS))) },
    );
    const current = (handler: (slice: V1EndpointSlice) => void) => (slice: V1EndpointSlice) => {
      if (this.informer === informer && !this.closed) handler(slice);
    };
    informer.on(ADD, current((slice) => this.applySlice(slice, false)));
    informer.on(UPDATE, current((slice) => this.applySlice(slice, false)));
    informer.on(DELETE, current((slice) => this.applySlice(slice, true)));
    informer.on(ERROR, (error: unknown) => {
      if (this.informer === informer && !this.closed) this.retry(error);
    });
    this.informer = informer;
    informer.start().catch((error: unknown) => this.retry(error));
  }

  close(): void {
    this.closed = true;
    this.cancelRetry?.();
    void this.informer?.stop();
    for (const views of this.services.values()) {
      for (const view of views) view.listeners.clear();
    }
  }

  private retry(error: unknown): void {
    if (this.closed) {
      return;
    }
    const delayMs = this.options.backoff.next();
    this.options.log.warn("EndpointSlice watch failed; serving the last known endpoints and retrying", {
      namespace: this.options.namespace,
      error: describeKubeError(error),
      retryInMs: delayMs,
    });
    this.cancelRetry?.();
    const informer = this.informer;
    this.cancelRetry = (this.options.schedule ?? defaultSchedule)(() => {
      this.cancelRetry = undefined;
      if (!this.closed && this.informer === informer) {
        informer?.start().catch((e: unknown) => this.retry(e));
      }
    }, delayMs);
  }

  /**
   * A replacement informer starts with an empty cache, so it never reports
   * the deletion of a slice that vanished while it took over: once its first
   * list is in, drop every slice it does not have.
   */
  private forgetSlicesMissingFrom(informer: ListWatch<V1EndpointSlice>): void {
    const present = new Set(informer.list(this.options.namespace).map((slice) => slice.metadata?.name ?? ""));
    for (const [name, service] of [...this.sliceService]) {
      if (!present.has(name)) {
        this.applySlice({ addressType: "IPv4", endpoints: [], metadata: { name, labels: { [SERVICE_NAME_LABEL]: service } } }, true);
      }
    }
  }

  private applySlice(slice: V1EndpointSlice, deleted: boolean): void {
    const name = slice.metadata?.name ?? "";
    const service = deleted ? undefined : slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const previous = this.sliceService.get(name);
    if (previous !== undefined && previous !== service) {
      for (const view of this.services.get(previous) ?? []) {
        this.publish(view, view.endpoints.setSlice(name, undefined));
      }
    }
    if (service === undefined) {
      this.sliceService.delete(name);
      return;
    }
    this.sliceService.set(name, service);
    for (const view of this.services.get(service) ?? []) {
      this.publish(view, view.endpoints.setSlice(name, sliceEndpoints(slice, view.port)));
    }
  }

  private publish(view: ServicePort, change: EndpointChange): void {
    if (change.added.length === 0 && change.removed.length === 0) {
      return;
    }
    this.options.log.info("endpoints changed", {
      namespace: this.options.namespace,
      service: view.service,
      port: view.port,
      ...describeChange(change),
    });
    for (const listener of view.listeners) {
      listener(change);
    }
  }
}

interface ResumingWatchHooks {
  /** False once the informer was replaced or the watch closed. */
  active(): boolean;
  onWatch(): void;
  onEvent(): void;
}

/**
 * client-node's Watch with what the informer leaves out: bookmarks (so a
 * quiet namespace still advances its resourceVersion and a re-watch after a
 * drop rarely needs a re-list), a hook when the informer starts watching
 * (its list is then in its cache: the namespace has synced), a hook per
 * event (the connection works: reset the backoff), no connection for an
 * informer that was stopped meanwhile, and no rejected promise when
 * authentication fails (the informer does not catch it).
 */
class ResumingWatch extends Watch {
  private readonly hooks: ResumingWatchHooks;

  constructor(kubeConfig: KubeConfig, hooks: ResumingWatchHooks) {
    super(kubeConfig);
    this.hooks = hooks;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (!this.hooks.active()) {
      // A stopped informer still opens the watch it was waiting to open: let it idle instead.
      return new AbortController();
    }
    this.hooks.onWatch();
    try {
      return await super.watch(path, { ...queryParams, allowWatchBookmarks: true }, (phase, object, raw) => {
        this.hooks.onEvent();
        callback(phase, object, raw);
      }, done);
    } catch (error) {
      queueMicrotask(() => done(error));
      return new AbortController();
    }
  }
}
