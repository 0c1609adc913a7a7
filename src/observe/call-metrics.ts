import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Backend } from "../backend/backend.ts";
import type { CertificateStore } from "../tls/certificate-store.ts";
import type { CallObserver } from "./call-observer.ts";
import { codeName } from "./code-name.ts";

/** Latency buckets, seconds: from a fast unary call to a long stream. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The gateway's Prometheus metrics, all prefixed `edgegate_`: calls by
 * route, backend, endpoint, inbound protocol and code; latency; calls in
 * flight; bytes; endpoints per backend by state; discovery events and watch
 * restarts; upstream sessions; TLS handshakes and certificate expiry. Gauges
 * of state are read when scraped, so nothing is kept twice.
 */
export interface GatewayMetrics {
  /** Hears every call. */
  readonly observer: CallObserver;
  /** A discovery event (a watched object changed, a DNS answer changed the set). */
  discoveryEvent(source: "kubernetes" | "dns", resource: string): void;
  /** A watch restarted after a failure. */
  watchRestart(resource: string): void;
  tlsHandshake(outcome: "ok" | "failed"): void;
}

export function createGatewayMetrics(
  registry: Registry,
  backends: ReadonlyMap<string, Backend>,
  certificates: CertificateStore,
  upstreamSessions: () => number,
): GatewayMetrics {
  const calls = new Counter({
    name: "edgegate_calls_total",
    help: "Calls served, by route, backend, endpoint that answered, inbound protocol and status code.",
    labelNames: ["route", "backend", "endpoint", "protocol", "code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "edgegate_call_duration_seconds",
    help: "Call duration at the gateway, from the request to the end of the answer.",
    labelNames: ["route", "backend", "protocol", "code"] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "edgegate_calls_in_flight",
    help: "Calls being served now.",
    labelNames: ["route", "backend", "protocol"] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: "edgegate_message_bytes_total",
    help: "Message bytes, by direction (in: from clients, out: to clients).",
    labelNames: ["backend", "direction"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "edgegate_endpoints",
    help: "Endpoints per backend by state: ready (taking calls), unhealthy (failing health checks), ejected (outlier detection).",
    labelNames: ["backend", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const backend of backends.values()) {
        const counts = { ready: 0, unhealthy: 0, ejected: 0 };
        const now = Date.now();
        for (const state of backend.balancer.states()) {
          if (state.ejectedUntil !== undefined && state.ejectedUntil > now) counts.ejected++;
          else if (state.health === "unhealthy") counts.unhealthy++;
          else counts.ready++;
        }
        for (const [state, count] of Object.entries(counts)) this.set({ backend: backend.name, state }, count);
      }
    },
  });
  new Gauge({
    name: "edgegate_certificate_expiry_timestamp_seconds",
    help: "When each served certificate expires (Unix time).",
    labelNames: ["certificate"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const certificate of certificates.list()) {
        this.set({ certificate: certificate.key }, Math.floor(certificate.notAfter / 1000));
      }
    },
  });
  const discoveryEvents = new Counter({
    name: "edgegate_discovery_events_total",
    help: "Discovery events: Kubernetes watch events by resource, DNS answers that changed a set.",
    labelNames: ["source", "resource"] as const,
    registers: [registry],
  });
  const watchRestarts = new Counter({
    name: "edgegate_watch_restarts_total",
    help: "Kubernetes watches restarted after a failure, by resource.",
    labelNames: ["resource"] as const,
    registers: [registry],
  });
  const handshakes = new Counter({
    name: "edgegate_tls_handshakes_total",
    help: "TLS handshakes on the gateway's listeners, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "edgegate_upstream_sessions",
    help: "Open HTTP/2 sessions to pods.",
    registers: [registry],
    collect() {
      this.set(upstreamSessions());
    },
  });
  const none = "";
  const observer: CallObserver = {
    started(info) {
      inFlight.inc({ route: info.route ?? none, backend: info.backend ?? none, protocol: info.protocol });
    },
    ended(info, outcome) {
      const route = info.route ?? none;
      const backend = info.backend ?? none;
      const code = codeName(outcome.code);
      inFlight.dec({ route, backend, protocol: info.protocol });
      calls.inc({ route, backend, endpoint: outcome.endpoint ?? none, protocol: info.protocol, code });
      duration.observe({ route, backend, protocol: info.protocol, code }, outcome.durationMs / 1000);
      bytes.inc({ backend, direction: "in" }, outcome.bytesIn);
      bytes.inc({ backend, direction: "out" }, outcome.bytesOut);
    },
  };
  return {
    observer,
    discoveryEvent: (source, resource) => discoveryEvents.inc({ source, resource }),
    watchRestart: (resource) => watchRestarts.inc({ resource }),
    tlsHandshake: (outcome) => handshakes.inc({ outcome }),
  };
}
