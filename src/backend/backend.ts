import { Balancer, type BalancerEvent, type Lease } from "../balance/balancer.ts";
import { createLeastRequestPicker, createRoundRobinPicker } from "../balance/picker.ts";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import type { BackendConfig } from "../config/gateway-config.ts";
import type { EndpointSource } from "../discovery/endpoint-source.ts";
import { HealthChecker } from "../health/health-checker.ts";
import { createHealthProbe } from "../health/health-probe.ts";
import { defaultSchedule, type Schedule } from "../time/schedule.ts";
import type { Logger } from "../log/logger.ts";
import type { BackendSchema } from "../schema/backend-schema.ts";
import type { UpstreamContext } from "../upstream/call-upstream.ts";
import { sendCall } from "../upstream/send-call.ts";

/** A named group of pods: its discovery source, its balancer, its schema, and the way calls reach it. */
export interface Backend {
  readonly name: string;
  readonly config: BackendConfig;
  /** The protobuf schema its pods serve, loaded on first need (JSON, Connect GET, reflection). */
  readonly schema: BackendSchema;
  readonly balancer: Balancer;
  readonly source: EndpointSource;
  /** Sends a call to one of the backend's endpoints, picked for this call alone. */
  /** `onEndpoint` hears the endpoint of each attempt (the last one answered). */
  call(
    call: CallRequest,
    signal: AbortSignal,
    deadlineAt: number | undefined,
    onEndpoint?: (address: string) => void,
  ): Promise<CallResult>;
  close(): void;
}

/** What a backend needs beyond its config, with defaults for the rest. */
export interface BackendOptions {
  /** Where health changes and ejections are logged (info). Default: the upstream context's log, else nowhere. */
  readonly log?: Logger;
  /** Timers of the health checks. Default: setTimeout, unref'd. */
  readonly schedule?: Schedule;
  /** Jitter of the health checks. Default: Math.random. */
  readonly random?: () => number;
}

/** Time an endpoint that refused a connection is passed over while others remain. */
const connectFailureCooldownMs = 1_000;

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Builds a backend from its config: subscribes the balancer (and the health
 * checks, when configured) to the source, feeds the checks' verdicts and the
 * outlier ejections to the balancer, and retires an endpoint's upstream
 * sessions once it has left and its last call has ended.
 */
export function createBackend(
  config: BackendConfig,
  source: EndpointSource,
  upstream: UpstreamContext,
  makeSchema: (pick: () => Lease | undefined) => BackendSchema,
  options: BackendOptions = {},
): Backend {
  const log = options.log ?? upstream.log ?? silent;
  const balancer = new Balancer({
    picker: config.balancer === "least_request" ? createLeastRequestPicker() : createRoundRobinPicker(),
    now: upstream.now,
    connectFailureCooldownMs,
    outlierDetection: config.outlierDetection,
    onEvent: (event) => logBalancerEvent(log, config.name, event),
    onEndpointRetired: (endpoint) => {
      upstream.client.retire(`${upstream.scheme}://${endpoint.address}`);
      upstream.acceptedByEndpoint.delete(endpoint.address);
    },
  });
  const checker =
    config.healthCheck === undefined
      ? undefined
      : new HealthChecker({
          backend: config.name,
          config: config.healthCheck,
          probe: createHealthProbe(upstream, config.healthCheck),
          onChange: (endpoint, healthy) => balancer.setHealth(endpoint.address, healthy),
          log,
          schedule: options.schedule ?? defaultSchedule,
          random: options.random,
        });
  const unsubscribe = source.subscribe((change) => {
    balancer.apply(change);
    checker?.apply(change);
  });
  const schema = makeSchema(() => balancer.pick());
  return {
    name: config.name,
    config,
    schema,
    balancer,
    source,
    call: (call, signal, deadlineAt, onEndpoint) =>
      sendCall({ backend: config.name, balancer, upstream, retry: config.retry }, call, signal, deadlineAt, onEndpoint),
    close() {
      unsubscribe();
      checker?.close();
      source.close();
      schema.close();
    },
  };
}

function logBalancerEvent(log: Logger, backend: string, event: BalancerEvent): void {
  const endpoint = event.endpoint.address;
  switch (event.type) {
    case "ejected":
      log.info("endpoint ejected: it keeps failing calls", {
        backend,
        endpoint,
        durationMs: event.durationMs,
        ejections: event.ejections,
      });
      return;
    case "ejection-capped":
      log.info("endpoint keeps failing calls but stays in: maxEjectionPercent of the endpoints are ejected already", {
        backend,
        endpoint,
        ejected: event.ejected,
        max: event.max,
      });
      return;
    case "returned":
      log.info("endpoint back from ejection", { backend, endpoint });
      return;
  }
}
