import { formatHostPort } from "../config/parse-host-port.ts";

/**
 * One pod address a backend can send calls to. Endpoints are plain values:
 * two with the same `address` are the same endpoint, whichever discovery
 * snapshot they came from, so per-endpoint state (calls in flight, failures,
 * HTTP/2 sessions) survives a snapshot change.
 */
export interface Endpoint {
  /** `host:port`, an IPv6 host in brackets: the endpoint's identity. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
}

/** Makes an endpoint from a host (IPv6 without brackets) and a port. */
export function createEndpoint(host: string, port: number): Endpoint {
  return { address: formatHostPort({ host, port }), host, port };
}
