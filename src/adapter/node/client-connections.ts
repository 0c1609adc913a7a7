import type * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import type { Logger } from "../../log/logger.ts";
import type { HostPort } from "../../config/gateway-config.ts";
import type { ListenerLimits } from "../../runtime.ts";
import type { NodeRequestHandler } from "./cleartext-listener.ts";
import { formatHostPort } from "../../config/parse-host-port.ts";

/** Node's own default for receiving a whole HTTP/1.1 request (headers and body). */
const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/**
 * Options of Node's HTTP/1.1 server (also of the TLS server's HTTP/1.1
 * fallback) that enforce the limits: header bytes (431 beyond), the time to
 * send the headers (408 beyond), and the time a keep-alive connection may
 * sit idle between requests. The whole request, body included, keeps Node's
 * five minutes (or `headersTimeoutMs`, if longer): bodies over HTTP/1.1 are
 * sent at once, and a long streamed response is not part of it.
 */
export function http1Options(limits: ListenerLimits): http.ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderListBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: Math.max(DEFAULT_REQUEST_TIMEOUT_MS, limits.headersTimeoutMs),
    keepAliveTimeout: limits.idleTimeoutMs,
    // Node looks for requests past their time on an interval (30 s by default): a quarter of the limit keeps the cut close to it.
    connectionsCheckingInterval: Math.round(Math.min(1_000, Math.max(25, limits.headersTimeoutMs / 4))),
  };
}

/**
 * SETTINGS every client HTTP/2 session gets: clients keep to the stream
 * limit by queueing their calls (a stream opened over it before the client
 * has acknowledged the SETTINGS is refused, REFUSED_STREAM).
 */
export function http2Settings(limits: ListenerLimits): http2.Settings {
  return {
    // nghttp2 rejecting a header block leaks its memory, and Node aborts the whole process when such a
    // session is later freed ("Assertion failed: (current_nghttp2_memory_) == (0)", nodejs/node#35233):
    // one hostile request could take the gateway down. So nghttp2 only ever sees Node's own 64 KiB bound,
    // and our (smaller) limit is enforced in JS by limitHeaderList below.
    maxHeaderListSize: Math.max(limits.maxHeaderListBytes, NGHTTP2_SAFE_HEADER_LIST_SIZE),
    maxConcurrentStreams: limits.maxConcurrentStreams,
  };
}

/** Node's default SETTINGS_MAX_HEADER_LIST_SIZE. */
const NGHTTP2_SAFE_HEADER_LIST_SIZE = 65_535;

/**
 * The header list limit, enforced here rather than by nghttp2 (see
 * http2Settings): an HTTP/2 stream over it is reset with ENHANCE_YOUR_CALM
 * and never reaches `handler`. HTTP/1.1 requests over it are answered 431
 * and their connection closed; Node's parser (`maxHeaderSize`) refuses them
 * before they get here, Deno's (2.9) does not. The size is counted as
 * RFC 9113 §6.5.2 does: name and value octets, plus 32 a field.
 */
export function limitHeaderList(handler: NodeRequestHandler, limits: ListenerLimits): NodeRequestHandler {
  return (req, res) => {
    if (headerListSize(req.rawHeaders) > limits.maxHeaderListBytes) {
      if ("stream" in res) {
        res.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      } else {
        req.resume();
        res.writeHead(431, { connection: "close", "content-length": "0" });
        res.end();
      }
      return;
    }
    handler(req, res);
  };
}

function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (const field of rawHeaders) {
    size += field.length; // names and values alike (Node gives them as latin1 strings: one char, one octet)
  }
  return size + 16 * rawHeaders.length; // 32 per name/value pair
}

/** Time between the shutdown notice (GOAWAY 2^31-1) and the real GOAWAY: a round trip and then some. */
const GOAWAY_NOTICE_MS = 200;

/** How long refused connections count as one burst, logged once. */
const DROP_BURST_MS = 10_000;

/**
 * Caps the connections a listener holds open: Node closes the ones over
 * `maxConnections` as soon as they are accepted. A burst of them is logged
 * once, when it starts.
 */
export function limitConnections(server: net.Server, address: () => HostPort, limits: ListenerLimits, log: Logger): void {
  server.maxConnections = limits.maxConnections;
  let burst: NodeJS.Timeout | undefined;
  server.on("drop", () => {
    if (burst !== undefined) {
      burst.refresh();
      return;
    }
    log.warn("refusing connections over limits.maxConnections (logged once per burst)", {
      listener: formatHostPort(address()),
      maxConnections: limits.maxConnections,
    });
    burst = setTimeout(() => (burst = undefined), DROP_BURST_MS).unref();
  });
}

