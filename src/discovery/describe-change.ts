import type { EndpointChange } from "./endpoint-source.ts";

/** Most addresses a log line lists; a rollout of a large service logs counts only. */
const LISTED = 10;

/**
 * Log fields for an endpoint change: counts, and the addresses themselves
 * while there are few, so `kubectl logs` shows which pods came and went.
 */
export function describeChange(change: EndpointChange): Record<string, unknown> {
  const list = (endpoints: EndpointChange["added"]) =>
    endpoints.length <= LISTED ? endpoints.map((e) => e.address) : endpoints.length;
  return { added: list(change.added), removed: list(change.removed) };
}
