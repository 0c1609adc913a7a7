import { readFile, unwatchFile, watchFile, type Stats } from "node:fs";
import * as http from "node:http";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { getRequestListener } from "@hono/node-server";
import type { Compression } from "@connectrpc/connect/protocol";
import type { HostPort } from "../../config/gateway-config.ts";
import type { BoundListener, Runtime, UpstreamTls } from "../../runtime.ts";
import { sessionPoolOptions } from "./http2-session-pool.ts";
import { inspectCertificate } from "./inspect-certificate.ts";
import { listenOn } from "./listen-on.ts";
import { listenTls } from "./tls-listener.ts";
import { listenCleartext } from "./cleartext-listener.ts";
import { createNodeRequestHandler } from "./node-request-handler.ts";
import { createNodeUpstreamClient } from "./node-upstream-client.ts";
import { resolveHost } from "./resolve-host.ts";

/** Compressions the gateway reads and passes through, in order of preference. */
const compressions: ReadonlyMap<string, Compression> = new Map([
  [compressionGzip.name, compressionGzip],
  [compressionBrotli.name, compressionBrotli],
]);

/** The gateway's runtime on Node.js: node:http2 both ways, zlib, c-ares, the system clock. */
export const nodeRuntime: Runtime = {
  compressions,
  now: () => Date.now(),
  resolveHost,
  env: (name) => process.env[name],
  createUpstreamClient: ({ keepalive, tls }) =>
    createNodeUpstreamClient(sessionPoolOptions(keepalive, tls === undefined ? undefined : tlsOptions(tls))),
  listen: (address, handler, options) => {
    const nodeHandler = createNodeRequestHandler(handler, options.onError);
    return options.certificates === undefined
      ? listenCleartext(address, nodeHandler, options)
      : listenTls(address, nodeHandler, options.certificates, options);
  },
  serveAdmin: serveFetch,
  readText: (path) =>
    new Promise((resolve, reject) => readFile(path, "utf8", (error, text) => (error ? reject(error) : resolve(text)))),
  readBytes: (path) =>
    new Promise((resolve, reject) => readFile(path, (error, bytes) => (error ? reject(error) : resolve(new Uint8Array(bytes))))),
  watchFile: watchPath,
  inspectCertificate,
};

/** Connection options for pods behind TLS: ALPN h2, the CA and name to verify. */
function tlsOptions(tls: UpstreamTls) {
  return {
    ALPNProtocols: ["h2"],
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
    rejectUnauthorized: !tls.insecureSkipVerify,
  };
}

/** How often watched certificate files are checked. */
const WATCH_INTERVAL_MS = 500;

/**
 * Polls the file's status. Polling (not inotify) sees the atomic symlink
 * swap of a Kubernetes Secret volume, where the watched path itself never
 * changes, and costs one stat per file per interval.
 */
function watchPath(path: string, onChange: () => void): () => void {
  const listener = (current: Stats, previous: Stats) => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size) {
      onChange();
    }
  };
  watchFile(path, { interval: WATCH_INTERVAL_MS, persistent: false }, listener);
  return () => unwatchFile(path, listener);
}

async function serveFetch(
  address: HostPort,
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<BoundListener> {
  const server = http.createServer(getRequestListener(fetch));
  const bound = await listenOn(server, address);
  return {
    address: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
