import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import type { CompressionRegistry } from "./call/message-encoding.ts";
import type { HostPort } from "./config/gateway-config.ts";
import type { UpstreamClient } from "./upstream/upstream-client.ts";

/** A bound listener. */
export interface BoundListener {
  /** The address actually bound (port 0 resolved). */
  readonly address: HostPort;
  /** Stops accepting and closes its connections. */
  close(): Promise<void>;
}

/**
 * Looks up the addresses of a name: A and AAAA records (from `servers`
 * when given, else the system's resolver), or the name itself when it is an
 * IP literal. Rejects when the lookup fails; resolves `[]` when the name
 * exists without addresses.
 */
export type HostResolver = (host: string, servers: readonly HostPort[] | undefined) => Promise<readonly string[]>;

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
  createUpstreamClient(): UpstreamClient;
  /** A cleartext listener serving HTTP/1.1 and h2c on one port. */
  listen(address: HostPort, handler: UniversalHandlerFn, onError: (error: unknown) => void): Promise<BoundListener>;
  /** The admin listener, serving a fetch-style app (Hono). */
  serveAdmin(address: HostPort, fetch: (request: Request) => Response | Promise<Response>): Promise<BoundListener>;
}
