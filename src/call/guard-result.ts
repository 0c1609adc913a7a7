import { ConnectError } from "@connectrpc/connect";
import type { EnvelopedMessage } from "@connectrpc/connect/protocol";
import type { CallEnd, CallResult } from "./call-result.ts";
import { withValidCode } from "./valid-code.ts";

/**
 * Reads a result's messages through a transform that may fail (decompression
 * past the size limit, a corrupt gzip member) without letting the failure
 * escape as an exception halfway through a response: the iteration stops and
 * `end()` reports the failure as the call's status, which every protocol then
 * encodes in its own way. A status that fails to parse is reported the same way,
 * and one with a code outside gRPC's as Unknown.
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
      let end: CallEnd;
      try {
        end = result.end();
      } catch (e) {
        // A status the pod sent that cannot be read (grpc-message not percent-encoded, corrupt
        // grpc-status-details-bin) is still the call's end: the client gets it as an error, not a reset.
        end = { error: ConnectError.from(e), trailer: new Headers() };
      }
      return failure === undefined ? { error: withValidCode(end.error), trailer: end.trailer } : { error: failure, trailer: end.trailer };
    },
  };
}
