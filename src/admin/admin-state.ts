import type { Backend } from "../backend/backend.ts";
import type { RouteConfig } from "../config/gateway-config.ts";
import type { AdminStateObserver, RecentError } from "../observe/admin-state.ts";
import type { StoredCertificate } from "../tls/certificate-store.ts";
import type { RetryBudgetState } from "../retry/retry-budget.ts";
import { retryBudgetOf } from "../upstream/send-call.ts";

/** What `/api/state` answers, and the admin page draws. */
export interface AdminState {
  /** When the snapshot was taken, epoch ms. */
  readonly now: number;
  readonly ready: boolean;
  /** Length of the window calls per second are averaged over. */
  readonly windowSeconds: number;
  readonly backends: readonly AdminBackend[];
  readonly routes: readonly AdminRoute[];
  readonly certificates: readonly AdminCertificate[];
  /** Newest first. */
  readonly errors: readonly RecentError[];
}

export interface AdminBackend {
  readonly name: string;
  readonly balancer: string;
  /** `static`, `dns` or `kubernetes`. */
  readonly discovery: string;
  /** Discovery has delivered the endpoint set at least once. */
  readonly synced: boolean;
  readonly endpoints: readonly AdminEndpoint[];
  /** The retry budget, once a call has gone through the backend: calls active now, retries among them, tokens left. */
  readonly retryBudget?: RetryBudgetState;
}

export interface AdminEndpoint {
  readonly address: string;
  /** Ejected by outlier detection wins over the health checks' verdict. */
  readonly state: "healthy" | "unhealthy" | "ejected";
  readonly inFlight: number;
  readonly callsPerSecond: number;
  /** Epoch ms, while ejected. */
  readonly ejectedUntil?: number;
}

export interface AdminRoute {
  /** `routes[0]`, `ingress shop/greet` */
  readonly source: string;
  /** `undefined`: every host (or, for Ingress routes, see the Ingress). */
  readonly hosts?: readonly string[];
  /** `undefined`: every service. */
  readonly services?: readonly string[];
  readonly methods?: readonly string[];
  readonly backend: string;
}

export interface AdminCertificate {
  readonly key: string;
  readonly names: readonly string[];
  /** Epoch ms. */
  readonly notAfter: number;
  /** Whole days until expiry, negative once expired. */
  readonly daysLeft: number;
}

/** Where the snapshot is read from; all live, read on every request. */
export interface AdminStateSources {
  readonly now: () => number;
  readonly ready: () => boolean;
  readonly backends: ReadonlyMap<string, Backend>;
  readonly configRoutes: readonly RouteConfig[];
  /** The routes taken from Ingresses, as currently published. */
  readonly ingressRoutes: () => readonly { readonly source: string; readonly backend: string }[];
  readonly certificates: () => readonly StoredCertificate[];
  readonly calls: AdminStateObserver;
}

const DAY_MS = 86_400_000;

/** A snapshot of the gateway for the admin page: no keys, bodies or headers. */
export function adminState(sources: AdminStateSources): AdminState {
  const now = sources.now();
  const backends = [...sources.backends.values()].map((backend): AdminBackend => ({
    name: backend.name,
    balancer: backend.config.balancer,
    discovery: backend.config.discovery.kind,
    synced: backend.source.synced(),
    endpoints: backend.balancer
      .states()
      .map((status): AdminEndpoint => {
        const address = status.endpoint.address;
        const ejected = status.ejectedUntil !== undefined && status.ejectedUntil > now;
        return {
          address,
          state: ejected ? "ejected" : status.health,
          inFlight: status.inFlight,
          callsPerSecond: round(sources.calls.callsPerSecond(backend.name, address)),
          ...(ejected ? { ejectedUntil: status.ejectedUntil } : {}),
        };
      })
      .sort((a, b) => a.address.localeCompare(b.address)),
    ...retryBudgetState(backend),
  }));
  const routes: AdminRoute[] = [
    ...sources.configRoutes.map((route, index) => ({
      source: `routes[${index}]`,
      ...(route.hosts === undefined ? {} : { hosts: route.hosts }),
      ...(route.services === undefined ? {} : { services: route.services }),
      ...(route.methods === undefined ? {} : { methods: route.methods }),
      backend: route.backend,
    })),
    ...sources.ingressRoutes().map((route) => ({ source: route.source, backend: route.backend })),
  ];
  const certificates = sources.certificates().map((cert) => ({
    key: cert.key,
    names: cert.names,
    notAfter: cert.notAfter,
    daysLeft: Math.floor((cert.notAfter - now) / DAY_MS),
  }));
  return {
    now,
    ready: sources.ready(),
    windowSeconds: sources.calls.windowMs / 1_000,
    backends,
    routes,
    certificates,
    errors: sources.calls.recentErrors(),
  };
}

function retryBudgetState(backend: Backend): Pick<AdminBackend, "retryBudget"> {
  const budget = retryBudgetOf(backend.balancer)?.state();
  return budget === undefined ? {} : { retryBudget: budget };
}

function round(rate: number): number {
  return Math.round(rate * 100) / 100;
}
