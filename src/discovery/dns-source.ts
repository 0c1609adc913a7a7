import { createEndpoint, type Endpoint } from "../balance/endpoint.ts";
import type { DnsDiscoveryConfig } from "../config/gateway-config.ts";
import type { Logger } from "../log/logger.ts";
import type { HostResolver } from "../runtime.ts";
import { describeChange } from "./describe-change.ts";
import { diffEndpoints } from "./diff-endpoints.ts";
import type { EndpointChange, EndpointSource } from "./endpoint-source.ts";
import { defaultSchedule, type Schedule } from "../time/schedule.ts";

export interface DnsSourceOptions {
  readonly config: DnsDiscoveryConfig;
  readonly resolve: HostResolver;
  readonly log: Logger;
  /** Called when a lookup changed the set (for metrics). */
  readonly onChange?: () => void;
  /** Schedules the next lookup; returns its cancel function. */
  readonly schedule?: Schedule;
}


/**
 * The `dns` discovery source: the A and AAAA records of a name, as a
 * headless Service publishes one per ready pod, looked up now and then every
 * `refreshSeconds`. A lookup that fails (timeout, SERVFAIL, no such name)
 * keeps the last good set, so a DNS hiccup never empties a backend; a name
 * that exists with no records (a Service scaled to zero) is an empty set.
 */
export function createDnsSource(options: DnsSourceOptions): EndpointSource {
  const { config, log } = options;
  const schedule = options.schedule ?? defaultSchedule;
  const listeners = new Set<(change: EndpointChange) => void>();
  let current: readonly Endpoint[] = [];
  let synced = false;
  let closed = false;
  let cancel: (() => void) | undefined;
  let failing = false;

  const lookup = async () => {
    try {
      const addresses = await options.resolve(config.host, config.servers);
      if (closed) return;
      const next = addresses.map((address) => createEndpoint(address, config.port));
      const change = diffEndpoints(current, next);
      current = next;
      synced = true;
      if (failing) {
        failing = false;
        log.info("DNS lookup works again", { host: config.host, endpoints: next.length });
      }
      if (change.added.length > 0 || change.removed.length > 0) {
        log.info("endpoints changed", { host: config.host, ...describeChange(change), endpoints: next.length });
        options.onChange?.();
        for (const listener of listeners) listener(change);
      }
    } catch (error) {
      if (closed) return;
      if (!failing) {
        log.warn("DNS lookup failed; keeping the last known endpoints", {
          host: config.host,
          endpoints: current.length,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      failing = true;
    }
    if (!closed) cancel = schedule(() => void lookup(), config.refreshMs);
  };
  void lookup();

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (current.length > 0) listener({ added: current, removed: [] });
      return () => listeners.delete(listener);
    },
    synced: () => synced,
    close() {
      closed = true;
      cancel?.();
      listeners.clear();
    },
  };
}
