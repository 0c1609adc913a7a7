import type { Code } from "@connectrpc/connect";
import type { EndpointChange } from "../discovery/endpoint-source.ts";
import type { Endpoint } from "./endpoint.ts";
import type { Picker } from "./picker.ts";

/** One call's claim on an endpoint; release it exactly once when the call ends. */
export interface Lease {
  readonly endpoint: Endpoint;
  release(): void;
  /** The endpoint refused or dropped the connection before answering. */
  connectFailed(): void;
  /**
   * How the call ended on this endpoint: `undefined` for OK, else its code.
   * Feeds passive outlier detection (Unavailable and Internal count as failures).
   */
  report(code: Code | undefined): void;
}

export interface BalancerOptions {
  readonly picker: Picker;
  readonly now: () => number;
  /** How long an endpoint that failed to connect is passed over while others remain. */
  readonly connectFailureCooldownMs: number;
  /** Called once an endpoint has left the set and its last call has ended. */
  readonly onEndpointRetired?: (endpoint: Endpoint) => void;
}

/** Picks tried before the set is filtered, when some endpoints are in cooldown. */
const REPICKS = 4;

interface EndpointState {
  readonly endpoint: Endpoint;
  inFlight: number;
  failedUntil: number;
  /** Position in the dense candidate array, or -1 once the endpoint has left the set. */
  index: number;
}

/**
 * Picks an endpoint for every call from the backend's current endpoint set.
 * Changes apply in place and cost work in proportion to what changed: the
 * set is a dense array (O(1) picks) with an index per address, and a removal
 * swaps the last entry into the hole. Changes never touch calls in flight: a
 * call keeps its lease, and an endpoint that left is retired only when its
 * last call has ended. An endpoint that just refused a connection is passed
 * over for a short cooldown so the next call goes elsewhere.
 */
export class Balancer {
  private readonly options: BalancerOptions;
  private readonly states = new Map<string, EndpointState>();
  private readonly endpoints: Endpoint[] = [];
  private cooling = 0;

  constructor(options: BalancerOptions) {
    this.options = options;
  }

  /** The current endpoint set (a live view: do not keep it across changes). */
  current(): readonly Endpoint[] {
    return this.endpoints;
  }

  /** Calls in flight on an endpoint (0 for one never used). */
  inFlight(endpoint: Endpoint): number {
    return this.states.get(endpoint.address)?.inFlight ?? 0;
  }

  /** Applies a change from discovery; an address added twice counts once. */
  apply(change: EndpointChange): void {
    for (const endpoint of change.removed) {
      const state = this.states.get(endpoint.address);
      if (state === undefined || state.index < 0) {
        continue;
      }
      const last = this.endpoints.pop() as Endpoint;
      if (last.address !== endpoint.address) {
        this.endpoints[state.index] = last;
        (this.states.get(last.address) as EndpointState).index = state.index;
      }
      state.index = -1;
      if (state.inFlight === 0) {
        this.retire(state);
      }
    }
    for (const endpoint of change.added) {
      const state = this.states.get(endpoint.address);
      if (state === undefined) {
        this.states.set(endpoint.address, { endpoint, inFlight: 0, failedUntil: 0, index: this.endpoints.length });
        this.endpoints.push(endpoint);
      } else if (state.index < 0) {
        // Back while its last calls still drain: the same state, so their count stays right.
        state.index = this.endpoints.length;
        this.endpoints.push(state.endpoint);
      }
    }
  }

  /**
   * Picks an endpoint for one call, or `undefined` when the set is empty or
   * every endpoint is excluded (a retry excludes the ones already tried).
   */
  pick(exclude?: ReadonlySet<string>): Lease | undefined {
    if (this.endpoints.length === 0) {
      return undefined;
    }
    const endpoint = this.choose(exclude);
    if (endpoint === undefined) {
      return undefined;
    }
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
        if (state.index < 0 && state.inFlight === 0) {
          this.retire(state);
        }
      },
      report: () => {
        // Outlier detection plugs in here.
      },
      connectFailed: () => {
        if (state.failedUntil <= this.options.now()) {
          this.cooling++;
        }
        state.failedUntil = this.options.now() + this.options.connectFailureCooldownMs;
      },
    };
  }

  /**
   * The picker's choice, passing over endpoints in cooldown. A few re-picks
   * find a usable endpoint without looking at the whole set (picks stay O(1)
   * at thousands of endpoints with one failing); only when they all land on
   * cooling endpoints is the set filtered.
   */
  private choose(exclude?: ReadonlySet<string>): Endpoint | undefined {
    const inFlight = (e: Endpoint) => this.inFlight(e);
    if (this.cooling === 0 && (exclude === undefined || exclude.size === 0)) {
      return this.options.picker.pick(this.endpoints, inFlight);
    }
    const now = this.options.now();
    const allowed = (e: Endpoint) => exclude === undefined || !exclude.has(e.address);
    const usable = (e: Endpoint) => allowed(e) && (this.states.get(e.address) as EndpointState).failedUntil <= now;
    for (let attempt = 0; attempt < REPICKS; attempt++) {
      const endpoint = this.options.picker.pick(this.endpoints, inFlight);
      if (usable(endpoint)) {
        return endpoint;
      }
    }
    const healthy = this.endpoints.filter(usable);
    if (exclude === undefined || exclude.size === 0) {
      this.cooling = this.endpoints.length - healthy.length;
    }
    const fallback = healthy.length > 0 ? healthy : this.endpoints.filter(allowed);
    return fallback.length === 0 ? undefined : this.options.picker.pick(fallback, inFlight);
  }

  private retire(state: EndpointState): void {
    this.states.delete(state.endpoint.address);
    this.options.onEndpointRetired?.(state.endpoint);
  }
}