/**
 * The client connections of one listener, as graceful shutdown and the
 * per-connection limits need them: HTTP/2 sessions with their open streams,
 * HTTP/1.1 connections with their responses in flight.
 */
export interface ClientConnections {
  /** Whether `close` has started. */
  readonly closing: boolean;
  /** Every socket the listener accepted, whatever it turns out to speak: the last resort of `close`. */
  accepted(socket: net.Socket): void;
  /**
   * An HTTP/2 session: closed when it opens no stream within
   * `headersTimeoutMs` (slowloris), and with GOAWAY when it has no open
   * stream and no traffic for `idleTimeoutMs`.
   */
  session(session: http2.ServerHttp2Session): void;
  /** An HTTP/1.1 connection, before its first request: `close` ends it at once while it has none in flight. */
  http1(socket: net.Socket): void;
  /**
   * An HTTP/1.1 request, tracked until its response ends. Once `close` has
   * started, its response says `Connection: close`.
   */
  request(req: http.IncomingMessage, res: http.ServerResponse): void;
  /**
   * Graceful close: stop accepting, GOAWAY to every HTTP/2 session, close
   * idle HTTP/1.1 connections and the rest after their responses in flight
   * (`Connection: close` on those not started), `beforeWait` for what else the
   * listener holds; after `gracePeriodMs`, destroy what is left (which
   * cancels its calls). Resolves once the server has closed.
   */
  close(server: net.Server, gracePeriodMs: number, beforeWait?: () => void): Promise<void>;
}

export function createClientConnections(limits: ListenerLimits): ClientConnections {
  let closing = false;
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/1.1 connections that have sent a request, and their responses in flight. */
  const http1 = new Map<net.Socket, Set<http.ServerResponse>>();

  const responsesOf = (socket: net.Socket): Set<http.ServerResponse> => {
    let responses = http1.get(socket);
    if (responses === undefined) {
      responses = new Set();
      http1.set(socket, responses);
      socket.once("close", () => http1.delete(socket));
    }
    return responses;
  };

  return {
    get closing() {
      return closing;
    },
    accepted(socket) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    },
    session(session) {
      sessions.add(session);
      let open = 0;
      // Slowloris: a session must complete the HEADERS of a first stream in time.
      const headers = setTimeout(() => session.destroy(), limits.headersTimeoutMs);
      headers.unref();
      session.on("stream", (stream: http2.ServerHttp2Stream) => {
        clearTimeout(headers);
        open++;
        stream.once("close", () => open--);
      });
      const onTimeout = () => {
        if (session.closed || session.destroyed) {
          return;
        }
        if (open > 0) {
          // A quiet stream (a long-lived server stream between messages) keeps its connection.
          session.setTimeout(limits.idleTimeoutMs, onTimeout);
          return;
        }
        session.close();
      };
      session.setTimeout(limits.idleTimeoutMs, onTimeout);
      session.once("close", () => {
        clearTimeout(headers);
        sessions.delete(session);
      });
    },
    http1(socket) {
      responsesOf(socket);
    },
    request(req, res) {
      const socket = req.socket;
      const inFlight = responsesOf(socket);
      if (closing) {
        res.setHeader("connection", "close");
      }
      inFlight.add(res);
      res.once("close", () => {
        inFlight.delete(res);
        if (closing && inFlight.size === 0) {
          socket.destroySoon();
        }
      });
    },
    async close(server, gracePeriodMs, beforeWait = () => {}) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // RFC 9113 §6.8: a first GOAWAY that refuses nothing (last stream id 2^31-1), so streams a
      // client had already sent are still served; the real GOAWAY follows once they have arrived.
      // A single GOAWAY would name the last stream processed so far and fail the ones on the wire.
      for (const session of sessions) {
        if (!session.closed && !session.destroyed) {
          session.goaway(http2.constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(GOAWAY_NOTICE_MS, gracePeriodMs / 4)));
      for (const session of sessions) {
        session.close();
      }
      for (const [socket, responses] of http1) {
        if (responses.size === 0) {
          socket.destroySoon();
          continue;
        }
        for (const res of responses) {
          if (!res.headersSent) {
            res.setHeader("connection", "close");
          }
        }
      }
      beforeWait();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, gracePeriodMs)))]);
      clearTimeout(timer);
      for (const session of sessions) {
        session.destroy();
      }
      for (const socket of sockets) {
        socket.destroy();
      }
      await closed;
    },
  };
}
