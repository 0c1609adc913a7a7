import type { DiscoveryConfig, GatewayConfig, HostPort } from "./gateway-config.ts";

/**
 * One line per route and backend, for `edgegate check` and the startup log:
 * what a config will serve, in the order routes are matched.
 */
export function describeConfig(config: GatewayConfig): string[] {
  const lines = config.routes.map(
    (route, i) => `route ${i}: ${route.services?.join(", ") ?? "*"} -> backend ${route.backend}`,
  );
  for (const backend of config.backends) {
    lines.push(`backend ${backend.name}: ${backend.balancer}, ${describeDiscovery(backend.discovery)}`);
  }
  return lines;
}

function describeDiscovery(discovery: DiscoveryConfig): string {
  switch (discovery.kind) {
    case "static":
      return `static ${discovery.endpoints.map(formatHostPort).join(", ")}`;
    case "kubernetes":
      return `kubernetes EndpointSlices of service ${discovery.namespace ?? "(context namespace)"}/${discovery.service}, port ${discovery.port}`;
    case "dns":
      return `dns ${discovery.host} port ${discovery.port}, every ${discovery.refreshMs / 1000}s` +
        (discovery.servers === undefined ? "" : ` via ${discovery.servers.map(formatHostPort).join(", ")}`);
  }
}

function formatHostPort(address: HostPort): string {
  return (address.host.includes(":") ? `[${address.host}]` : address.host) + `:${address.port}`;
}
