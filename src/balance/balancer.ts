import type { Endpoint } from "./endpoint.ts";
import type { Picker } from "./picker.ts";

/** One call's claim on an endpoint; release it exactly once when the call ends. */
export interface Lease {
  readonly endpoint: Endpoint;
  release(): void;
  /** The endpoint refused or dropped the connection before answering. */
  connectFailed(): void;
}

export interface BalancerOptions {
  readonly picker: Picker;
  readonly now: () => number;
  /** How long an endpoint that failed to connect is passed over while others remain. */
  readonly connectFailureCooldownMs: number;
  /** Called once an endpoint has left the set and its last call has ended. */
  readonly onEndpointRetired?: (endpoint: Endpoint) => void;
}

interface EndpointState {
  readonly endpoint: Endpoint;
  inFlight: number;
  failedUntil: number;
  current: boolean;
}

/**
 * Picks an endpoint for every call from the backend's current endpoint set.
 * Sets are swapped atomically by `update()` and never touch calls in flight:
 * a call keeps its lease, and an endpoint that left is retired only when its
 * last call has ended. An endpoint that just refused a connection is passed
 * over for a short cooldown so the next call goes elsewhere.
 */
export class Balancer {
  private readonly options: BalancerOptions;
  private readonly states = new Map<string, EndpointState>();
  private endpoints: readonly Endpoint[] = [];
  private cooling = 0;

  constructor(options: BalancerOptions) {
    this.options = options;
  }

  /** The current endpoint set. */
  current(): readonly Endpoint[] {
    return this.endpoints;
  }

  /** Calls in flight on an endpoint (0 for one never used). */
  inFlight(endpoint: Endpoint): number {
    return this.states.get(endpoint.address)?.inFlight ?? 0;
  }

  /** Replaces the endpoint set; duplicates are dropped. */
  update(endpoints: readonly Endpoint[]): void {
    const unique = new Map<string, Endpoint>();
    for (const endpoint of endpoints) {
      unique.set(endpoint.address, endpoint);
    }
    for (const state of this.states.values()) {
      state.current = unique.has(state.endpoint.address);
      if (!state.current && state.inFlight === 0) {
        this.retire(state);
      }
    }
    for (const endpoint of unique.values()) {
      if (!this.states.has(endpoint.address)) {
        this.states.set(endpoint.address, { endpoint, inFlight: 0, failedUntil: 0, current: true });
      }
    }
    this.endpoints = [...unique.values()];
  }

  /** Picks an endpoint for one call, or `undefined` when the set is empty. */
  pick(): Lease | undefined {
    if (this.endpoints.length === 0) {
      return undefined;
    }
    const endpoint = this.options.picker.pick(this.candidates(), (e) => this.inFlight(e));
    const state = this.states.get(endpoint.address) as EndpointState;
    state.inFlight++;
    let released = false;
    return {
      endpoint,
      release: () => {
        if (released) {
          return;
        }
        released = true;
        state.inFlight--;
        if (!state.current && state.inFlight === 0) {
          this.retire(state);
        }
      },
      connectFailed: () => {
        if (state.failedUntil <= this.options.now()) {
          this.cooling++;
        }
        state.failedUntil = this.options.now() + this.options.connectFailureCooldownMs;
      },
    };
  }

  private candidates(): readonly Endpoint[] {
    if (this.cooling === 0) {
      return this.endpoints;
    }
    const now = this.options.now();
    const healthy = this.endpoints.filter((e) => (this.states.get(e.address)?.failedUntil ?? 0) <= now);
    this.cooling = this.endpoints.length - healthy.length;
    return healthy.length > 0 ? healthy : this.endpoints;
  }

  private retire(state: EndpointState): void {
    this.states.delete(state.endpoint.address);
    this.options.onEndpointRetired?.(state.endpoint);
  }
}
