import type { Endpoint } from "../balance/endpoint.ts";
import type { EndpointChange } from "./endpoint-source.ts";

/**
 * The change from one whole endpoint set to the next, for sources that learn
 * whole sets (DNS answers, static lists). Duplicate addresses count once.
 */
export function diffEndpoints(previous: readonly Endpoint[], next: readonly Endpoint[]): EndpointChange {
  const before = new Map(previous.map((e) => [e.address, e]));
  const after = new Map(next.map((e) => [e.address, e]));
  return {
    added: [...after.values()].filter((e) => !before.has(e.address)),
    removed: [...before.values()].filter((e) => !after.has(e.address)),
  };
}
