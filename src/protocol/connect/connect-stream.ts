import { Code, ConnectError } from "@connectrpc/connect";
import {
  type EnvelopedMessage,
  encodeEnvelope,
  pipe,
} from "@connectrpc/connect/protocol";
import { endStreamFlag, endStreamToJson } from "@connectrpc/connect/protocol-connect";
import type { CallRequest } from "../../call/call-request.ts";
import { guardResult } from "../../call/guard-result.ts";
import { adaptEncoding, identity } from "../../call/message-encoding.ts";
import { splitEnvelopes } from "../../call/split-envelopes.ts";
import type { InboundExchange, ProtocolContext } from "../inbound-exchange.ts";

/**
 * Connect streaming (client, server and bidi): the same envelopes as gRPC,
 * so messages pass through; the call's end becomes the end-stream message
 * (flag 0x02, JSON `{"error":…,"metadata":…}`) after HTTP 200, always.
 */
export function openConnectStream(
  body: AsyncIterable<Uint8Array>,
  common: Omit<CallRequest, "messages">,
  error: ConnectError | undefined,
  context: ProtocolContext,
): InboundExchange {
  const request: CallRequest = {
    ...common,
    messages: pipe(body, splitEnvelopes(context.readMaxBytes), rejectEndStream),
  };
  return {
    request,
    error,
    respond(result) {
      const header = new Headers(result.header);
      header.set("content-type", common.codec === "json" ? "application/connect+json" : "application/connect+proto");
      header.set("connect-accept-encoding", context.acceptEncodingHeader);
      const adapted =
        result.immediateError === undefined
          ? adaptEncoding(
              result.messages,
              result.encoding,
              common.acceptEncoding,
              context.compressions,
              context.readMaxBytes,
            )
          : { encoding: identity, messages: result.messages };
      if (adapted.encoding !== identity) {
        header.set("connect-content-encoding", adapted.encoding);
      }
      const read = guardResult(result, adapted.messages);
      async function* frames(): AsyncIterable<Uint8Array> {
        for await (const message of read.messages) {
          yield encodeEnvelope(message.flags, message.data);
        }
        const end = read.end();
        const json = JSON.stringify(endStreamToJson(end.trailer, end.error, undefined));
        yield encodeEnvelope(endStreamFlag, new TextEncoder().encode(json));
      }
      return Promise.resolve({ status: 200, header, body: frames() });
    },
  };
}

/** Only servers send end-stream messages; one from a client is a protocol error. */
async function* rejectEndStream(messages: AsyncIterable<EnvelopedMessage>): AsyncIterable<EnvelopedMessage> {
  for await (const message of messages) {
    if ((message.flags & endStreamFlag) === endStreamFlag) {
      throw new ConnectError("protocol error: end-stream flag in a request message", Code.InvalidArgument);
    }
    yield message;
  }
}
