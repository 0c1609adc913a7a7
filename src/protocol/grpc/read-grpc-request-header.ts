import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout } from "@connectrpc/connect/protocol-grpc";
import { capTimeout } from "../../call/grpc-timeout.ts";
import { identity, parseEncodingList, requireEncoding } from "../../call/message-encoding.ts";
import type { ProtocolContext } from "../inbound-exchange.ts";

/** The request headers gRPC and gRPC-Web share, read once. */
export interface GrpcRequestHeader {
  readonly timeoutMs: number | undefined;
  readonly encoding: string;
  readonly acceptEncoding: string[];
  /** The first problem with the headers, answered without calling upstream. */
  readonly error: ConnectError | undefined;
}

/**
 * Reads `grpc-timeout`, `grpc-encoding`, `grpc-accept-encoding` and the
 * codec from the content type. gRPC-Web uses gRPC's headers unchanged, so
 * both protocols read them here (as connect-es's gRPC-Web reuses its gRPC
 * timeout and status code).
 */
export function readGrpcRequestHeader(header: Headers, context: ProtocolContext): GrpcRequestHeader {
  const contentType = header.get("content-type") ?? "";
  const timeout = parseTimeout(header.get("grpc-timeout"), Number.MAX_SAFE_INTEGER);
  let error = timeout.error;
  let encoding = identity;
  try {
    encoding = requireEncoding(header.get("grpc-encoding"), context.compressions);
  } catch (e) {
    error ??= ConnectError.from(e);
  }
  if (/\+json/i.test(contentType)) {
    // Most pods have no JSON codec, and relabelling JSON (as Envoy's bridge does) only moves the failure to them.
    error ??= new ConnectError(
      `edgegate transcodes JSON for the Connect protocol only (content-type ${contentType}): ` +
        "send binary protobuf over gRPC and gRPC-Web, or JSON with Connect (application/json)",
      Code.Unimplemented,
    );
  }
  return {
    timeoutMs: timeout.error === undefined ? capTimeout(timeout.timeoutMs) : undefined,
    encoding,
    acceptEncoding: parseEncodingList(header.get("grpc-accept-encoding")),
    error,
  };
}
