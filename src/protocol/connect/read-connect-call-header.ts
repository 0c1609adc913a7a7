import type { ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { parseTimeout } from "@connectrpc/connect/protocol-connect";
import type { CallRequest } from "../../call/call-request.ts";
import { capTimeout } from "../../call/grpc-timeout.ts";
import { metadataFromHeaders } from "../../call/metadata.ts";
import type { RpcPath } from "../rpc-path.ts";
import { connectProtocolHeaders } from "./connect-protocol-headers.ts";

/** The part of a Connect call every form (POST unary, streaming, GET) reads the same way. */
export type ConnectCallHeader = Pick<
  CallRequest,
  "protocol" | "path" | "service" | "method" | "authority" | "metadata" | "timeoutMs" | "signal"
>;

/**
 * Reads what a Connect call carries in the same place whatever its form:
 * the RPC, the authority, the application metadata and `connect-timeout-ms`
 * (capped to what a timer can hold). A malformed timeout is returned as the
 * error the call is answered with.
 */
export function readConnectCallHeader(
  req: UniversalServerRequest,
  rpc: RpcPath,
): { readonly header: ConnectCallHeader; readonly error: ConnectError | undefined } {
  const timeout = parseTimeout(req.header.get("connect-timeout-ms"), Number.MAX_SAFE_INTEGER);
  return {
    header: {
      protocol: "connect",
      ...rpc,
      authority: new URL(req.url).host,
      metadata: metadataFromHeaders(req.header, connectProtocolHeaders),
      timeoutMs: timeout.error === undefined ? capTimeout(timeout.timeoutMs) : undefined,
      signal: req.signal,
    },
    error: timeout.error,
  };
}
