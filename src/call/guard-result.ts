import { ConnectError } from "@connectrpc/connect";
import type { EnvelopedMessage } from "@connectrpc/connect/protocol";
import type { CallEnd, CallResult } from "./call-result.ts";

/**
 * Reads a result's messages through a transform that may fail (decompression
 * past the size limit, a corrupt gzip member) without letting the failure
 * escape as an exception halfway through a response: the iteration stops and
 * `end()` reports the failure as the call's status, which every protocol then
 * encodes in its own way.
 */
export function guardResult(
  result: CallResult,
  messages: AsyncIterable<EnvelopedMessage>,
): { messages: AsyncIterable<EnvelopedMessage>; end(): CallEnd } {
  let failure: ConnectError | undefined;
  async function* guarded(): AsyncIterable<EnvelopedMessage> {
    try {
      yield* messages;
    } catch (e) {
      failure = ConnectError.from(e);
    }
  }
  return {
    messages: guarded(),
    end() {
      const end = result.end();
      return failure === undefined ? end : { error: failure, trailer: end.trailer };
    },
  };
}
