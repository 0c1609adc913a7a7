import type { Code } from "@connectrpc/connect";
import type { OutlierDetectionConfig } from "../config/gateway-config.ts";
import type { EndpointChange } from "../discovery/endpoint-source.ts";
import {
  type CallOutcome,
  createOutlierState,
  OutlierDetector,
  type OutlierState,
  outcomeOf,
} from "../health/outlier-detection.ts";
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
   * A lease counts once: after `connectFailed()`, a `report` adds nothing.
   */
  report(code: Code | undefined): void;
}

/** What the balancer tells about an endpoint's state, for the logs. */
export type BalancerEvent =
  | {
      readonly type: "ejected";
      readonly endpoint: Endpoint;
      readonly durationMs: number;
      /** How many times it has been ejected (after the decay): the multiplier of the duration. */
      readonly ejections: number;
    }
  | {
      /** Failing enough to be ejected, but `maxEjectionPercent` of the endpoints are out already. */
      readonly type: "ejection-capped";
      readonly endpoint: Endpoint;
      readonly ejected: number;
      readonly max: number;
    }
  | { readonly type: "returned"; readonly endpoint: Endpoint };

/** One endpoint's state, for the admin page. */
export interface EndpointStatus {
  readonly endpoint: Endpoint;
  readonly inFlight: number;
  /** The verdict of active health checks ("healthy" when they are off). */
  readonly health: "healthy" | "unhealthy";
  /** When the current outlier ejection ends (epoch ms); absent when not ejected. */
  readonly ejectedUntil?: number;
}

export interface BalancerOptions {
  readonly picker: Picker;
  readonly now: () => number;
  /** How long an endpoint that failed to connect is passed over while others remain. */
  readonly connectFailureCooldownMs: number;
  /** Passive outlier ejection; `undefined`: off. */
  readonly outlierDetection?: OutlierDetectionConfig;
  /** Ejections and returns, as they happen (a return is noticed at the next pick or report after its time). */
  readonly onEvent?: (event: BalancerEvent) => void;
  /** Called once an endpoint has left the set and its last call has ended. */
  readonly onEndpointRetired?: (endpoint: Endpoint) => void;
}

/** Picks tried among the usable endpoints before they are filtered, when a retry excludes some. */
const REPICKS = 4;

interface EndpointState {
  readonly endpoint: Endpoint;
  inFlight: number;
  /** Position in the dense candidate array, or -1 once the endpoint has left the set. */
  index: number;
  /** End of the connect-failure cooldown; 0 when none. */
  failedUntil: number;
  /** Active health checks say so (reset when the endpoint leaves the set). */
  unhealthy: boolean;
  readonly outlier: OutlierState;
  /** Cached verdicts as of the last refresh, counted in the totals while the endpoint is in the set. */
  available: boolean;
  ejected: boolean;
}

/**
 * Picks an endpoint for every call from the backend's current endpoint set.
 * Changes apply in place and cost work in proportion to what changed: the
 * set is a dense array (O(1) picks) with an index per address, and a removal
 * swaps the last entry into the hole. Changes never touch calls in flight: a
 * call keeps its lease, and an endpoint that left is retired only when its
 * last call has ended.
 *
 * An endpoint is **unavailable** while active health checks say it is
 * unhealthy ({@link setHealth}), while it is ejected by outlier detection
 * (consecutive failures reported on its leases), or for a short cooldown
 * after it refused a connection. Unavailable endpoints get no new calls
 * while others remain; when every endpoint is unavailable, all of them are
 * picked from again ("panic mode", as Envoy's healthy panic threshold:
 * failing calls beat no calls, and a verdict may be wrong).
 *
 * Picks stay O(1): the number of unavailable endpoints is kept exact (timed
 * states end in a sweep when the earliest of them is due, not by scanning
 * every pick), the full set is picked from while none is unavailable, and
 * otherwise the usable endpoints are filtered once per change and cached.
 * Picking from that list rather than re-picking over the full set keeps round
 * robin fair: a re-pick would hand an unavailable endpoint's turns to its
 * neighbour.
 */
