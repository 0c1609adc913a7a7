import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { HostPort } from "../../config/gateway-config.ts";

/** A backend pod running in this process: a real gRPC server on a loopback port. */
export interface Pod {
  readonly name: string;
  readonly address: HostPort;
  close(): Promise<void>;
}

/**
 * Starts a pod: an h2c server answering gRPC (and Connect and gRPC-Web, as
 * connect-node does) with the given routes. The demo and the tests use it as
 * the real thing behind the gateway.
 */
export async function startPod(
  name: string,
  routes: (router: ConnectRouter) => void,
  address: HostPort = { host: "127.0.0.1", port: 0 },
): Promise<Pod> {
  const server = http2.createServer(connectNodeAdapter({ routes }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    name,
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) {
          session.destroy();
        }
      }),
  };
}
