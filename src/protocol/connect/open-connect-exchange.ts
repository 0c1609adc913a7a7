import { Code, ConnectError } from "@connectrpc/connect";
import { parseContentType, parseTimeout } from "@connectrpc/connect/protocol-connect";
import { capTimeout } from "../../call/grpc-timeout.ts";
import { identity, parseEncodingList, requireEncoding } from "../../call/message-encoding.ts";
import { metadataFromHeaders } from "../../call/metadata.ts";
import type { OpenExchange } from "../inbound-exchange.ts";
import { connectProtocolHeaders } from "./connect-protocol-headers.ts";
import { openConnectStream } from "./connect-stream.ts";
import { openConnectUnary } from "./connect-unary.ts";

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
  let error: ConnectError | undefined;
  const timeout = parseTimeout(req.header.get("connect-timeout-ms"), Number.MAX_SAFE_INTEGER);
  error = timeout.error;
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
    protocol: "connect" as const,
    ...rpc,
    authority: new URL(req.url).host,
    metadata: metadataFromHeaders(req.header, connectProtocolHeaders),
    timeoutMs: timeout.error === undefined ? capTimeout(timeout.timeoutMs) : undefined,
    encoding,
    acceptEncoding: accept,
    signal: req.signal,
    codec: parsed?.binary === false ? ("json" as const) : ("proto" as const),
    readOnly: false,
  };
  return stream
    ? openConnectStream(req.body, common, error, context)
    : openConnectUnary(req.body, req.header.get("content-length"), common, error, context);
};
