import type * as http2 from "node:http2";
import { Http2SessionManager, type Http2SessionOptions } from "@connectrpc/connect-node";
import type { KeepaliveConfig } from "../../config/gateway-config.ts";
import { DEFAULT_KEEPALIVE } from "../../config/validate-config.ts";

/** Keepalive and idle settings for upstream sessions. */
export interface SessionPoolOptions {
  readonly ping: Http2SessionOptions;
  /** TLS options for `https` origins (CA, SNI name, verification). */
  readonly connect?: http2.SecureClientSessionOptions;
  /** Streams assumed allowed on a new session until the peer's SETTINGS say otherwise. */
  readonly assumedMaxConcurrentStreams: number;
}

/**
 * Session options for a backend's keepalive (connect-node's
 * Http2SessionManager does the pinging: while calls are open and the pod is
 * silent, and before reusing a session idle longer than the interval; idle
 * sessions are not pinged, as gRPC servers count those PINGs as strikes, and
 * are closed after 15 minutes).
 */
export function sessionPoolOptions(keepalive: KeepaliveConfig, connect?: http2.SecureClientSessionOptions): SessionPoolOptions {
  return {
    ping: {
      pingIntervalMs: keepalive.intervalMs,
      pingTimeoutMs: keepalive.timeoutMs,
      pingIdleConnection: false,
      idleConnectionTimeoutMs: 900_000,
    },
    ...(connect === undefined ? {} : { connect }),
    assumedMaxConcurrentStreams: 100,
  };
}

export const defaultSessionPoolOptions: SessionPoolOptions = sessionPoolOptions(DEFAULT_KEEPALIVE);

interface Session {
  readonly manager: Http2SessionManager;
  active: number;
  limit: number;
  /** The node sessions (one per reconnect) whose SETTINGS we follow. */
  readonly watched: WeakSet<http2.ClientHttp2Session>;
}

/**
 * The HTTP/2 sessions towards one endpoint, shaped as the session manager
 * that connect-node's HTTP/2 client takes (`sessionProvider`). Every call to
 * the endpoint reuses one long-lived session (keepalive pings, GOAWAY and
 * reconnects are Http2SessionManager's job); when the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS is reached, another session is opened
 * rather than queueing streams behind the limit.
 *
 * GOAWAY: the manager keeps a connection that received a graceful GOAWAY
 * until its streams end and opens a new connection for the next request at
 * once (one that received an error GOAWAY is destroyed by Node, and the next
 * request reconnects). The pool remembers each connection's GOAWAY
 * last-stream-id, so the streams above it can be told apart as never
 * processed by the pod (`goawayLastStreamId`).
 */
export class EndpointSessions {
  readonly authority: string;
  private readonly options: SessionPoolOptions;
  private readonly sessions: Session[] = [];
  private readonly owner = new WeakMap<http2.ClientHttp2Stream, Session>();
  /** The lowest last-stream-id of the GOAWAY frames each connection received. */
  private readonly goaways = new WeakMap<http2.Http2Session, number>();
  private retired = false;
  /** The peer's last known limit: a new session to the same pod starts from it. */
  private knownLimit: number;

  constructor(authority: string, options: SessionPoolOptions) {
    this.authority = authority;
    this.options = options;
    this.knownLimit = options.assumedMaxConcurrentStreams;
  }

  /** Streams open over all sessions. */
  activeStreams(): number {
    return this.sessions.reduce((sum, s) => sum + s.active, 0);
  }

  /** How many sessions are open or opening. */
  sessionCount(): number {
    return this.sessions.length;
  }

  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const session = this.sessionWithRoom();
    session.active++;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = await session.manager.request(method, path, headers, options);
    } catch (e) {
      this.streamEnded(session);
      throw e;
    }
    this.watch(session, stream.session as http2.ClientHttp2Session | undefined);
    this.owner.set(stream, session);
    stream.once("close", () => this.streamEnded(session));
    return stream;
  }

  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    this.owner.get(stream)?.manager.notifyResponseByteRead(stream);
  }

  /**
   * The lowest last-stream-id of the GOAWAY frames a connection of this pool
   * received (streams above it were never processed), or `undefined`.
   */
  goawayLastStreamId(connection: http2.Http2Session | undefined): number | undefined {
    return connection === undefined ? undefined : this.goaways.get(connection);
  }

  /** Closes the sessions once their last stream has ended; no new streams are expected. */
  retire(): void {
    this.retired = true;
    for (const session of [...this.sessions]) {
      if (session.active === 0) {
        this.closeSession(session);
      }
    }
  }

  /** Closes every session now, cancelling its streams. */
  close(): void {
    for (const session of [...this.sessions]) {
      this.closeSession(session);
    }
  }

  /**
   * Follows the peer's SETTINGS_MAX_CONCURRENT_STREAMS (read once the
   * session exists, and again whenever the peer sends new SETTINGS), and
   * records the last-stream-id of its GOAWAY frames.
   */
  private watch(session: Session, h2: http2.ClientHttp2Session | undefined): void {
    if (h2 === undefined || session.watched.has(h2)) {
      return;
    }
    session.watched.add(h2);
    // connect-node's session manager destroys a connection with an error when a pod's GOAWAY
    // arrives with no stream open, sometimes after it has removed its own 'error' listener;
    // unheard, that 'error' would be an uncaught exception that takes the gateway down.
    // The manager learns of the failure through its state either way.
    h2.on("error", () => {});
    h2.on("goaway", (_code: number, lastStreamId: number) => {
      this.goaways.set(h2, Math.min(lastStreamId, this.goaways.get(h2) ?? lastStreamId));
    });
    const apply = (settings: http2.Settings) => {
      const limit = settings.maxConcurrentStreams;
      if (limit !== undefined && limit > 0) {
        session.limit = limit;
        this.knownLimit = limit;
      }
    };
    apply(h2.remoteSettings);
    h2.on("remoteSettings", apply);
  }

  private sessionWithRoom(): Session {
    const open = this.sessions.find((s) => s.active < s.limit && s.manager.state() !== "error");
    if (open !== undefined) {
      return open;
    }
    const failed = this.sessions.filter((s) => s.manager.state() === "error" && s.active === 0);
    for (const session of failed) {
      this.closeSession(session);
    }
    const session: Session = {
      manager: new Http2SessionManager(this.authority, this.options.ping, this.options.connect),
      active: 0,
      limit: this.knownLimit,
      watched: new WeakSet(),
    };
    this.sessions.push(session);
    return session;
  }

  private streamEnded(session: Session): void {
    session.active--;
    if (session.active > 0) {
      return;
    }
    // Keep one idle session per endpoint warm; drop extra ones and all of a retired endpoint's.
    if (this.retired || this.sessions.length > 1) {
      this.closeSession(session);
    }
  }

  private closeSession(session: Session): void {
    const index = this.sessions.indexOf(session);
    if (index >= 0) {
      this.sessions.splice(index, 1);
    }
    session.manager.abort();
  }
}
