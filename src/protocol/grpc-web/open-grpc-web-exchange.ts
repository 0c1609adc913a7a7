import { base64Encode } from "@bufbuild/protobuf/wire";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  setTrailerStatus,
  trailerFlag,
  trailerSerialize,
} from "@connectrpc/connect/protocol-grpc-web";
import type { CallRequest } from "../../call/call-request.ts";
import type { CallResult } from "../../call/call-result.ts";
import { guardResult } from "../../call/guard-result.ts";
import { adaptEncoding, identity } from "../../call/message-encoding.ts";
import { grpcProtocolHeaders, metadataFromHeaders } from "../../call/metadata.ts";
import { splitEnvelopes } from "../../call/split-envelopes.ts";
import { readGrpcRequestHeader } from "../grpc/read-grpc-request-header.ts";
import type { OpenExchange, ProtocolContext } from "../inbound-exchange.ts";
import { decodeBase64Stream } from "./decode-base64-stream.ts";

const grpcWebProtocolHeaders: ReadonlySet<string> = new Set([...grpcProtocolHeaders, "x-grpc-web"]);

/**
 * gRPC-Web in (binary and text), over HTTP/1.1 or HTTP/2. Browsers cannot
 * read HTTP trailers, so the status travels as a last body frame (flag 0x80)
 * holding an HTTP/1-style header block; in text mode every frame goes out
 * base64-encoded on its own, so a client can decode each as it arrives.
 */
export const openGrpcWebExchange: OpenExchange = (req, rpc, context) => {
  const contentType = req.header.get("content-type") ?? "";
  // Negotiation took any grpc-web-text type (`+thrift`, parameters): its body is base64 whatever the codec.
  const text = /^application\/grpc-web-text/i.test(contentType);
  const { timeoutMs, encoding, acceptEncoding, error } = readGrpcRequestHeader(req.header, context);
  const bytes = text ? decodeBase64Stream(req.body) : req.body;
  const request: CallRequest = {
    protocol: "grpc-web",
    ...rpc,
    authority: new URL(req.url).host,
    metadata: metadataFromHeaders(req.header, grpcWebProtocolHeaders),
    timeoutMs,
    encoding,
    acceptEncoding,
    messages: splitEnvelopes(context.readMaxBytes)(bytes),
    signal: req.signal,
    codec: "proto",
    readOnly: false,
    unary: false,
  };
  const responseType = text ? "application/grpc-web-text+proto" : "application/grpc-web+proto";
  return {
    request,
    error,
    respond: (result) => Promise.resolve(respondGrpcWeb(result, responseType, text, acceptEncoding, context)),
  };
};

function respondGrpcWeb(
  result: CallResult,
  contentType: string,
  text: boolean,
  acceptEncoding: readonly string[],
  context: ProtocolContext,
) {
  const header = new Headers(result.header);
  header.set("content-type", contentType);
  header.set("grpc-accept-encoding", context.acceptEncodingHeader);
  const adapted =
    result.immediateError === undefined
      ? adaptEncoding(result.messages, result.encoding, acceptEncoding, context.compressions, context.readMaxBytes)
      : { encoding: identity, messages: result.messages };
  if (adapted.encoding !== identity) {
    header.set("grpc-encoding", adapted.encoding);
  }
  const read = guardResult(result, adapted.messages);
  async function* frames(): AsyncIterable<Uint8Array> {
    for await (const message of read.messages) {
      yield encodeEnvelope(message.flags, message.data);
    }
    const end = read.end();
    const trailer = new Headers(end.trailer);
    setTrailerStatus(trailer, end.error);
    yield encodeEnvelope(trailerFlag, trailerSerialize(trailer));
  }
  return { status: 200, header, body: text ? encodeBase64Frames(frames()) : frames() };
}

async function* encodeBase64Frames(frames: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const encoder = new TextEncoder();
  for await (const frame of frames) {
    yield encoder.encode(base64Encode(frame, "std"));
  }
}
