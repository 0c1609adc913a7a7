import type { Endpoint } from "../balance/endpoint.ts";

/**
 * Where a backend learns its endpoints: static config now, Kubernetes
 * EndpointSlices and DNS later. A source pushes whole, immutable endpoint
 * sets; the balancer swaps them in atomically.
 */
export interface EndpointSource {
  /**
   * Calls `listener` with every new endpoint set, and at once with the
   * current one when the source has synced. Returns the unsubscribe function.
   */
  subscribe(listener: (endpoints: readonly Endpoint[]) => void): () => void;
  /** True once the source has delivered its first complete set. */
  synced(): boolean;
  /** Stops watching; no more calls to listeners. */
  close(): void;
}
