import * as http2 from "node:http2";
import type * as net from "node:net";
import * as tls from "node:tls";
import type { HostPort } from "../../config/gateway-config.ts";
import type { CertificateSelector, StoredCertificate } from "../../tls/certificate-store.ts";
import type { NodeListener, NodeRequestHandler } from "./cleartext-listener.ts";
import { closeGracefully, listenOn } from "./listen-on.ts";

/** TLS 1.2 is the floor: HTTP/2 requires it (RFC 9113 §9.2), and 1.0/1.1 are deprecated (RFC 8996). */
const MIN_VERSION = "TLSv1.2";

/**
 * A TLS port for gRPC clients and browsers alike: ALPN offers `h2` and
 * `http/1.1`, and Node's secure HTTP/2 server hands HTTP/1.1 connections to
 * the same handler (`allowHTTP1`).
 *
 * The certificate is chosen per handshake: the SNI callback asks the store,
 * so a rotated certificate (a new store entry) is served on the next
 * handshake while open connections keep the one they negotiated. Contexts
 * are cached per entry. Clients that send no SNI get the default context,
 * which follows the store's first certificate.
 */
export async function listenTls(
  address: HostPort,
  handler: NodeRequestHandler,
  certificates: CertificateSelector,
): Promise<NodeListener> {
  const contexts = new WeakMap<StoredCertificate, tls.SecureContext>();
  const contextFor = (certificate: StoredCertificate): tls.SecureContext => {
    let context = contexts.get(certificate);
    if (context === undefined) {
      context = tls.createSecureContext({ cert: certificate.certPem, key: certificate.keyPem, minVersion: MIN_VERSION });
      contexts.set(certificate, context);
    }
    return context;
  };
  const server = http2.createSecureServer(
    {
      allowHTTP1: true,
      ALPNProtocols: ["h2", "http/1.1"],
      minVersion: MIN_VERSION,
      SNICallback: (servername, callback) => {
        const certificate = certificates.select(servername);
        if (certificate === undefined) {
          callback(new Error("no certificate to serve"), undefined);
          return;
        }
        try {
          callback(null, contextFor(certificate));
        } catch (error) {
          callback(error as Error, undefined);
        }
      },
    },
    handler,
  );
  const useDefault = () => {
    const first = certificates.select(undefined);
    if (first !== undefined) {
      server.setSecureContext({ cert: first.certPem, key: first.keyPem, minVersion: MIN_VERSION });
    }
  };
  useDefault();
  const unsubscribe = certificates.subscribe(useDefault);

  const sockets = new Set<tls.TLSSocket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  // A failed handshake (no shared cipher, an old protocol version, a client that hangs up) is the client's problem.
  server.on("tlsClientError", (_error: Error, socket: net.Socket) => socket.destroy());
  const bound = await listenOn(server, address);
  return {
    address: bound,
    async close() {
      unsubscribe();
      await closeGracefully(server, sessions, sockets);
    },
  };
}