export class Balancer {
  private readonly options: BalancerOptions;
  private readonly detector: OutlierDetector | undefined;
  private readonly byAddress = new Map<string, EndpointState>();
  private readonly endpoints: Endpoint[] = [];
  /** Endpoints in the set that are unavailable / ejected. */
  private unavailable = 0;
  private ejected = 0;
  /** The available endpoints, while some are not; rebuilt on the next pick after a change. */
  private usable: Endpoint[] | undefined;
  /** States with a cooldown or ejection pending, and the earliest end among them. */
  private readonly timed = new Set<EndpointState>();
  private nextExpiry = Number.POSITIVE_INFINITY;

  constructor(options: BalancerOptions) {
    this.options = options;
    this.detector = options.outlierDetection === undefined ? undefined : new OutlierDetector(options.outlierDetection);
  }

  /** The current endpoint set (a live view: do not keep it across changes). */
  current(): readonly Endpoint[] {
    return this.endpoints;
  }

  /** Calls in flight on an endpoint (0 for one never used). */
  inFlight(endpoint: Endpoint): number {
    return this.byAddress.get(endpoint.address)?.inFlight ?? 0;
  }

  /** Every endpoint of the set with its calls in flight, health and ejection. */
  states(): EndpointStatus[] {
    const now = this.options.now();
    this.expire(now);
    return this.endpoints.map((endpoint) => {
      const state = this.stateOf(endpoint);
      const status: EndpointStatus = {
        endpoint,
        inFlight: state.inFlight,
        health: state.unhealthy ? "unhealthy" : "healthy",
      };
      return state.ejected ? { ...status, ejectedUntil: state.outlier.ejectedUntil } : status;
    });
  }

  /**
   * Applies the verdict of active health checks to an endpoint of the set
   * (others are ignored: an endpoint joins healthy).
   */
  setHealth(address: string, healthy: boolean): void {
    const state = this.byAddress.get(address);
    if (state === undefined || state.index < 0 || state.unhealthy === !healthy) {
      return;
    }
    state.unhealthy = !healthy;
    this.refresh(state, this.options.now());
  }

  /** Applies a change from discovery; an address added twice counts once. */
  apply(change: EndpointChange): void {
    for (const endpoint of change.removed) {
      const state = this.byAddress.get(endpoint.address);
      if (state === undefined || state.index < 0) {
        continue;
      }
      this.count(state, -1);
      const last = this.endpoints.pop() as Endpoint;
      if (last.address !== endpoint.address) {
        this.endpoints[state.index] = last;
        this.stateOf(last).index = state.index;
      }
      state.index = -1;
      // Health checks stop for an endpoint that left; if it comes back, it comes back healthy.
      state.unhealthy = false;
      this.usable = undefined;
      if (state.inFlight === 0) {
        this.retire(state);
      }
    }
    const now = this.options.now();
    for (const endpoint of change.added) {
      let state = this.byAddress.get(endpoint.address);
      if (state === undefined) {
        state = {
          endpoint,
          inFlight: 0,
          index: -1,
          failedUntil: 0,
          unhealthy: false,
          outlier: createOutlierState(),
          available: true,
          ejected: false,
        };
        this.byAddress.set(endpoint.address, state);
      } else if (state.index >= 0) {
        continue;
      }
      // New, or back while its last calls still drain: the same state, so their count stays right.
      this.refresh(state, now);
      state.index = this.endpoints.length;
      this.endpoints.push(state.endpoint);
      this.count(state, 1);
      this.usable = undefined;
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
    const state = this.stateOf(endpoint);
    state.inFlight++;
    let released = false;
    let reported = false;
    const settle = (outcome: CallOutcome) => {
      if (!reported) {
        reported = true;
        this.record(state, outcome);
      }
    };
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
      report: (code) => settle(outcomeOf(code)),
      connectFailed: () => {
        if (this.byAddress.get(endpoint.address) === state) {
          state.failedUntil = this.options.now() + this.options.connectFailureCooldownMs;
          this.refresh(state, this.options.now());
        }
        settle("failure");
      },
    };
  }

