import type * as net from "node:net";

/**
 * Whether this process is Deno running the Node adapter through its
 * `node:` compatibility layer. The adapter is the same on both runtimes;
 * the few places where Deno's layer behaves differently ask this, and each
 * says which Deno behaviour it works around.
 */
export const isDeno: boolean = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

/**
 * Keeps Deno's HTTP/1.1 parser on the socket's `data` events for a
 * connection whose first bytes were read (to tell HTTP/1.1 from h2c) and put
 * back with `unshift`. Deno (2.9) otherwise hands the socket's handle to the
 * parser directly, and bytes that arrive next (a request body sent after its
 * headers) can reach the parser before the bytes put back: it then reads the
 * body as a request line and answers 400. Node keeps the order either way.
 */
export function keepParserOnDataEvents(socket: net.Socket): void {
  if (isDeno) {
    const handle = (socket as unknown as { _handle?: { _consumed?: boolean } })._handle;
    if (handle !== undefined) {
      handle._consumed = true;
    }
  }
}
