import type { Endpoint } from "../balance/endpoint.ts";
import type { HealthCheckConfig } from "../config/gateway-config.ts";
import type { EndpointChange } from "../discovery/endpoint-source.ts";
import type { Logger } from "../log/logger.ts";
import type { Schedule } from "../time/schedule.ts";

/** What one health check found. */
export type HealthCheckResult = { readonly passed: true } | { readonly passed: false; readonly reason: string };

/**
 * Asks one endpoint whether it serves. It should give up when `signal`
 * aborts; the checker does not wait for it past its timeout either way.
 */
export type HealthProbe = (endpoint: Endpoint, signal: AbortSignal) => Promise<HealthCheckResult>;

export interface HealthCheckerOptions {
  /** The backend's name, for the logs. */
  readonly backend: string;
  readonly config: HealthCheckConfig;
  readonly probe: HealthProbe;
  /** The verdict of an endpoint changed (the backend's balancer takes it). */
  readonly onChange: (endpoint: Endpoint, healthy: boolean) => void;
  readonly log: Logger;
  readonly schedule: Schedule;
  readonly random?: () => number;
}

/** Share of the interval by which each wait varies either way, so checks of many endpoints do not fire in step. */
const JITTER = 0.1;

interface Watched {
  readonly endpoint: Endpoint;
  healthy: boolean;
  /** Consecutive passed / failed checks. */
  passes: number;
  failures: number;
  /** Cancels the wait before the next check. */
  cancel: (() => void) | undefined;
  /** Aborts the check under way. */
  abort: AbortController | undefined;
  stopped: boolean;
}

/**
 * Active health checks of a backend's endpoints: one loop per endpoint,
 * each check waiting for the previous one to end (a pod that hangs costs a
 * timeout per interval, never a pile of checks).
 *
 * - An endpoint joins **healthy**: its first check runs at a random point
 *   of the first interval (so a thousand endpoints discovered at once are not
 *   checked in one burst), and calls go to it meanwhile. Discovery already
 *   lists only ready pods (EndpointSlice conditions, a readiness probe
 *   behind them), and starting unhealthy would black-hole a whole backend
 *   for an interval after every gateway start; a pod that is down is passed
 *   over by the connect-failure cooldown until its checks catch up.
 * - `unhealthyThreshold` consecutive failures (an error, no answer within
 *   `timeoutMs`, a status other than SERVING) make it unhealthy;
 *   `healthyThreshold` consecutive passes make it healthy again. Each change
 *   is logged at info with the reason; single failures at debug.
 * - Checks stop, and one under way is aborted, when an endpoint leaves the
 *   set and on `close()`.
 */
export class HealthChecker {
  private readonly options: HealthCheckerOptions;
  private readonly random: () => number;
  private readonly watched = new Map<string, Watched>();
  private closed = false;

  constructor(options: HealthCheckerOptions) {
    this.options = options;
    this.random = options.random ?? Math.random;
  }

  /** Starts checking endpoints that joined and stops for those that left. */
  apply(change: EndpointChange): void {
    if (this.closed) {
      return;
    }
    for (const endpoint of change.removed) {
      const watched = this.watched.get(endpoint.address);
      if (watched !== undefined) {
        this.stop(watched);
        this.watched.delete(endpoint.address);
      }
    }
    for (const endpoint of change.added) {
      if (this.watched.has(endpoint.address)) {
        continue;
      }
      const watched: Watched = {
        endpoint,
        healthy: true,
        passes: 0,
        failures: 0,
        cancel: undefined,
        abort: undefined,
        stopped: false,
      };
      this.watched.set(endpoint.address, watched);
      this.wait(watched, this.random() * this.options.config.intervalMs);
    }
  }

  /** The verdict on an endpoint being checked; `undefined` for one that is not. */
  healthy(address: string): boolean | undefined {
    return this.watched.get(address)?.healthy;
  }

  /** Stops every check. */
  close(): void {
    this.closed = true;
    for (const watched of this.watched.values()) {
      this.stop(watched);
    }
    this.watched.clear();
  }

  private wait(watched: Watched, ms: number): void {
    watched.cancel = this.options.schedule(() => {
      watched.cancel = undefined;
      void this.check(watched);
    }, ms);
  }

  private async check(watched: Watched): Promise<void> {
    if (watched.stopped) {
      return;
    }
    const { timeoutMs, intervalMs } = this.options.config;
    const abort = new AbortController();
    watched.abort = abort;
    // The timeout (or a stop) ends the check even if the probe does not heed its signal.
    const givenUp = new Promise<HealthCheckResult>((resolve) => {
      abort.signal.addEventListener("abort", () => resolve({ passed: false, reason: String(abort.signal.reason) }), {
        once: true,
      });
    });
    const cancelTimeout = this.options.schedule(() => abort.abort(`no answer within ${timeoutMs} ms`), timeoutMs);
    let result: HealthCheckResult;
    try {
      result = await Promise.race([this.options.probe(watched.endpoint, abort.signal), givenUp]);
    } catch (e) {
      result = { passed: false, reason: e instanceof Error ? e.message : String(e) };
    } finally {
      cancelTimeout();
      watched.abort = undefined;
    }
    if (watched.stopped) {
      return;
    }
    this.judge(watched, result);
    this.wait(watched, intervalMs * (1 - JITTER + 2 * JITTER * this.random()));
  }

  /** The threshold state machine: consecutive passes or failures flip the verdict. */
  private judge(watched: Watched, result: HealthCheckResult): void {
    const { config, backend, log } = this.options;
    const endpoint = watched.endpoint.address;
    if (result.passed) {
      watched.failures = 0;
      watched.passes++;
      if (!watched.healthy && watched.passes >= config.healthyThreshold) {
        watched.healthy = true;
        log.info("endpoint healthy again: new calls go to it", { backend, endpoint, passes: watched.passes });
        this.options.onChange(watched.endpoint, true);
      }
      return;
    }
    watched.passes = 0;
    watched.failures++;
    log.debug("health check failed", { backend, endpoint, reason: result.reason, failures: watched.failures });
    if (watched.healthy && watched.failures >= config.unhealthyThreshold) {
      watched.healthy = false;
      log.info("endpoint unhealthy: no new calls while others remain", {
        backend,
        endpoint,
        reason: result.reason,
        failures: watched.failures,
      });
      this.options.onChange(watched.endpoint, false);
    }
  }

  private stop(watched: Watched): void {
    watched.stopped = true;
    watched.cancel?.();
    watched.cancel = undefined;
    watched.abort?.abort("health checks stopped");
  }
}
