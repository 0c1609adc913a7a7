import { cors } from "@connectrpc/connect";
import type { CorsConfig } from "../config/gateway-config.ts";

/** A route's CORS rules, as the gateway applies them for browsers on other origins. */
export interface CorsPolicy {
  /** Whether a browser page on `origin` may call the route. */
  allows(origin: string): boolean;
  /** The headers of the gateway's own answer to a preflight from an allowed origin. */
  preflightHeaders(origin: string): Headers;
  /** Adds what every response to an allowed origin carries, errors included. */
  decorate(origin: string, header: Headers): void;
}

/**
 * Builds a route's policy from config. Allowed and exposed headers start
 * from connect-es's lists for the Connect and gRPC-Web protocols (so
 * `connect-web` works without listing them) and add the route's own. The
 * allowed origin is echoed, never `*`, with `Vary: Origin`, so caches keep
 * answers for different origins apart.
 *
 * Origins match exactly (case-insensitive), `*` matches any, and
 * `https://*.example.com` matches any subdomain of example.com on that
 * scheme and port.
 */
export function createCorsPolicy(config: CorsConfig): CorsPolicy {
  const matchers = config.allowedOrigins.map(originMatcher);
  const allowHeaders = unique([...cors.allowedHeaders, ...config.allowedHeaders]).join(", ");
  const exposeHeaders = unique([...cors.exposedHeaders, ...config.exposedHeaders]).join(", ");
  const allowMethods = cors.allowedMethods.join(", ");
  const maxAge = String(config.maxAgeSeconds);
  return {
    allows(origin) {
      const normalized = origin.toLowerCase();
      return matchers.some((matches) => matches(normalized));
    },
    preflightHeaders(origin) {
      return new Headers({
        "access-control-allow-origin": origin,
        "access-control-allow-methods": allowMethods,
        "access-control-allow-headers": allowHeaders,
        "access-control-max-age": maxAge,
        vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
      });
    },
    decorate(origin, header) {
      header.set("access-control-allow-origin", origin);
      header.set("access-control-expose-headers", exposeHeaders);
      header.append("vary", "Origin");
    },
  };
}

function originMatcher(pattern: string): (origin: string) => boolean {
  if (pattern === "*") {
    return () => true;
  }
  const star = pattern.indexOf("://*.");
  if (star < 0) {
    return (origin) => origin === pattern;
  }
  const scheme = pattern.slice(0, star + 3);
  const suffix = pattern.slice(star + 4); // ".example.com[:port]"
  return (origin) =>
    origin.startsWith(scheme) && origin.endsWith(suffix) && origin.length > scheme.length + suffix.length &&
    !origin.slice(scheme.length, origin.length - suffix.length).includes(":");
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names.map((name) => name.toLowerCase()))];
}
