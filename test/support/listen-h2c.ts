import type * as http2 from "node:http2";
import type { AddressInfo } from "node:net";

/** An h2c server the test started on a loopback port, with the sessions it holds. */
export interface ListeningH2c {
  /** `127.0.0.1:PORT`, as an endpoint in a config. */
  readonly address: string;
  readonly port: number;
  /** The sessions open now (each with an 'error' listener, so a torn one never crashes the test). */
  readonly sessions: ReadonlySet<http2.ServerHttp2Session>;
  /** Destroys every session and closes the server. */
  close(): Promise<void>;
}

/** Listens on a free loopback port; `close()` does not wait for the sessions to end by themselves. */
export async function listenH2c(server: http2.Http2Server): Promise<ListeningH2c> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("error", () => {});
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    sessions,
    close: () => {
      for (const session of sessions) {
        session.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
