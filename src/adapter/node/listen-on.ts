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
