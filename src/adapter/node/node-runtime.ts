import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { getRequestListener } from "@hono/node-server";
import type { Compression } from "@connectrpc/connect/protocol";
import type { HostPort } from "../../config/gateway-config.ts";
import type { BoundListener, Runtime } from "../../runtime.ts";
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
  createUpstreamClient: () => createNodeUpstreamClient(),
  listen: (address, handler, onError) => listenCleartext(address, createNodeRequestHandler(handler, onError)),
  serveAdmin: serveFetch,
};

async function serveFetch(
  address: HostPort,
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<BoundListener> {
  const server = http.createServer(getRequestListener(fetch));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
