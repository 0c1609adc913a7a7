import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { splitBinaryHeaders } from "./split-binary-headers.ts";

/**
 * Writes the gateway's answer to a Node response, in place of connect-node's
 * `universalResponseToNodeResponse`, for two things that converter cannot do
 * and gRPC clients depend on (issue 14):
 *
 * - **Trailers-Only.** An answer without body or trailers (the gRPC protocol
 *   puts a status with no message into the headers) leaves on HTTP/2 as ONE
 *   HEADERS frame with END_STREAM, through `stream.respond(…, { endStream })`.
 *   The compatibility API (`writeHead()` then `end()`) sends HEADERS and then
 *   an empty DATA frame with END_STREAM, which grpc-go reads as "server
 *   closed the stream without sending trailers" and grpc-js as "Call ended
 *   without gRPC status": every error of a real gRPC pod became INTERNAL.
 *   gRPC over HTTP/2 spec: "Trailers-Only is permitted for calls that produce
 *   an immediate error"; its HEADERS frame carries END_STREAM.
 * - **Headers when the pod sends them.** connect-node holds the headers back
 *   until the first body chunk; a pod that sends its headers at once and its
 *   first message later (grpc-go's `SendHeader`, a slow stream) had them held
 *   back. Headers are written before the body is read: on HTTP/2 at once (Node
 *   coalesces the HEADERS frame with DATA of the same turn into one socket
 *   write); on HTTP/1.1 flushed at once unless the answer is complete and
 *   sized (`content-length`: a unary answer, whose body is already here).
 *
 * Backpressure as connect-node: each chunk waits for `drain` when the socket
 * is full. A write that fails is reported to the body (its `throw()`), so the
 * protocol's generator unwinds and the upstream call is released.
 */
export async function writeUniversalResponse(
  response: UniversalServerResponse,
  res: http.ServerResponse | http2.Http2ServerResponse,
): Promise<void> {
  const header = response.header === undefined ? {} : nodeHeaders(response.header);
  if ("stream" in res && response.body === undefined && response.trailer === undefined) {
    if (res.stream.destroyed || res.stream.closed) {
      return; // the client reset the stream meanwhile: nobody to answer
    }
    header[":status"] = response.status;
    res.stream.respond(header, { endStream: true });
    return;
  }
  (res as http.ServerResponse).writeHead(response.status, header);
  if (response.body !== undefined) {
    if (!("stream" in res) && response.header?.has("content-length") !== true) {
      res.flushHeaders();
    }
    const it = response.body[Symbol.asyncIterator]();
    try {
      for (let chunk = await it.next(); chunk.done !== true; chunk = await it.next()) {
        try {
          const drained = write(res, chunk.value);
          if (drained !== undefined) {
            await drained;
          }
        } catch (e) {
          await it.throw?.(e).catch(() => {});
          throw e;
        }
      }
    } finally {
      await it.return?.().catch(() => {});
    }
  }
  if (response.trailer !== undefined) {
    res.addTrailers(nodeHeaders(response.trailer));
  }
  // Not awaited: nothing waits for the last bytes to leave, and a stream the
  // client reset may never call back (the request's signal tells of that).
  (res as http.ServerResponse).end();
}

/**
 * Web headers as Node's outgoing headers; `set-cookie` keeps its values
 * apart (RFC 6265 §3), and so does repeated `-bin` metadata (`splitBinaryHeaders`).
 */
function nodeHeaders(header: Headers): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  header.forEach((value, name) => {
    out[name] = name === "set-cookie" ? header.getSetCookie() : value;
  });
  return splitBinaryHeaders(out);
}

/**
 * Writes one chunk; returns a promise only when Node asks to wait for
 * `drain` (the common case allocates nothing more). Throws, or rejects, when
 * the client's stream failed or ended; a write that fails later shows in the
 * next one and in the request's abort signal.
 */
function write(res: http.ServerResponse | http2.Http2ServerResponse, chunk: Uint8Array): Promise<void> | undefined {
  const stream = res as http.ServerResponse;
  if (stream.errored !== null && stream.errored !== undefined) {
    throw stream.errored;
  }
  if (stream.writableEnded || stream.destroyed) {
    throw new Error("the client's stream is closed");
  }
  if (stream.write(chunk)) {
    return undefined;
  }
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      stream.off("drain", onDrain);
      stream.off("close", onClose);
      if (error === undefined) {
        resolve();
      } else {
        reject(error);
      }
    };
    const onDrain = () => settle();
    const onClose = () => settle(new Error("the client's stream closed before the answer was written"));
    stream.once("drain", onDrain);
    stream.once("close", onClose);
  });
}
