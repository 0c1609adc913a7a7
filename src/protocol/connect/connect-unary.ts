import { singleChunk } from "../../call/single-chunk.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  compressedFlag,
  type EnvelopedMessage,
  readAllBytes,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { CallRequest } from "../../call/call-request.ts";
import type { CallResult } from "../../call/call-result.ts";
import { guardResult } from "../../call/guard-result.ts";
import { adaptEncoding, identity } from "../../call/message-encoding.ts";
import type { InboundExchange, ProtocolContext } from "../inbound-exchange.ts";
import { unaryTrailerPrefix } from "./connect-protocol-headers.ts";

/**
 * Connect unary: the body is one bare message, compressed as a whole by
 * `Content-Encoding` — which is exactly a compressed message, so it becomes
 * one envelope with the compressed flag and travels on untouched. The answer
 * is buffered (it is one message): 200 with the message and `trailer-`
 * headers, or the error as JSON with the matching HTTP status.
 */
export function openConnectUnary(
  body: AsyncIterable<Uint8Array>,
  contentLength: string | null,
  common: Omit<CallRequest, "messages">,
  error: ConnectError | undefined,
  context: ProtocolContext,
): InboundExchange {
  async function* messages(): AsyncIterable<EnvelopedMessage> {
    const data = await readAllBytes(body, context.readMaxBytes, contentLength);
    yield { flags: common.encoding === identity ? 0 : compressedFlag, data };
  }
  return {
    request: { ...common, messages: messages() },
    error,
    respond: (result) => respondConnectUnary(result, common, context),
  };
}

/** Encodes a unary result the Connect way; Connect GET answers the same way. */
export async function respondConnectUnary(
  result: CallResult,
  call: Pick<CallRequest, "acceptEncoding" | "codec">,
  context: ProtocolContext,
): Promise<UniversalServerResponse> {
  const acceptEncoding = call.acceptEncoding;
  const adapted =
    result.immediateError === undefined
      ? adaptEncoding(result.messages, result.encoding, acceptEncoding, context.compressions, context.readMaxBytes)
      : { encoding: identity, messages: result.messages };
  const read = guardResult(result, adapted.messages);
  let message: EnvelopedMessage | undefined;
  let count = 0;
  for await (const m of read.messages) {
    message = m;
    count++;
  }
  const end = read.end();
  const header = new Headers(result.header);
  end.trailer.forEach((value, name) => header.append(unaryTrailerPrefix + name, value));
  header.set("accept-encoding", context.acceptEncodingHeader);
  if (end.error !== undefined || message === undefined || count > 1) {
    const error =
      end.error ??
      new ConnectError(
        count === 0
          ? "protocol error: missing output message for unary method"
          : "protocol error: received extra output message for unary method",
        Code.Unimplemented,
      );
    const json = errorToJsonBytes(error, undefined);
    header.set("content-type", "application/json");
    header.set("content-length", String(json.byteLength));
    return { status: result.httpStatus ?? codeToHttpStatus(error.code), header, body: singleChunk(json) };
  }
  header.set("content-type", call.codec === "json" ? "application/json" : "application/proto");
  if ((message.flags & compressedFlag) === compressedFlag) {
    header.set("content-encoding", adapted.encoding);
  }
  header.set("content-length", String(message.data.byteLength));
  return { status: 200, header, body: singleChunk(message.data) };
}
