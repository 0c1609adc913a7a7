import type * as net from "node:net";
import type { HostPort } from "../../config/gateway-config.ts";

/**
 * Binds a server and resolves with the address actually bound (port 0
 * resolved), or rejects with the bind error (EADDRINUSE, EACCES) instead of
 * leaving it to an unhandled 'error' event.
 */
export async function listenOn(server: net.Server, address: HostPort): Promise<HostPort> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  return { host: bound.address, port: bound.port };
}

/**
 * Closes a listening server the way every gateway listener does: stop
 * accepting, GOAWAY to HTTP/2 sessions (and `beforeWait` for the rest), wait
 * up to two seconds for connections to finish, then destroy what is left.
 */
export async function closeGracefully(
  server: net.Server,
  sessions: Iterable<{ close(): void }>,
  sockets: Iterable<net.Socket>,
  beforeWait: () => void = () => {},
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const session of sessions) {
    session.close();
  }
  beforeWait();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  for (const socket of sockets) {
    socket.destroy();
  }
  await closed;
}
