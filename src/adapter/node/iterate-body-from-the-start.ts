import diagnostics_channel from "node:diagnostics_channel";
import type * as http2 from "node:http2";

/**
 * Works around a Node regression (24.20, 24.21, 26.3+; nodejs/node#65677):
 * a Readable's async iterator fails with ERR_STREAM_PREMATURE_CLOSE when it
 * starts on an HTTP/2 stream that has already closed at the HTTP/2 level
 * (`stream.closed`: both END_STREAMs seen) while its data is still buffered,
 * unread. `eos()` now takes `stream.closed` for the Node stream's own
 * "closed", so a complete response reads as a premature close.
 *
 * A client stream gets there when its whole response (HEADERS, DATA, trailers
 * with END_STREAM) is processed before its `'response'` event, which Node
 * emits on the next tick: Node pauses reading at a DATA frame while a write
 * of its own is in flight and processes the rest of that read when the write
 * completes (over TLS, from a native callback that runs no ticks between
 * frames). connect-node's clients only start iterating the body after
 * `'response'`, and then fail with `[unknown] Premature close`.
 *
 * Starting the stream's own async iterator as soon as the stream exists (its
 * first `next()`, which calls `eos()` while the stream is still open) keeps
 * Node's iterator and its semantics as they are; whoever iterates the stream
 * later gets that iterator, first result included.
 */
export function iterateBodyFromTheStart(stream: http2.ClientHttp2Stream): void {
  if (stream.closed || stream.destroyed || Object.hasOwn(stream, Symbol.asyncIterator)) {
    return; // too late to help, or done already
  }
  const inner = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let first: Promise<IteratorResult<Buffer>> | undefined = inner.next();
  // Nobody may ever read the body (a call that failed on its headers): its
  // failure must not be an unhandled rejection. Whoever does read gets it.
  first.catch(() => {});
  const iterator: AsyncIterableIterator<Buffer> = {
    next() {
      const result = first ?? inner.next();
      first = undefined;
      return result;
    },
    return(value?: unknown) {
      first = undefined;
      return inner.return?.(value) ?? Promise.resolve({ done: true, value: undefined });
    },
    throw(error?: unknown) {
      first = undefined;
      return inner.throw?.(error) ?? Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  Object.defineProperty(stream, Symbol.asyncIterator, { value: () => iterator, configurable: true });
}

/**
 * Applies `iterateBodyFromTheStart` to every HTTP/2 client stream this
 * process opens (Node's `http2.client.stream.created` diagnostics channel is
 * published synchronously by `session.request()`), for clients whose streams
 * we never see, such as connect-node transports in benchmarks. Only for a
 * process whose HTTP/2 clients all read bodies by async iteration: a client
 * that reads `'data'` events (grpc-js, a raw node:http2 client) would find its
 * chunks taken by the iterator started here.
 */
export function iterateEveryClientBodyFromTheStart(): void {
  if (!installed) {
    installed = true;
    diagnostics_channel.subscribe("http2.client.stream.created", (message) => {
      iterateBodyFromTheStart((message as { stream: http2.ClientHttp2Stream }).stream);
    });
  }
}

let installed = false;
