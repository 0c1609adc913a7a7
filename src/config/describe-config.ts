import type { GatewayConfig } from "./gateway-config.ts";

/**
 * One line per route and backend, for `edgegate check` and the startup log:
 * what a config will serve, in the order routes are matched.
 */
export function describeConfig(config: GatewayConfig): string[] {
  const lines = config.routes.map(
    (route, i) => `route ${i}: ${route.services?.join(", ") ?? "*"} -> backend ${route.backend}`,
  );
  for (const backend of config.backends) {
    const endpoints = backend.discovery.endpoints.map((e) => (e.host.includes(":") ? `[${e.host}]` : e.host) + `:${e.port}`);
    lines.push(`backend ${backend.name}: ${backend.balancer}, static ${endpoints.join(", ")}`);
  }
  return lines;
}
