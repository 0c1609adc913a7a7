import { Code, ConnectError } from "@connectrpc/connect";
import { type EnvelopedMessage, transformSplitEnvelope } from "@connectrpc/connect/protocol";

/**
 * Splits a byte stream into enveloped messages, like connect-es's
 * `transformSplitEnvelope`, and also rejects a stream that ends right after
 * a message's 5-byte prefix: the library reports bytes left in its buffer
 * but not a prefix it has already taken, so a message whose body never came
 * would vanish without an error. Truncation is InvalidArgument, a message
 * over `readMaxBytes` ResourceExhausted.
 */
export function splitEnvelopes(
  readMaxBytes: number,
): (chunks: AsyncIterable<Uint8Array>) => AsyncIterable<EnvelopedMessage> {
  return async function* (chunks) {
    let received = 0;
    let split = 0;
    async function* counted(): AsyncIterable<Uint8Array> {
      for await (const chunk of chunks) {
        received += chunk.byteLength;
        yield chunk;
      }
    }
    for await (const message of transformSplitEnvelope(readMaxBytes)(counted())) {
      split += 5 + message.data.byteLength;
      yield message;
    }
    if (split !== received) {
      throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    }
  };
}