  /**
   * The picker's choice among the available endpoints not excluded; when
   * none is available, among all not excluded (panic mode).
   */
  private choose(exclude?: ReadonlySet<string>): Endpoint | undefined {
    const inFlight = (e: Endpoint) => this.inFlight(e);
    this.expire(this.options.now());
    const candidates =
      this.unavailable === 0 || this.unavailable >= this.endpoints.length
        ? this.endpoints
        : (this.usable ??= this.endpoints.filter((e) => this.stateOf(e).available));
    if (exclude === undefined || exclude.size === 0) {
      return this.options.picker.pick(candidates, inFlight);
    }
    const allowed = (e: Endpoint) => !exclude.has(e.address);
    for (let attempt = 0; attempt < REPICKS; attempt++) {
      const endpoint = this.options.picker.pick(candidates, inFlight);
      if (allowed(endpoint)) {
        return endpoint;
      }
    }
    const rest = candidates.filter(allowed);
    if (rest.length > 0) {
      return this.options.picker.pick(rest, inFlight);
    }
    // Every available endpoint was tried: a retry may still go to an unavailable one.
    const fallback = candidates === this.endpoints ? [] : this.endpoints.filter(allowed);
    return fallback.length === 0 ? undefined : this.options.picker.pick(fallback, inFlight);
  }

  /** Feeds one call's outcome to outlier detection, and ejects when it says so and the cap allows. */
  private record(state: EndpointState, outcome: CallOutcome): void {
    const detector = this.detector;
    if (detector === undefined || state.index < 0 || this.byAddress.get(state.endpoint.address) !== state) {
      return;
    }
    const now = this.options.now();
    this.expire(now);
    if (!detector.record(state.outlier, outcome, now)) {
      return;
    }
    const max = detector.maxEjected(this.endpoints.length);
    if (this.ejected >= max) {
      if (max > 0 && state.outlier.consecutiveFailures === this.options.outlierDetection?.consecutiveFailures) {
        this.options.onEvent?.({ type: "ejection-capped", endpoint: state.endpoint, ejected: this.ejected, max });
      }
      return;
    }
    const durationMs = detector.eject(state.outlier, now);
    this.refresh(state, now);
    this.options.onEvent?.({ type: "ejected", endpoint: state.endpoint, durationMs, ejections: state.outlier.ejections });
  }

  /** Ends the cooldowns and ejections that are due, when the earliest of them is. */
  private expire(now: number): void {
    if (now < this.nextExpiry) {
      return;
    }
    this.nextExpiry = Number.POSITIVE_INFINITY;
    for (const state of this.timed) {
      if (state.failedUntil !== 0 && state.failedUntil <= now) {
        state.failedUntil = 0;
      }
      const returned = state.outlier.ejectedUntil !== 0 && state.outlier.ejectedUntil <= now;
      if (returned) {
        this.detector?.restore(state.outlier, now);
      }
      this.refresh(state, now);
      if (returned && state.index >= 0) {
        this.options.onEvent?.({ type: "returned", endpoint: state.endpoint });
      }
    }
  }

  /** Recomputes an endpoint's verdicts as of `now`, keeping the totals and the timed set right. */
  private refresh(state: EndpointState, now: number): void {
    const ejected = state.outlier.ejectedUntil > now;
    const available = !state.unhealthy && !ejected && state.failedUntil <= now;
    if (available !== state.available || ejected !== state.ejected) {
      this.count(state, -1);
      state.available = available;
      state.ejected = ejected;
      this.count(state, 1);
      if (state.index >= 0) {
        this.usable = undefined;
      }
    }
    const ends = [state.failedUntil, state.outlier.ejectedUntil].filter((t) => t > now);
    if (ends.length === 0) {
      this.timed.delete(state);
    } else {
      this.timed.add(state);
      this.nextExpiry = Math.min(this.nextExpiry, ...ends);
    }
  }

  /** Adds (1) or removes (-1) an endpoint of the set from the totals. */
  private count(state: EndpointState, sign: 1 | -1): void {
    if (state.index < 0) {
      return;
    }
    this.unavailable += state.available ? 0 : sign;
    this.ejected += state.ejected ? sign : 0;
  }

  private stateOf(endpoint: Endpoint): EndpointState {
    return this.byAddress.get(endpoint.address) as EndpointState;
  }

  private retire(state: EndpointState): void {
    this.byAddress.delete(state.endpoint.address);
    this.timed.delete(state);
    this.options.onEndpointRetired?.(state.endpoint);
  }
}
