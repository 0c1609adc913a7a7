import { createEndpoint, type Endpoint } from "../balance/endpoint.ts";
import type { HostPort } from "../config/gateway-config.ts";
import type { EndpointSource } from "./endpoint-source.ts";

/** The `static` discovery source: a fixed list from config, synced from the start. */
export function createStaticSource(addresses: readonly HostPort[]): EndpointSource {
  const endpoints: readonly Endpoint[] = Object.freeze(addresses.map((a) => createEndpoint(a.host, a.port)));
  return {
    subscribe(listener) {
      listener({ added: endpoints, removed: [] });
      return () => {};
    },
    synced: () => true,
    close() {},
  };
}
