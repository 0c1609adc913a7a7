import type { RouteConfig } from "../config/gateway-config.ts";
import { type CorsPolicy, createCorsPolicy } from "../cors/cors-policy.ts";
import { matchesHost } from "./match-host.ts";

/** What routing looks at, all known from the request line and headers, before any body. */
export interface RouteRequest {
  /** Lower case, without port (see `hostOfAuthority`). */
  readonly host: string;
  /** `/greet.v1.GreetService/Greet` */
  readonly path: string;
  readonly service: string;
  readonly method: string;
}

/** Where a matched call goes. */
export interface Route {
  /** Name of the backend in the gateway's backend map. */
  readonly backend: string;
  readonly cors: CorsPolicy | undefined;
  /** Where the route came from (`routes[0]`, `ingress shop/greet`), for logs. */
  readonly source: string;
  /** Deadline of a unary call whose client sent none; `undefined`: none (see `effectiveTimeout`). */
  readonly defaultTimeoutMs: number | undefined;
  /** Longest deadline a call may have; a client's longer one is cut to it. `undefined`: no cap. */
  readonly maxTimeoutMs: number | undefined;
}

/** One candidate of the table: a predicate and the route it selects. */
export interface RouteEntry {
  readonly matches: (request: RouteRequest) => boolean;
  /** Whether the entry can match some call on this host (for reflection: what a host serves). */
  readonly servesHost: (host: string) => boolean;
  /** Matches every call on the hosts it serves: later entries never see those hosts' calls. */
  readonly takesAll: boolean;
  readonly route: Route;
}

/** Finds the route of a call: the first entry that matches wins. */
export interface RouteTable {
  match(request: RouteRequest): Route | undefined;
  /** The backends some route of this host sends to, in route order, each once. */
  backendsForHost(host: string): string[];
}

/** A table over entries in order (config routes first, then Ingress routes in their precedence). */
export function createRouteTable(entries: readonly RouteEntry[]): RouteTable {
  return {
    match(request) {
      for (const entry of entries) {
        if (entry.matches(request)) return entry.route;
      }
      return undefined;
    },
    backendsForHost(host) {
      const backends = new Set<string>();
      for (const entry of entries) {
        if (!entry.servesHost(host)) continue;
        backends.add(entry.route.backend);
        if (entry.takesAll) break; // what follows is shadowed on this host
      }
      return [...backends];
    },
  };
}

/**
 * Entries for the config's `routes`. A route matches when its hosts (if
 * any) match the request's host, its services (if any) the service, and its
 * methods (if any) the method. A `services` entry matches a full service
 * name exactly or, ending in ".", every service in that package and its
 * sub-packages (`shop.v1.` matches `shop.v1.CartService`).
 */
export function configRouteEntries(routes: readonly RouteConfig[]): RouteEntry[] {
  return routes.map((config, index) => {
    const hosts = config.hosts;
    const service = serviceMatcher(config.services);
    const methods = config.methods === undefined ? undefined : new Set(config.methods);
    const servesHost = (host: string) => hosts === undefined || hosts.some((pattern) => matchesHost(pattern, host));
    return {
      matches: (request) =>
        servesHost(request.host) && service(request.service) && (methods === undefined || methods.has(request.method)),
      servesHost,
      takesAll: config.services === undefined && methods === undefined,
      route: {
        backend: config.backend,
        cors: config.cors === undefined ? undefined : createCorsPolicy(config.cors),
        source: `routes[${index}]`,
        defaultTimeoutMs: config.defaultTimeoutMs,
        maxTimeoutMs: config.maxTimeoutMs,
      },
    };
  });
}

function serviceMatcher(services: readonly string[] | undefined): (service: string) => boolean {
  if (services === undefined) {
    return () => true;
  }
  const exact = new Set(services.filter((s) => !s.endsWith(".")));
  const prefixes = services.filter((s) => s.endsWith("."));
  return (service) => exact.has(service) || prefixes.some((prefix) => service.startsWith(prefix));
}

/**
 * The timeout a call runs under on a route: the client's, cut to the route's
 * `maxTimeoutMs`; when the client sent none, a unary call gets the route's
 * `defaultTimeoutMs` (or, without one, `maxTimeoutMs`: a client asking for no
 * deadline asks for more than the cap). Streams without a client timeout
 * never get one here, so long-lived streams are not cut. `isUnary` is
 * `undefined` when the call's kind is unknown: it is then treated as a stream.
 */
export function effectiveTimeout(
  route: Pick<Route, "defaultTimeoutMs" | "maxTimeoutMs">,
  clientTimeoutMs: number | undefined,
  isUnary: boolean | undefined,
): number | undefined {
  const max = route.maxTimeoutMs;
  if (clientTimeoutMs !== undefined) {
    return max === undefined ? clientTimeoutMs : Math.min(clientTimeoutMs, max);
  }
  if (isUnary !== true) {
    return undefined;
  }
  const fallback = route.defaultTimeoutMs ?? max;
  return fallback === undefined || max === undefined ? fallback : Math.min(fallback, max);
}
