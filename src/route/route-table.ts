import type { RouteConfig } from "../config/gateway-config.ts";

/** A route as the table holds it: which services it serves, and the backend it sends them to. */
export interface Route {
  readonly services: readonly string[] | undefined;
  readonly backend: string;
}

/** Finds the route of a call: the first route that matches wins. */
export interface RouteTable {
  match(service: string): Route | undefined;
}

/**
 * Builds the route table from config. A route's `services` entry matches a
 * full service name exactly, or, when it ends in ".", every service in that
 * package and its sub-packages (`shop.v1.` matches `shop.v1.CartService`). A
 * route without `services` matches every service.
 */
export function createRouteTable(routes: readonly RouteConfig[]): RouteTable {
  const table = routes.map((route) => ({ route, matches: serviceMatcher(route.services) }));
  return {
    match(service) {
      return table.find((entry) => entry.matches(service))?.route;
    },
  };
}

function serviceMatcher(services: readonly string[] | undefined): (service: string) => boolean {
  if (services === undefined) {
    return () => true;
  }
  const exact = new Set(services.filter((s) => !s.endsWith(".")));
  const prefixes = services.filter((s) => s.endsWith("."));
  return (service) => exact.has(service) || prefixes.some((prefix) => service.startsWith(prefix));
}
