import type { V1EndpointSlice } from "@kubernetes/client-node";
import { createEndpoint, type Endpoint } from "../../balance/endpoint.ts";

/** The backend's port: its name in the slices' `ports`, or its number. */
export type PortRef = string | number;

/**
 * How an endpoint of a slice may be used, as kube-proxy decides it:
 * `ready` ones take new calls; `fallback` ones (serving while terminating)
 * only when no endpoint of the service is ready; the rest never.
 */
export type EndpointClass = "ready" | "fallback";

/** What one slice contributes to its service: endpoint and class by address. */
export type SliceContribution = ReadonlyMap<string, { readonly endpoint: Endpoint; readonly class: EndpointClass }>;

/**
 * Reads the usable endpoints of one EndpointSlice for a backend port.
 *
 * The port is resolved per slice, because slices of one Service may carry
 * different target ports (a rollout that changes `targetPort`). Conditions
 * follow the API's rules for missing values: `ready` nil means true,
 * `serving` nil means "as ready", `terminating` nil means false. Only the
 * first address of an endpoint is used, as the API asks of consumers.
 */
export function sliceEndpoints(slice: V1EndpointSlice, port: PortRef): SliceContribution {
  const contribution = new Map<string, { endpoint: Endpoint; class: EndpointClass }>();
  const number = resolvePort(slice, port);
  if (number === undefined) {
    return contribution;
  }
  for (const endpoint of slice.endpoints ?? []) {
    const host = endpoint.addresses?.[0];
    if (host === undefined || host === "") {
      continue;
    }
    const ready = endpoint.conditions?.ready ?? true;
    const serving = endpoint.conditions?.serving ?? ready;
    const terminating = endpoint.conditions?.terminating ?? false;
    const cls: EndpointClass | undefined = ready ? "ready" : serving && terminating ? "fallback" : undefined;
    if (cls === undefined) {
      continue;
    }
    const value = createEndpoint(host, number);
    const previous = contribution.get(value.address);
    if (previous === undefined || (previous.class === "fallback" && cls === "ready")) {
      contribution.set(value.address, { endpoint: value, class: cls });
    }
  }
  return contribution;
}

/** The slice's port number for the backend's port, or undefined when the slice has no such port. */
function resolvePort(slice: V1EndpointSlice, port: PortRef): number | undefined {
  for (const candidate of slice.ports ?? []) {
    if (candidate.port === undefined || (candidate.protocol ?? "TCP") !== "TCP") {
      continue;
    }
    if (typeof port === "string" ? (candidate.name ?? "") === port : candidate.port === port) {
      return candidate.port;
    }
  }
  return undefined;
}
