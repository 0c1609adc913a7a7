import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { HostPort } from "../../config/gateway-config.ts";
import type { Logger } from "../../log/logger.ts";
import type { ListenerLimits } from "../../runtime.ts";
import { createClientConnections, http1Options, http2Settings, limitConnections, limitHeaderList } from "./client-connections.ts";
import { keepParserOnDataEvents } from "./deno-compat.ts";
import { listenOn } from "./listen-on.ts";

/** A request handler that both Node's HTTP/1.1 and HTTP/2 compatibility servers can call. */
export type NodeRequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** A bound listener. */
export interface NodeListener {
  /** The address actually bound (port 0 resolved). */
  readonly address: HostPort;
  /**
   * Stops accepting, sends GOAWAY to HTTP/2 sessions and closes HTTP/1.1
   * connections once idle, waits up to `gracePeriodMs` (default 2 s) for
   * requests in flight, then destroys what is left.
   */
  close(gracePeriodMs?: number): Promise<void>;
}

/** What a listener needs besides its address and handler. */
export interface NodeListenOptions {
  readonly limits: ListenerLimits;
  readonly log: Logger;
  readonly onTlsHandshake?: (outcome: "ok" | "failed") => void;
}

/** Grace period of a `close()` that names none. */
export const DEFAULT_CLOSE_GRACE_MS = 2_000;

/** The connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4) starts with these bytes. */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * One cleartext port that serves HTTP/1.1 and h2c with prior knowledge.
 * Node's cleartext HTTP/2 server does not fall back to HTTP/1.1, so the
 * first bytes of every connection are peeked at: the HTTP/2 preface goes to
 * the HTTP/2 server, anything else to the HTTP/1.1 server (browsers and
 * connect-web speak HTTP/1.1 over cleartext; gRPC clients and `buf curl
 * --http2-prior-knowledge` speak h2c).
 *
 * Limits: connections over `maxConnections` are closed on accept; a
 * connection must show its protocol within `headersTimeoutMs`, and then
 * its request headers (HTTP/1.1: 408) or its first stream (HTTP/2) within as
 * long again; header lists are capped (431, or the stream reset); HTTP/2
 * sessions advertise `maxConcurrentStreams`; idle connections are closed.
 */
export async function listenCleartext(
  address: HostPort,
  handler: NodeRequestHandler,
  options: NodeListenOptions,
): Promise<NodeListener> {
  const { limits } = options;
  const connections = createClientConnections(limits);
  const h1 = http.createServer(http1Options(limits));
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => connections.request(req, res));
  h1.on("request", limitHeaderList(handler, limits));
  // Node watches HTTP/1.1 request times (headersTimeout) only for servers
  // that listen themselves; this one is handed its connections, so the watch
  // is started the way listening would start it.
  h1.emit("listening");
  // The HTTP/1.1 server never binds a port itself, so it is not `listening`;
  // Deno's node:http (2.9) then closes every connection after its first
  // response (it takes an idle server for one shutting down), which ends
  // keep-alive. It listens, through `server`, until the listener closes.
  Object.defineProperty(h1, "listening", { get: () => !connections.closing });
  const h2 = http2.createServer({ settings: http2Settings(limits) }, limitHeaderList(handler, limits));
  h2.on("session", (session: http2.ServerHttp2Session) => connections.session(session));
  /** Connections whose protocol is not known yet. */
  const undecided = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections.accepted(socket);
    socket.setNoDelay(true);
    socket.on("error", () => socket.destroy());
    if (connections.closing) {
      socket.destroy();
      return;
    }
    undecided.add(socket);
    const silent = setTimeout(() => socket.destroy(), limits.headersTimeoutMs);
    silent.unref();
    socket.once("close", () => {
      clearTimeout(silent);
      undecided.delete(socket);
    });
    sniff(socket, (isHttp2) => {
      clearTimeout(silent);
      undecided.delete(socket);
      if (!isHttp2) {
        connections.http1(socket);
        keepParserOnDataEvents(socket);
      }
      (isHttp2 ? h2 : h1).emit("connection", socket);
    });
  });
  let bound: HostPort = address;
  limitConnections(server, () => bound, limits, options.log);
  bound = await listenOn(server, address);
  return {
    address: bound,
    async close(gracePeriodMs = DEFAULT_CLOSE_GRACE_MS) {
      await connections.close(server, gracePeriodMs, () => {
        // Stops h1's request-time watch (and closes its idle connections).
        h1.close();
        for (const socket of undecided) {
          socket.destroy();
        }
      });
    },
  };
}

/**
 * Waits for enough bytes to tell HTTP/2 from HTTP/1.1, then puts them back.
 * Three bytes decide it: `PRI` starts no HTTP/1.1 method.
 */
function sniff(socket: net.Socket, decide: (isHttp2: boolean) => void): void {
  let seen = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, preface.length);
    if (seen.subarray(0, n).equals(preface.subarray(0, n)) && n < 3) {
      return; // not enough bytes yet
    }
    socket.off("data", onData);
    socket.pause();
    socket.unshift(seen);
    const isHttp2 = seen.subarray(0, n).equals(preface.subarray(0, n));
    decide(isHttp2);
    if (!isHttp2) {
      // The HTTP/2 session takes the socket's handle and reads what is
      // buffered itself; the HTTP/1.1 parser wants the stream flowing again.
      socket.resume();
    }
  };
  socket.on("data", onData);
}
