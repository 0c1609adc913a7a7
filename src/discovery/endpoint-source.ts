import type { Endpoint } from "../balance/endpoint.ts";

/**
 * What changed in a backend's endpoint set. Sources publish changes, not
 * whole sets, so an EndpointSlice event at 5,000 endpoints costs work in
 * proportion to the slice that changed, not to the service.
 */
export interface EndpointChange {
  /** Endpoints that now take new calls (an address already in the set is ignored). */
  readonly added: readonly Endpoint[];
  /** Endpoints that take no new calls from now on; their calls in flight finish. */
  readonly removed: readonly Endpoint[];
}

/**
 * Where a backend learns its endpoints: static config, Kubernetes
 * EndpointSlices or DNS. A subscriber first receives the whole current set
 * as one change (everything `added`), then every change after it, in order.
 */
export interface EndpointSource {
  /**
   * Calls `listener` with every change, and at once with the current set
   * when the source has synced. Returns the unsubscribe function.
   */
  subscribe(listener: (change: EndpointChange) => void): () => void;
  /** True once the source has learned a complete set at least once (an empty one counts). */
  synced(): boolean;
  /** Stops watching; no more calls to listeners. */
  close(): void;
}
