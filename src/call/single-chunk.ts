/** A body of one chunk, for answers the gateway writes whole (errors, unary responses). */
export async function* singleChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
