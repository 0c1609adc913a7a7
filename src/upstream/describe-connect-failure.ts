import type { ConnectError } from "@connectrpc/connect";

const knownCauses: readonly [RegExp, string][] = [
  [/ECONNREFUSED/, "connection refused"],
  [/ECONNRESET/, "connection reset"],
  [/ETIMEDOUT|timed out/i, "connection timed out"],
  [/EHOSTUNREACH|ENETUNREACH/, "endpoint unreachable"],
  [/GOAWAY/i, "connection closed by the endpoint (GOAWAY)"],
  [/REFUSED_STREAM/, "stream refused"],
];

/**
 * The message a client sees when its call could not reach a pod. It says
 * what happened without echoing the runtime's error text, which carries pod
 * addresses that have no business leaving the cluster edge.
 */
export function describeConnectFailure(error: ConnectError): string {
  const cause = knownCauses.find(([pattern]) => pattern.test(error.rawMessage))?.[1] ?? "connection failed";
  return `upstream unavailable: ${cause}`;
}
