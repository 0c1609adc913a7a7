import type { DiscoveryConfig, GatewayConfig } from "./gateway-config.ts";
import { formatHostPort } from "./parse-host-port.ts";

/**
 * One line per listener, route and backend, for `edgegate check` and the
 * startup log: what a config will serve, routes in the order they are matched.
 */
export function describeConfig(config: GatewayConfig): string[] {
  const lines = config.listeners.map(
    (listener, i) =>
      `listener ${i}: ${formatHostPort(listener.address)} ` +
      (listener.tls === undefined
        ? "cleartext (HTTP/1.1 and h2c)"
        : `TLS (h2 and http/1.1), ${listener.tls.certificates.length} certificate file(s)`),
  );
  config.routes.forEach((route, i) => {
    const hosts = route.hosts === undefined ? "" : `${route.hosts.join(", ")} `;
    const services = route.services?.join(", ") ?? "*";
    const methods = route.methods === undefined ? "" : ` methods ${route.methods.join(", ")}`;
    const cors = route.cors === undefined ? "" : `, CORS for ${route.cors.allowedOrigins.join(", ")}`;
    lines.push(`route ${i}: ${hosts}${services}${methods} -> backend ${route.backend}${cors}`);
  });
  if (config.kubernetes.ingress !== undefined) {
    const { className, namespaces } = config.kubernetes.ingress;
    lines.push(`routes from Ingresses of class ${className} in ${namespaces?.join(", ") ?? "all namespaces"}, after the above`);
  }
  for (const backend of config.backends) {
    const tls = backend.tls === undefined ? "" : `, TLS to the pods${backend.tls.serverName === undefined ? "" : ` as ${backend.tls.serverName}`}`;
    lines.push(`backend ${backend.name}: ${backend.balancer}, ${describeDiscovery(backend.discovery)}${tls}`);
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

