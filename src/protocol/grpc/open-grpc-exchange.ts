import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { CallRequest } from "../../call/call-request.ts";
import type { CallResult } from "../../call/call-result.ts";
import { guardResult } from "../../call/guard-result.ts";
import { splitEnvelopes } from "../../call/split-envelopes.ts";
import { withValidCode } from "../../call/valid-code.ts";
import { adaptEncoding, identity } from "../../call/message-encoding.ts";
import { grpcProtocolHeaders, metadataFromHeaders } from "../../call/metadata.ts";
import type { OpenExchange, ProtocolContext } from "../inbound-exchange.ts";
import { readGrpcRequestHeader } from "./read-grpc-request-header.ts";

/**
 * gRPC over HTTP/2 in, the protocol edgegate speaks to pods as well: headers,
 * messages and trailers map one to one, so messages pass through untouched
 * and only the protocol headers are written anew (timeout recomputed,
 * encodings negotiated per side).
 */
export const openGrpcExchange: OpenExchange = (req, rpc, context) => {
  const contentType = req.header.get("content-type") ?? "application/grpc";
  const { timeoutMs, encoding, acceptEncoding, error } = readGrpcRequestHeader(req.header, context);
  const request: CallRequest = {
    protocol: "grpc",
    ...rpc,
    authority: new URL(req.url).host,
    metadata: metadataFromHeaders(req.header, grpcProtocolHeaders),
    timeoutMs,
    encoding,
    acceptEncoding,
    messages: splitEnvelopes(context.readMaxBytes)(req.body),
    signal: req.signal,
    codec: "proto",
    readOnly: false,
    unary: false,
  };
  return {
    request,
    error,
    respond: (result) => Promise.resolve(respondGrpc(result, contentType, acceptEncoding, context)),
  };
};

function respondGrpc(
  result: CallResult,
  contentType: string,
  acceptEncoding: readonly string[],
  context: ProtocolContext,
) {
  const header = new Headers(result.header);
  header.set("content-type", contentType);
  header.set("grpc-accept-encoding", context.acceptEncodingHeader);
  if (result.immediateError !== undefined) {
    // Trailers-only: status and trailing metadata in the one HEADERS frame.
    result.end().trailer.forEach((value, name) => header.append(name, value));
    setTrailerStatus(header, withValidCode(result.immediateError));
    return { status: 200, header };
  }
  const adapted = adaptEncoding(
    result.messages,
    result.encoding,
    acceptEncoding,
    context.compressions,
    context.readMaxBytes,
  );
  if (adapted.encoding !== identity) {
    header.set("grpc-encoding", adapted.encoding);
  }
  const read = guardResult(result, adapted.messages);
  const trailer = new Headers();
  async function* body(): AsyncIterable<Uint8Array> {
    for await (const message of read.messages) {
      yield encodeEnvelope(message.flags, message.data);
    }
    const end = read.end();
    end.trailer.forEach((value, name) => trailer.append(name, value));
    setTrailerStatus(trailer, end.error);
  }
  return { status: 200, header, body: body(), trailer };
}
