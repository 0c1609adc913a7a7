import { Code, ConnectError } from "@connectrpc/connect";

/**
 * An error whose code is a gRPC status code (1..16); any other code (a pod's
 * `grpc-status-details-bin` can hold any int32: 17, 128, -2147483647) becomes
 * Unknown, as gRPC clients would read it, so no client is sent a status its
 * protocol cannot express (Connect has no name for it, gRPC no number).
 */
export function withValidCode(error: ConnectError): ConnectError;
export function withValidCode(error: ConnectError | undefined): ConnectError | undefined;
export function withValidCode(error: ConnectError | undefined): ConnectError | undefined {
  if (error === undefined || (Number.isInteger(error.code) && error.code >= Code.Canceled && error.code <= Code.Unauthenticated)) {
    return error;
  }
  const valid = new ConnectError(`status code ${error.code}: ${error.rawMessage}`, Code.Unknown, error.metadata, undefined, error.cause);
  valid.details = error.details;
  return valid;
}
