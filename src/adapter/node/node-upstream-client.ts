import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalClientResponse } from "@connectrpc/connect/protocol";
import { createNodeHttpClient } from "@connectrpc/connect-node";
import { markUnprocessed, type UpstreamClient } from "../../upstream/upstream-client.ts";
import { isDeno } from "./deno-compat.ts";
import { h2ResetError, type StreamFate, whyNeverProcessed } from "./h2-reset-error.ts";
import { iterateBodyFromTheStart } from "./iterate-body-from-the-start.ts";
import { splitBinaryHeaders } from "./split-binary-headers.ts";
import { defaultSessionPoolOptions, EndpointSessions, type SessionPoolOptions } from "./http2-session-pool.ts";

/**
 * The upstream client on Node: connect-node's HTTP/2 universal client (it
 * reads trailers and maps socket errors to statuses), given our per-endpoint
 * session pool through its `sessionProvider` option. That option is marked
 * `@private` in connect-node, so the package version is pinned exactly and
 * `node-upstream-client.spec.ts` covers the contract.
 *
 * The provider hands each request a small view of the pool that remembers
 * the stream, so a reset the client library reports late or as a generic
 * stream error still becomes the status gRPC assigns to its RST_STREAM code,
 * and a request that failed before any response headers is marked
 * unprocessed when the pod provably never saw it (`whyNeverProcessed`).
 */
export function createNodeUpstreamClient(options: SessionPoolOptions = defaultSessionPoolOptions): UpstreamClient & {
  sessions(origin: string): EndpointSessions | undefined;
} {
  const pools = new Map<string, EndpointSessions>();
  function pool(origin: string): EndpointSessions {
    let sessions = pools.get(origin);
    if (sessions === undefined) {
      sessions = new EndpointSessions(origin, options);
      pools.set(origin, sessions);
    }
    return sessions;
  }
  let view: StreamView | undefined;
  const inner = createNodeHttpClient({
    httpVersion: "2",
    sessionProvider: (url) => {
      view = new StreamView(pool(new URL(url).origin));
      return view;
    },
  });
  return {
    async request(req) {
      const pending = inner(req); // calls sessionProvider synchronously
      const stream = view;
      view = undefined;
      // A stream we reset ourselves (the call's signal aborted: the client left
      // or the deadline passed) keeps the reason it was aborted with.
      const ours = () => req.signal?.aborted === true;
      try {
        const response = await pending;
        return { ...response, body: checkReset(response, stream, ours) };
      } catch (e) {
        if (ours()) {
          throw e;
        }
        const error = ConnectError.from((await resetOf(stream)) ?? e);
        const unprocessed = stream === undefined ? undefined : whyNeverProcessed(stream.fate());
        throw unprocessed === undefined ? error : markUnprocessed(error, unprocessed);
      }
    },
    sessions: (origin) => pools.get(origin),
    sessionCount() {
      let count = 0;
      for (const sessions of pools.values()) count += sessions.sessionCount();
      return count;
    },
    retire(origin) {
      const sessions = pools.get(origin);
      if (sessions !== undefined) {
        pools.delete(origin);
        sessions.retire();
      }
    },
    close() {
      for (const sessions of pools.values()) {
        sessions.close();
      }
      pools.clear();
    },
  };
}

/** One request's window on an endpoint's sessions, remembering its stream. */
class StreamView {
  readonly authority: string;
  /** `host:port` with an IPv6 host in brackets, as `:authority` must be. */
  private readonly host: string;
  stream: http2.ClientHttp2Stream | undefined;
  /** The connection the stream runs on (the stream forgets it once destroyed). */
  connection: http2.Http2Session | undefined;
  private readonly sessions: EndpointSessions;

  constructor(sessions: EndpointSessions) {
    this.sessions = sessions;
    this.authority = sessions.authority;
    this.host = new URL(sessions.authority).host;
  }

  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    // Node derives a default `:authority` without the brackets of an IPv6
    // host ("::1:50051"), which servers reject as an invalid URL: set it.
    // Repeated -bin metadata as separate lines, as the client sent it (grpcio rejects them joined).
    this.stream = await this.sessions.request(method, path, splitBinaryHeaders({ ":authority": this.host, ...headers }), options);
    this.connection = this.stream.session;
    if (!isDeno) {
      // Node 24.20+ fails a response read after its stream closed (pods behind TLS can get there); Deno's streams do not.
      iterateBodyFromTheStart(this.stream);
    }
    return this.stream;
  }

  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    this.sessions.notifyResponseByteRead(stream);
  }

  /** What became of the request's stream, once it has ended without response headers. */
  fate(): StreamFate {
    return {
      created: this.stream !== undefined,
      id: this.stream?.id,
      rstCode: this.stream?.rstCode,
      goawayLastStreamId: this.sessions.goawayLastStreamId(this.connection),
    };
  }
}

/**
 * A body that ends without trailers, or fails, is checked against the
 * stream's reset code once the stream has closed.
 */
async function* checkReset(
  response: UniversalClientResponse,
  view: StreamView | undefined,
  ours: () => boolean,
): AsyncIterable<Uint8Array> {
  try {
    yield* response.body;
  } catch (e) {
    throw (ours() ? undefined : await resetOf(view)) ?? e;
  }
  if (!response.trailer.has("grpc-status") && !ours()) {
    const reset = await resetOf(view, false);
    if (reset !== undefined) {
      throw reset;
    }
  }
}

/**
 * Waits for the stream to close (it is ending) and maps its RST_STREAM code;
 * a stream that died with its connection is Unavailable, whatever code (or
 * none) the runtime closed it with locally. `failed`: the stream's body or
 * request failed, rather than ended without a status.
 */
async function resetOf(view: StreamView | undefined, failed = true) {
  const stream = view?.stream;
  if (stream === undefined) {
    return undefined;
  }
  if (!stream.closed) {
    await new Promise<void>((resolve) => {
      stream.once("close", () => resolve());
      setTimeout(resolve, 1_000).unref();
    });
  }
  const connection = view?.connection;
  const reset = h2ResetError(stream.rstCode);
  const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM; // never processed: retried as it is, at once
  if (!refused && connection !== undefined && !connection.destroyed && (failed || reset !== undefined)) {
    // Deno (2.9) closes the streams of a connection the pod dropped before
    // the session itself, and without a reset code: give the session a
    // moment to say it is gone. Node has destroyed it by now.
    await new Promise<void>((resolve) => {
      connection.once("close", () => resolve());
      setTimeout(resolve, CONNECTION_LOSS_WAIT_MS).unref();
    });
  }
  if (connection?.destroyed === true && (failed || reset !== undefined)) {
    return new ConnectError("connection to upstream lost", Code.Unavailable);
  }
  return reset;
}

/** How long a failed stream waits for its connection to close, to tell a lost connection from a reset stream. */
const CONNECTION_LOSS_WAIT_MS = 50;
