import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import type { CompressionRegistry } from "./call/message-encoding.ts";
import type { HostPort, KeepaliveConfig, LimitsConfig } from "./config/gateway-config.ts";
import type { Logger } from "./log/logger.ts";
import type { CertificatePair, CertificateSelector } from "./tls/certificate-store.ts";
import type { UpstreamClient } from "./upstream/upstream-client.ts";

/** A bound listener. */
export interface BoundListener {
  /** The address actually bound (port 0 resolved). */
  readonly address: HostPort;
  /**
   * Stops accepting at once and closes its connections gracefully: HTTP/2
   * sessions get GOAWAY, HTTP/1.1 connections close when idle (a response
   * still to come says `Connection: close`). Requests in flight may finish
   * within `gracePeriodMs` (default 2 s); after it, what is left is cut.
   * Resolves once every connection is gone.
   */
  close(gracePeriodMs?: number): Promise<void>;
}

/** What a call listener enforces on its client connections (see `LimitsConfig`). */
export type ListenerLimits = Omit<LimitsConfig, "maxMessageBytes">;

/** How a call listener serves. */
export interface ListenOptions {
  /** Connection limits and timeouts. */
  readonly limits: ListenerLimits;
  /** TLS (1.2 minimum, ALPN h2 and http/1.1, the certificate picked per handshake by SNI); `undefined`: cleartext. */
  readonly certificates?: CertificateSelector | undefined;
  /** Told about calls that failed inside the handler (answered 500 or reset). */
  readonly onError: (error: unknown) => void;
  /** For connection-level events worth an operator's attention (connections refused over the limit). */
  readonly log: Logger;
  /** Counts TLS handshakes (completed, or failed with the reason), for metrics. */
  readonly onTlsHandshake?: (outcome: "ok" | "failed") => void;
}

/**
 * Looks up the addresses of a name: A and AAAA records (from `servers`
 * when given, else the system's resolver), or the name itself when it is an
 * IP literal. Rejects when the lookup fails; resolves `[]` when the name
 * exists without addresses.
 */
export type HostResolver = (host: string, servers: readonly HostPort[] | undefined) => Promise<readonly string[]>;

/** How the upstream client reaches pods over TLS. */
export interface UpstreamTls {
  /** PEM CA bundle; `undefined`: the runtime's default roots. */
  readonly ca: string | undefined;
  /** Name to verify and send as SNI instead of the endpoint's address. */
  readonly serverName: string | undefined;
  readonly insecureSkipVerify: boolean;
}

/** What an upstream client is made with. */
export interface UpstreamClientOptions {
  /** PINGs on its sessions (the backend's `keepalive`). */
  readonly keepalive: KeepaliveConfig;
  /** TLS towards the pods; `undefined`: h2c. */
  readonly tls?: UpstreamTls | undefined;
}

/** What a certificate says about itself. */
export interface CertificateInfo {
  /** Lower-case DNS names (and IP addresses) of its subjectAltName. */
  readonly names: readonly string[];
  /** Expiry, epoch ms. */
  readonly notAfter: number;
}

/**
 * Everything the gateway needs from its runtime, and the only door through
 * which it reaches one: sockets, the HTTP/2 client, compression, the clock.
 * The Node adapter implements it with node:http2; a Deno adapter can do the
 * same with Deno's node:http2 layer. The core never imports `node:`.
 */
export interface Runtime {
  readonly compressions: CompressionRegistry;
  readonly now: () => number;
  readonly resolveHost: HostResolver;
  /** An environment variable, e.g. KUBERNETES_SERVICE_HOST to tell a pod from a laptop. */
  env(name: string): string | undefined;
  /** An HTTP/2 client towards pods: h2c, or TLS when `options.tls` is given. */
  createUpstreamClient(options: UpstreamClientOptions): UpstreamClient;
  /**
   * A listener: cleartext HTTP/1.1 and h2c on one port, or, with
   * `options.certificates`, TLS (1.2 minimum) with ALPN h2 and http/1.1 and
   * the certificate picked per handshake by SNI. Either enforces
   * `options.limits` on its client connections.
   */
  listen(address: HostPort, handler: UniversalHandlerFn, options: ListenOptions): Promise<BoundListener>;
  /** Reads a text file (certificates, CA bundles). */
  readText(path: string): Promise<string>;
  /** Reads a binary file (descriptor sets). */
  readBytes(path: string): Promise<Uint8Array>;
  /** Calls `onChange` when the file at `path` changes (also when a symlink is swapped); returns the stop function. */
  watchFile(path: string, onChange: () => void): () => void;
  /** Parses a PEM certificate and checks the key belongs to it; throws a message naming the problem. */
  inspectCertificate(pair: CertificatePair): CertificateInfo;
  /** The admin listener, serving a fetch-style app (Hono). */
  serveAdmin(address: HostPort, fetch: (request: Request) => Response | Promise<Response>): Promise<BoundListener>;
}
