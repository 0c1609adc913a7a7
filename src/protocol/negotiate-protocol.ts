import { singleChunk } from "../call/single-chunk.ts";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { parseContentType as parseConnectContentType } from "@connectrpc/connect/protocol-connect";
import { openConnectExchange } from "./connect/open-connect-exchange.ts";
import { openConnectGet } from "./connect/open-connect-get.ts";
import { openGrpcExchange } from "./grpc/open-grpc-exchange.ts";
import { openGrpcWebExchange } from "./grpc-web/open-grpc-web-exchange.ts";
import type { OpenExchange } from "./inbound-exchange.ts";
import { parseRpcPath, type RpcPath } from "./rpc-path.ts";

/** The protocol a request speaks, and the RPC it names. */
export interface NegotiatedProtocol {
  readonly open: OpenExchange;
  readonly rpc: RpcPath;
}

const grpcWebType = /^application\/grpc-web(-text)?(\+|;|$)/i;
const grpcType = /^application\/grpc(\+|;|$)/i;

/**
 * Picks the inbound protocol by method and content type. Requests that are
 * not RPCs at all get plain HTTP errors, because no RPC protocol can be
 * assumed for the answer (404 for a path that names no method, 405 for a
 * method, 415 for a content type no protocol claims); gRPC over HTTP/1.1 gets
 * 505 since it cannot carry trailers.
 */
export function negotiateProtocol(
  req: UniversalServerRequest,
): NegotiatedProtocol | UniversalServerResponse {
  const rpc = parseRpcPath(req.url);
  if (rpc === undefined) {
    return plainError(404, "not an RPC path: expected /package.Service/Method");
  }
  if (req.method === "GET") {
    return { open: openConnectGet, rpc };
  }
  if (req.method !== "POST") {
    const response = plainError(405, `method ${req.method} not allowed: RPCs are POST (or GET for Connect)`);
    response.header?.set("allow", "POST, GET");
    return response;
  }
  const contentType = req.header.get("content-type") ?? "";
  if (grpcWebType.test(contentType)) {
    return { open: openGrpcWebExchange, rpc };
  }
  if (grpcType.test(contentType)) {
    if (req.httpVersion !== "2.0") {
      return plainError(505, "gRPC requires HTTP/2");
    }
    return { open: openGrpcExchange, rpc };
  }
  // Exactly the types Connect defines: the exchange reads codec and shape (unary or stream) from them.
  if (parseConnectContentType(contentType) !== undefined) {
    return { open: openConnectExchange, rpc };
  }
  return plainError(
    415,
    `unsupported content-type "${contentType}": expected a Connect, gRPC-Web or gRPC content type`,
  );
}

function plainError(status: number, message: string): UniversalServerResponse {
  const body = new TextEncoder().encode(`${message}\n`);
  return {
    status,
    header: new Headers({ "content-type": "text/plain; charset=utf-8", "content-length": String(body.byteLength) }),
    body: singleChunk(body),
  };
}
