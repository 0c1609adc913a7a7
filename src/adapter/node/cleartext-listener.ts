import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { HostPort } from "../../config/gateway-config.ts";
import { closeGracefully, listenOn } from "./listen-on.ts";

/** A request handler that both Node's HTTP/1.1 and HTTP/2 compatibility servers can call. */
export type NodeRequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** A bound listener. */
export interface NodeListener {
  /** The address actually bound (port 0 resolved). */
  readonly address: HostPort;
  /** Stops accepting, closes every connection (HTTP/2 sessions get GOAWAY) and waits for them. */
  close(): Promise<void>;
}

/** The connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4) starts with these bytes. */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * One cleartext port that serves HTTP/1.1 and h2c with prior knowledge.
 * Node's cleartext HTTP/2 server does not fall back to HTTP/1.1, so the
 * first bytes of every connection are peeked at: the HTTP/2 preface goes to
 * the HTTP/2 server, anything else to the HTTP/1.1 server (browsers and
 * connect-web speak HTTP/1.1 over cleartext; gRPC clients and `buf curl
 * --http2-prior-knowledge` speak h2c).
 */
export async function listenCleartext(address: HostPort, handler: NodeRequestHandler): Promise<NodeListener> {
  const h1 = http.createServer(handler);
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<net.Socket>();
  // Node tracks HTTP/1.1 connections only for servers that listen themselves,
  // so which ones are busy is tracked here, for a close that spares them.
  const busy = new Map<net.Socket, number>();
  const h1Sockets = new Set<net.Socket>();
  let closing = false;
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const left = (busy.get(socket) ?? 1) - 1;
      if (left > 0) {
        busy.set(socket, left);
        return;
      }
      busy.delete(socket);
      if (closing) {
        socket.end();
      }
    });
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    sniff(socket, (isHttp2) => {
      if (!isHttp2) {
        h1Sockets.add(socket);
        socket.once("close", () => h1Sockets.delete(socket));
      }
      (isHttp2 ? h2 : h1).emit("connection", socket);
    });
  });
  const bound = await listenOn(server, address);
  return {
    address: bound,
    async close() {
      closing = true;
      await closeGracefully(server, sessions, sockets, () => {
        for (const socket of h1Sockets) {
          if (!busy.has(socket)) {
            socket.end();
          }
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
