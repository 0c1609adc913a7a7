import { Code, type ConnectError } from "@connectrpc/connect";

/** Node's TLS verification and handshake failures (OpenSSL reason codes and Node's own). */
const tlsFailure = /CERT_|_CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL|SSL routines|certificate|handshake/i;

const knownCauses: readonly [RegExp, string][] = [
  [/ECONNREFUSED/, "connection refused"],
  [/ECONNRESET/, "connection reset"],
  [/ETIMEDOUT|timed out/i, "connection timed out"],
  [/EHOSTUNREACH|ENETUNREACH/, "endpoint unreachable"],
  [/GOAWAY/i, "connection closed by the endpoint (GOAWAY)"],
  [/REFUSED_STREAM/, "stream refused"],
  [/reset the stream/, "stream reset by the endpoint"],
  [/cancelled the stream/, "stream cancelled by the endpoint"],
  [/connection to upstream lost/, "connection lost"],
  [tlsFailure, "TLS handshake failed (the pod's certificate is not trusted or not for the expected name)"],
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

/**
 * The status of a call that could not reach a pod: Unavailable, as gRPC
 * gives a connection that cannot be established (a TLS handshake that
 * fails included), so clients may retry elsewhere. Codes a reset carries
 * (ResourceExhausted for ENHANCE_YOUR_CALM, Canceled) stay as they are.
 */
export function connectFailureCode(error: ConnectError): Code {
  if (error.code === Code.Unknown || tlsFailure.test(error.rawMessage) || tlsFailure.test(String(error.cause))) {
    return Code.Unavailable;
  }
  return error.code;
}
