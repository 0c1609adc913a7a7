import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";

const base64Char = /^[A-Za-z0-9+/=\s]*$/;

/**
 * Decodes the body of a `grpc-web-text` request, which is base64 of the
 * whole byte stream, arriving in arbitrary chunks. Clients may pad each
 * chunk on its own (gRPC-Web spec: padding may appear between chunks), so
 * decoding goes by complete 4-character groups and carries the rest over to
 * the next chunk. Bad input is the client's error (InvalidArgument), never an
 * exception that escapes the call.
 */
export async function* decodeBase64Stream(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const decoder = new TextDecoder("latin1");
  let pending = "";
  for await (const chunk of chunks) {
    const text = pending + decoder.decode(chunk, { stream: true }).replace(/\s+/g, "");
    if (!base64Char.test(text)) {
      throw invalid();
    }
    const usable = text.length - (text.length % 4);
    pending = text.slice(usable);
    if (usable > 0) {
      yield decodeGroups(text.slice(0, usable));
    }
  }
  if (pending !== "") {
    throw invalid();
  }
}

function decodeGroups(text: string): Uint8Array {
  // Padding is only valid at the end of a 4-character group.
  for (let i = text.indexOf("="); i >= 0; i = text.indexOf("=", i + 1)) {
    const position = i % 4;
    if (position < 2 || (position === 2 && text[i + 1] !== "=")) {
      throw invalid();
    }
  }
  return base64Decode(text);
}

function invalid(): ConnectError {
  return new ConnectError("protocol error: invalid base64 in grpc-web-text request body", Code.InvalidArgument);
}
