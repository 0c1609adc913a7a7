import { Code } from "@connectrpc/connect";
import type { OutlierDetectionConfig } from "../config/gateway-config.ts";

/**
 * What one call says about the endpoint that served it:
 * - `failure`: the pod could not be reached, or answered Unavailable or
 *   Internal (it is down, overloaded, or broken);
 * - `success`: the pod answered, OK or with an error of the application
 *   (NotFound, InvalidArgument, ...): the pod works, whatever the call asked;
 * - `neutral`: Canceled and DeadlineExceeded tell about the caller's patience,
 *   not the pod; they neither count nor reset.
 */
export type CallOutcome = "success" | "failure" | "neutral";

/** The outcome of a call that ended with `code` (`undefined`: OK). */
export function outcomeOf(code: Code | undefined): CallOutcome {
  switch (code) {
    case Code.Unavailable:
    case Code.Internal:
      return "failure";
    case Code.Canceled:
    case Code.DeadlineExceeded:
      return "neutral";
    default:
      return "success";
  }
}

/** The longest ejection, however often an endpoint was ejected (Envoy's `max_ejection_time` default). */
export const MAX_EJECTION_MS = 300_000;

/** Passive outlier detection state of one endpoint. */
export interface OutlierState {
  /** Failures since the last success (or since it came back from an ejection). */
  consecutiveFailures: number;
  /** Ejections so far, less the decay: the multiplier of the next ejection time. */
  ejections: number;
  /** When the current ejection ends; 0 when the endpoint is in service. */
  ejectedUntil: number;
  /** When the last ejection ended, for the decay of `ejections`. */
  returnedAt: number;
}

export function createOutlierState(): OutlierState {
  return { consecutiveFailures: 0, ejections: 0, ejectedUntil: 0, returnedAt: 0 };
}

/**
 * Envoy-style consecutive-failure ejection, as a state machine over
 * {@link OutlierState} with the time passed in:
 *
 * - `consecutiveFailures` failures in a row (see {@link outcomeOf}) make an
 *   endpoint a candidate; whether it is ejected is the caller's word, since
 *   only the caller knows how many of the backend's endpoints are already out
 *   ({@link maxEjected}). A candidate that could not be ejected stays one:
 *   its next failure asks again, so it goes out once room is made.
 * - An ejection lasts `baseEjectionTimeMs × n`, `n` the times the endpoint
 *   has been ejected, capped at {@link MAX_EJECTION_MS} (or the base time, if
 *   longer). `n` decays by one for every `baseEjectionTimeMs` the endpoint
 *   spends in service, as Envoy's multiplier decays every interval, so a pod
 *   that failed once last week is not punished like one failing every minute.
 * - The endpoint comes back by itself when the time is up, with a clean
 *   slate of failures; results of calls that were in flight while it was
 *   ejected are ignored.
 */
export class OutlierDetector {
  private readonly config: OutlierDetectionConfig;
  private readonly maxMultiplier: number;

  constructor(config: OutlierDetectionConfig) {
    this.config = config;
    this.maxMultiplier = Math.max(1, Math.ceil(MAX_EJECTION_MS / config.baseEjectionTimeMs));
  }

  /**
   * Records one call's outcome; true when the endpoint should be ejected now
   * (the threshold is reached and it is not already out).
   */
  record(state: OutlierState, outcome: CallOutcome, now: number): boolean {
    if (state.ejectedUntil > now) {
      return false;
    }
    if (outcome === "success") {
      state.consecutiveFailures = 0;
    } else if (outcome === "failure") {
      state.consecutiveFailures++;
    }
    return state.consecutiveFailures >= this.config.consecutiveFailures;
  }

  /** Ejects the endpoint; returns how long it stays out. */
  eject(state: OutlierState, now: number): number {
    const inService = state.ejections === 0 ? 0 : now - state.returnedAt;
    const decayed = Math.max(0, state.ejections - Math.floor(inService / this.config.baseEjectionTimeMs));
    state.ejections = Math.min(decayed + 1, this.maxMultiplier);
    const duration = Math.min(
      this.config.baseEjectionTimeMs * state.ejections,
      Math.max(MAX_EJECTION_MS, this.config.baseEjectionTimeMs),
    );
    state.ejectedUntil = now + duration;
    state.consecutiveFailures = 0;
    return duration;
  }

  /** Ends an ejection whose time is up (the caller checks `ejectedUntil <= now`). */
  restore(state: OutlierState, now: number): void {
    state.ejectedUntil = 0;
    state.returnedAt = now;
    state.consecutiveFailures = 0;
  }

  /**
   * How many of `endpoints` may be ejected at once: `maxEjectionPercent`,
   * rounded down, but at least one when the percentage is above 0 (as Envoy
   * has always done, and gRPC's xDS outlier detection too: with 3 pods and
   * 10 %, a pod failing every call is still taken out). 0 % turns ejection
   * off. Taking out a backend's only endpoint is allowed and harmless: the
   * balancer still sends to it when nothing else is left.
   */
  maxEjected(endpoints: number): number {
    const percent = this.config.maxEjectionPercent;
    if (percent <= 0 || endpoints === 0) {
      return 0;
    }
    return Math.max(1, Math.floor((endpoints * percent) / 100));
  }
}
