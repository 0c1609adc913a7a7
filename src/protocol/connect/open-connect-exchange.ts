import { Code, ConnectError } from "@connectrpc/connect";
import { parseContentType } from "@connectrpc/connect/protocol-connect";
import { identity, parseEncodingList, requireEncoding } from "../../call/message-encoding.ts";
import type { OpenExchange } from "../inbound-exchange.ts";
import { openConnectStream } from "./connect-stream.ts";
import { openConnectUnary } from "./connect-unary.ts";
import { readConnectCallHeader } from "./read-connect-call-header.ts";

/**
 * Connect in. Unary calls carry one bare message with whole-body HTTP
 * compression and answer errors as JSON with an HTTP status; streaming calls
 * use envelopes with per-message compression and end with a JSON end-stream
 * message. What both share (timeout, metadata, codec) is read here. JSON
 * (`application/json`, `application/connect+json`) is accepted: the gateway
 * transcodes it with the backend's schema before the call goes upstream.
 */
export const openConnectExchange: OpenExchange = (req, rpc, context) => {
  const contentType = req.header.get("content-type") ?? "";
  const parsed = parseContentType(contentType);
  const stream = parsed?.stream === true;
  const read = readConnectCallHeader(req, rpc);
  let error: ConnectError | undefined = read.error;
  const version = req.header.get("connect-protocol-version");
  if (version !== null && version !== "1") {
    error ??= new ConnectError(
      `connect-protocol-version must be "1": got "${version}"`,
      Code.InvalidArgument,
    );
  }
  const encodingHeader = stream ? "connect-content-encoding" : "content-encoding";
  let encoding = identity;
  try {
    encoding = requireEncoding(req.header.get(encodingHeader), context.compressions);
  } catch (e) {
    error ??= ConnectError.from(e);
  }
  const accept = parseEncodingList(
    req.header.get(stream ? "connect-accept-encoding" : "accept-encoding"),
  );
  const common = {
    ...read.header,
    encoding,
    acceptEncoding: accept,
    codec: parsed?.binary === false ? ("json" as const) : ("proto" as const),
    readOnly: false,
    unary: !stream,
  };
  return stream
    ? openConnectStream(req.body, common, error, context)
    : openConnectUnary(req.body, req.header.get("content-length"), common, error, context);
};
