import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { iterateBodyFromTheStart } from "./iterate-body-from-the-start.ts";

// nodejs/node#65677: on Node 24.20+ (and 26.3+), iterating an HTTP/2 client
// stream whose whole response has already arrived (the stream is closed, its
// data unread) fails with "Premature close". Reading late is forced here by
// waiting after 'response'; in the gateway it happens when a TLS read holds
// a whole response and Node emits 'response' only after processing it.

const BODY = 27;

async function readAll(stream: AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.length;
  return bytes;
}

describe("iterateBodyFromTheStart()", () => {
  let server: http2.Http2Server;
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    server = http2.createServer();
    server.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      if (headers[":path"] === "/reset") {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      // A complete gRPC-like answer: headers, one message, trailers.
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.resume();
      stream.on("end", () => stream.end(Buffer.alloc(BODY)));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    session.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function request(path = "/"): http2.ClientHttp2Stream {
    const stream = session.request({ ":method": "POST", ":path": path });
    stream.end("hi");
    return stream;
  }

  it("a body read only after the stream has closed still yields every byte", async () => {
    const stream = request();
    iterateBodyFromTheStart(stream);
    await new Promise((resolve) => stream.once("response", resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stream.closed).toBe(true);
    expect(await readAll(stream)).toBe(BODY);
  });

  it("a body read at once is unchanged", async () => {
    const stream = request();
    iterateBodyFromTheStart(stream);
    await new Promise((resolve) => stream.once("response", resolve));
    expect(await readAll(stream)).toBe(BODY);
  });

  it("a stream the peer resets still fails its reader, and one nobody reads leaves no unhandled rejection", async () => {
    const unread = request("/reset");
    iterateBodyFromTheStart(unread);
    const read = request("/reset");
    iterateBodyFromTheStart(read);
    await expect(readAll(read)).rejects.toThrow();
    if (!unread.closed) await new Promise((resolve) => unread.once("close", resolve));
    expect(unread.rstCode).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
  });

  it("leaves a closed stream alone", async () => {
    const stream = request();
    stream.resume();
    await new Promise((resolve) => stream.once("close", resolve));
    iterateBodyFromTheStart(stream);
    expect(Object.hasOwn(stream, Symbol.asyncIterator)).toBe(false);
  });
});
