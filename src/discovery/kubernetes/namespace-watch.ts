import { DiscoveryV1Api, type KubeConfig, type V1EndpointSlice } from "@kubernetes/client-node";
import type { Logger } from "../../log/logger.ts";
import type { Backoff } from "../backoff.ts";
import { describeChange } from "../describe-change.ts";
import type { EndpointChange, EndpointSource } from "../endpoint-source.ts";
import { ResilientInformer } from "./resilient-informer.ts";
import { ServiceEndpoints } from "./service-endpoints.ts";
import { type PortRef, sliceEndpoints } from "./slice-endpoints.ts";
import type { Schedule } from "../../time/schedule.ts";

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export interface NamespaceWatchOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly log: Logger;
  readonly backoff: Backoff;
  /** Schedules a retry; returns its cancel function. Injected so tests can control time. */
  readonly schedule?: Schedule;
  /** Counts watch events and restarts, for metrics. */
  readonly events?: { readonly event: () => void; readonly restart: () => void };
  /** The clock for the grace of early 403s. */
  readonly now?: () => number;
}

/** One backend's view: a Service port, its merged endpoints, its subscribers. */
interface ServicePort {
  readonly service: string;
  readonly port: PortRef;
  readonly endpoints: ServiceEndpoints;
  readonly listeners: Set<(change: EndpointChange) => void>;
}

/**
 * The EndpointSlices of every tracked Service in one namespace, from a single
 * list+watch ({@link ResilientInformer}) shared by all backends there. While
 * the API server is unreachable the last known endpoints keep serving: an
 * outage never empties a backend.
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
  private informer: ResilientInformer<V1EndpointSlice> | undefined;
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
      for (const slice of this.informer?.list() ?? []) {
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
      // The Service stays in the watch's selector (narrowing it would cost a re-list); only this view goes.
      close: () => {
        view.listeners.clear();
        const views = this.services.get(service) ?? [];
        const index = views.indexOf(view);
        if (index >= 0) views.splice(index, 1);
      },
    };
  }

  /** Starts (or restarts, with the current set of Services) the list+watch. */
  start(): void {
    if (this.closed) {
      return;
    }
    this.informer?.stop();
    const services = [...this.services.keys()].sort();
    const selector = `${SERVICE_NAME_LABEL} in (${services.join(",")})`;
    const { namespace } = this.options;
    let reconciled = false;
    const informer: ResilientInformer<V1EndpointSlice> = new ResilientInformer<V1EndpointSlice>({
      kubeConfig: this.options.kubeConfig,
      path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      list: () => this.api.listNamespacedEndpointSlice({ namespace, labelSelector: selector }),
      labelSelector: selector,
      what: `EndpointSlices in ${namespace}`,
      ...(this.options.events === undefined ? {} : { events: this.options.events }),
      log: this.options.log,
      backoff: this.options.backoff,
      ...(this.options.schedule === undefined ? {} : { schedule: this.options.schedule }),
      ...(this.options.now === undefined ? {} : { now: this.options.now }),
      onChange: (slice, deleted) => this.applySlice(slice, deleted),
      onWatching: () => {
        if (!reconciled) {
          reconciled = true;
          this.forgetSlicesMissingFrom(informer);
        }
        for (const service of services) this.listed.add(service);
      },
    });
    this.informer = informer;
    informer.start();
  }

  close(): void {
    this.closed = true;
    this.informer?.stop();
    for (const views of this.services.values()) {
      for (const view of views) view.listeners.clear();
    }
  }

  /**
   * A replacement informer starts with an empty cache, so it never reports
   * the deletion of a slice that vanished while it took over: once its first
   * list is in, drop every slice it does not have.
   */
  private forgetSlicesMissingFrom(informer: ResilientInformer<V1EndpointSlice>): void {
    const present = new Set(informer.list().map((slice) => slice.metadata?.name ?? ""));
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
