import * as http2 from "node:http2";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import { unprocessedReason } from "../../upstream/upstream-client.ts";
import { createNodeUpstreamClient } from "./node-upstream-client.ts";

const { constants } = http2;

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

/** An h2c server whose streams a test handles itself. */
async function rawServer(onStream: (stream: http2.ServerHttp2Stream, session: http2.ServerHttp2Session) => void) {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
  });
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    onStream(stream, stream.session as http2.ServerHttp2Session);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions,
    close: () => {
      for (const s of sessions) {
        s.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answer(stream: http2.ServerHttp2Stream) {
  stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "0" }, { endStream: true });
}

/** Resolves with how a request failed (or "answered"). */
async function outcome(pending: Promise<unknown>): Promise<{ unprocessed: string | undefined; code: Code } | "answered"> {
  try {
    await pending;
    return "answered";
  } catch (e) {
    return { unprocessed: unprocessedReason(e), code: ConnectError.from(e).code };
  }
}

/** A request that sends one small message, as the gateway's calls do. */
function post(client: ReturnType<typeof createNodeUpstreamClient>, origin: string) {
  return client.request({
    url: `${origin}/a.B/C`,
    method: "POST",
    header: new Headers({ "content-type": "application/grpc" }),
    body: (async function* () {
      yield new Uint8Array([0, 0, 0, 0, 1, 42]);
    })(),
  });
}

// Which failures say that the pod never processed the request (and the call may go to another pod).
describe("createNodeUpstreamClient(): requests the pod never processed", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) {
      await cleanup();
    }
  });

  it("a refused connection is unprocessed", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close());
    expect(await outcome(post(client, `http://127.0.0.1:${port}`))).toEqual({ unprocessed: "connect-failed", code: Code.Unavailable });
  });

  it("a stream the pod refuses (REFUSED_STREAM), even after reading the request, is unprocessed", async () => {
    const server = await rawServer((stream) => {
      stream.resume();
      stream.on("end", () => stream.close(constants.NGHTTP2_REFUSED_STREAM));
    });
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close(), server.close);
    expect(await outcome(post(client, server.origin))).toEqual({ unprocessed: "refused", code: Code.Unavailable });
  });

  it("a stream reset with another code, or lost with its connection, after the request went out may have been processed", async () => {
    const reset = await rawServer((stream) => {
      stream.resume();
      stream.on("end", () => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    });
    const dropped = await rawServer((stream, session) => {
      stream.resume();
      stream.on("end", () => session.destroy());
    });
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close(), reset.close, dropped.close);
    expect(await outcome(post(client, reset.origin))).toEqual({ unprocessed: undefined, code: Code.Internal });
    expect(await outcome(post(client, dropped.origin))).toEqual({ unprocessed: undefined, code: Code.Unavailable });
  });

  it("streams above a graceful GOAWAY's last-stream-id are unprocessed; the one below is answered; the next request opens a new connection", async () => {
    // The pod processes stream 1 only; once streams 3 and 5 have arrived it says GOAWAY(last-stream-id 1).
    const first: http2.ServerHttp2Stream[] = [];
    let draining: http2.ServerHttp2Session | undefined;
    let arrived = 0;
    const server = await rawServer((stream, session) => {
      if (draining !== undefined && session !== draining) {
        answer(stream); // a stream on the new connection
        return;
      }
      arrived++;
      if (stream.id === 1) {
        first.push(stream);
      }
      if (arrived === 3) {
        draining = session;
        session.goaway(constants.NGHTTP2_NO_ERROR, 1);
        setTimeout(() => first.forEach(answer), 50);
      }
    });
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close(), server.close);
    const one = post(client, server.origin);
    await vi.waitFor(() => expect(first).toHaveLength(1));
    const others = [post(client, server.origin), post(client, server.origin)];
    const outcomes = await Promise.all([one, ...others].map(outcome));
    expect(outcomes).toEqual([
      "answered",
      { unprocessed: "goaway", code: Code.Unavailable },
      { unprocessed: "goaway", code: Code.Unavailable },
    ]);
    expect(await outcome(post(client, server.origin))).toBe("answered");
    expect(server.sessions.size).toBe(2);
  });

  it("streams above an error GOAWAY's last-stream-id are unprocessed though Node closes them as INTERNAL_ERROR", async () => {
    let arrived = 0;
    const server = await rawServer((_stream, session) => {
      arrived++;
      if (arrived === 3) {
        session.goaway(constants.NGHTTP2_INTERNAL_ERROR, 1);
      }
    });
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close(), server.close);
    const one = post(client, server.origin);
    await vi.waitFor(() => expect(arrived).toBe(1));
    const outcomes = await Promise.all([one, post(client, server.origin), post(client, server.origin)].map(outcome));
    expect(outcomes).toEqual([
      { unprocessed: undefined, code: Code.Unavailable },
      { unprocessed: "goaway", code: Code.Unavailable },
      { unprocessed: "goaway", code: Code.Unavailable },
    ]);
  });

  it("a request the caller aborted is never marked unprocessed", async () => {
    const server = await rawServer(() => {});
    const client = createNodeUpstreamClient();
    cleanups.push(() => client.close(), server.close);
    const abort = new AbortController();
    const pending = client.request({ url: `${server.origin}/a.B/C`, method: "POST", header: new Headers(), signal: abort.signal });
    await vi.waitFor(() => expect(server.sessions.size).toBe(1));
    abort.abort(new ConnectError("client went away", Code.Canceled));
    expect(await outcome(pending)).toEqual({ unprocessed: undefined, code: Code.Canceled });
  });
});
