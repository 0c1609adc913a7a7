import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressedFlag, type EnvelopedMessage } from "@connectrpc/connect/protocol";
import { identity, parseEncodingList, requireEncoding } from "../../call/message-encoding.ts";
import type { OpenExchange } from "../inbound-exchange.ts";
import { respondConnectUnary } from "./connect-unary.ts";
import { readConnectCallHeader } from "./read-connect-call-header.ts";

/**
 * Connect GET: a unary call in the URL, so browsers and CDNs can cache it
 * (`?connect=v1&encoding=json|proto&message=…&base64=1&compression=gzip`).
 * The message becomes one envelope like a POST body, and the answer is the
 * unary answer. Whether the method may be called this way (only
 * `idempotency_level = NO_SIDE_EFFECTS`) needs the schema, so the call is
 * marked `readOnly` and the gateway checks it after routing.
 */
export const openConnectGet: OpenExchange = (req, rpc, context) => {
  const query = new URL(req.url).searchParams;
  let error: ConnectError | undefined;
  const version = query.get("connect");
  if (version !== null && version !== "v1") {
    error = new ConnectError(`connect must be "v1": got "${version}"`, Code.InvalidArgument);
  }
  const codecName = query.get("encoding");
  if (codecName !== "json" && codecName !== "proto") {
    error ??= new ConnectError(
      codecName === null
        ? "a Connect GET needs encoding=json or encoding=proto in its query"
        : `encoding must be json or proto: got "${codecName}"`,
      Code.InvalidArgument,
    );
  }
  let encoding = identity;
  try {
    encoding = requireEncoding(query.get("compression"), context.compressions);
  } catch (e) {
    error ??= ConnectError.from(e);
  }
  let data = new Uint8Array(0);
  const message = query.get("message");
  if (message === null) {
    error ??= new ConnectError("a Connect GET needs the request in its message= query parameter", Code.InvalidArgument);
  } else if (query.get("base64") === "1") {
    try {
      data = base64Decode(message);
    } catch {
      error ??= new ConnectError("message is not valid base64 (base64=1)", Code.InvalidArgument);
    }
  } else {
    data = new TextEncoder().encode(message);
  }
  if (data.byteLength > context.readMaxBytes) {
    error ??= new ConnectError(
      `message size ${data.byteLength} is larger than configured readMaxBytes ${context.readMaxBytes}`,
      Code.ResourceExhausted,
    );
  }
  const read = readConnectCallHeader(req, rpc);
  error ??= read.error;
  const request = {
    ...read.header,
    encoding,
    acceptEncoding: parseEncodingList(req.header.get("accept-encoding")),
    codec: codecName === "json" ? ("json" as const) : ("proto" as const),
    readOnly: true,
    unary: true,
    messages: single({ flags: encoding === identity ? 0 : compressedFlag, data }),
  };
  return { request, error, respond: (result) => respondConnectUnary(result, request, context) };
};

async function* single(message: EnvelopedMessage): AsyncIterable<EnvelopedMessage> {
  yield message;
}
