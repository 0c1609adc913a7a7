import type { LookupFunction } from "node:net";

/**
 * A `lookup` for Node clients that resolves every name to 127.0.0.1, so
 * tests and benchmarks dial test hosts by name (SNI, `:authority` and `Host`
 * follow the name) as DNS would point them at the gateway's load balancer.
 * Answers both call shapes: `all: true` (happy eyeballs) and the single address.
 */
export const loopbackLookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
  if (options.all === true) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
}) as unknown as LookupFunction;
