import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Compression,
  compressedFlag,
  type EnvelopedMessage,
  envelopeDecompress,
} from "@connectrpc/connect/protocol";

/** The compressions the gateway can read, by name (`gzip`, `br`), injected by the runtime adapter. */
export type CompressionRegistry = ReadonlyMap<string, Compression>;

/** `identity`: the messages are not compressed. */
export const identity = "identity";

/**
 * Parses an accept-encoding style list (`gzip, br;q=0.5, identity`) into
 * lower-case names in the sender's order, dropping parameters and `*`.
 */
export function parseEncodingList(value: string | null): string[] {
  if (value === null) {
    return [];
  }
  const names: string[] = [];
  for (const part of value.split(",")) {
    const name = part.split(";", 1)[0]?.trim().toLowerCase() ?? "";
    if (name !== "" && name !== "*" && !names.includes(name)) {
      names.push(name);
    }
  }
  return names;
}

/**
 * Resolves the encoding a peer says its messages use. An encoding we cannot
 * read is the client's error (Unimplemented, as the gRPC spec asks), named
 * together with the ones we support so the user can act on it.
 */
export function requireEncoding(name: string | null, registry: CompressionRegistry): string {
  const encoding = name === null || name === "" ? identity : name.toLowerCase();
  if (encoding !== identity && !registry.has(encoding)) {
    throw new ConnectError(
      `unsupported message encoding "${encoding}": edgegate accepts ${[identity, ...registry.keys()].join(", ")}`,
      Code.Unimplemented,
    );
  }
  return encoding;
}

/**
 * Hands messages on to a peer that accepts the given encodings. Compression
 * is negotiated per side, and the gateway never spends CPU it does not have
 * to: messages stay compressed when the receiver accepts their encoding
 * (pass-through), and are decompressed only when it does not. The gateway
 * never compresses on its own; pods compress because the client's
 * accept-encoding is forwarded to them.
 */
export function adaptEncoding(
  messages: AsyncIterable<EnvelopedMessage>,
  encoding: string,
  accepted: readonly string[],
  registry: CompressionRegistry,
  readMaxBytes: number,
): { encoding: string; messages: AsyncIterable<EnvelopedMessage> } {
  if (encoding === identity || accepted.includes(encoding)) {
    return { encoding, messages: encoding === identity ? rejectCompressed(messages) : messages };
  }
  const compression = registry.get(encoding);
  if (compression === undefined) {
    throw new ConnectError(`cannot decompress messages encoded with "${encoding}"`, Code.Internal);
  }
  return { encoding: identity, messages: decompressEach(messages, compression, readMaxBytes) };
}

async function* decompressEach(
  messages: AsyncIterable<EnvelopedMessage>,
  compression: Compression,
  readMaxBytes: number,
): AsyncIterable<EnvelopedMessage> {
  for await (const message of messages) {
    yield (message.flags & compressedFlag) === compressedFlag
      ? await envelopeDecompress(message, compression, readMaxBytes)
      : message;
  }
}

/** A compressed flag without an encoding is a protocol error (gRPC spec: Internal). */
async function* rejectCompressed(messages: AsyncIterable<EnvelopedMessage>): AsyncIterable<EnvelopedMessage> {
  for await (const message of messages) {
    if ((message.flags & compressedFlag) === compressedFlag) {
      throw new ConnectError("protocol error: compressed message without an encoding header", Code.Internal);
    }
    yield message;
  }
}
