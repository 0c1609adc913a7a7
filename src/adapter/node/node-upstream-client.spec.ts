import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createNodeUpstreamClient } from "./node-upstream-client.ts";

/** An h2c server that holds every stream open until `release()`, answering 200 with trailers. */
async function holdingServer(maxConcurrentStreams: number) {
  const sessions = new Set<http2.ServerHttp2Session>();
  const held: http2.ServerHttp2Stream[] = [];
  const server = http2.createServer({ settings: { maxConcurrentStreams } });
  server.on("session", (s) => sessions.add(s));
  server.on("stream", (stream) => {
    held.push(stream);
    stream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    sessions,
    held,
    release() {
      for (const stream of held.splice(0)) {
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end();
      }
    },
    close: () => {
      for (const s of sessions) {
        s.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function drain(body: AsyncIterable<Uint8Array>) {
  for await (const _ of body) {
    // read to the end
  }
}

// The contract of connect-node's @private `sessionProvider` that the gateway relies on:
// the client asks our pool for a session manager per request, uses its request() and
// reports reads; the response carries trailers.
describe("createNodeUpstreamClient()", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) {
      await cleanup();
    }
  });

  it("reuses one session for sequential calls and delivers trailers", async () => {
    const server = await holdingServer(100);
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close(), server.close);
    for (let i = 0; i < 5; i++) {
      const pending = client.request({ url: `${server.origin}/a.B/C`, method: "POST", header: new Headers() });
      await vi.waitFor(() => expect(server.held.length).toBe(1));
      server.release();
      const response = await pending;
      await drain(response.body);
      expect(response.trailer.get("grpc-status")).toBe("0");
    }
    expect(server.sessions.size).toBe(1);
  });

  it("opens another session when the peer's concurrent-stream limit is reached", async () => {
    const server = await holdingServer(2);
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close(), server.close);
    const first = client.request({ url: `${server.origin}/a.B/C`, method: "POST", header: new Headers() });
    await vi.waitFor(() => expect(server.held.length).toBe(1));
    const rest = Array.from({ length: 4 }, () =>
      client.request({ url: `${server.origin}/a.B/C`, method: "POST", header: new Headers() }),
    );
    await vi.waitFor(() => expect(server.held.length).toBe(5));
    expect(server.sessions.size).toBe(3);
    expect(client.sessions(server.origin)?.activeStreams()).toBe(5);
    server.release();
    for (const response of await Promise.all([first, ...rest])) {
      await drain(response.body);
    }
    // Extra sessions are dropped when idle; one stays warm.
    await vi.waitFor(() => expect(client.sessions(server.origin)?.sessionCount()).toBe(1));
  });

  it("closes a retired endpoint's sessions once its streams have ended", async () => {
    const server = await holdingServer(100);
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close(), server.close);
    const pending = client.request({ url: `${server.origin}/a.B/C`, method: "POST", header: new Headers() });
    await vi.waitFor(() => expect(server.held.length).toBe(1));
    const sessions = client.sessions(server.origin);
    client.retire(server.origin);
    expect(sessions?.sessionCount()).toBe(1);
    server.release();
    await drain((await pending).body);
    await vi.waitFor(() => expect(sessions?.sessionCount()).toBe(0));
    const [serverSession] = server.sessions;
    await vi.waitFor(() => expect(serverSession?.closed || serverSession?.destroyed).toBe(true));
  });
});
