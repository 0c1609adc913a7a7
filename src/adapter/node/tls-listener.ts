import type * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import * as tls from "node:tls";
import type { HostPort } from "../../config/gateway-config.ts";
import type { CertificateSelector, StoredCertificate } from "../../tls/certificate-store.ts";
import { createClientConnections, http1Options, http2Settings, limitConnections, limitHeaderList } from "./client-connections.ts";
import { DEFAULT_CLOSE_GRACE_MS, type NodeListener, type NodeListenOptions, type NodeRequestHandler } from "./cleartext-listener.ts";
import { listenOn } from "./listen-on.ts";

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
 *
 * Limits as on the cleartext listener; the TLS handshake itself must end
 * within `headersTimeoutMs` too.
 */
export async function listenTls(
  address: HostPort,
  handler: NodeRequestHandler,
  certificates: CertificateSelector,
  options: NodeListenOptions,
): Promise<NodeListener> {
  const { limits } = options;
  const connections = createClientConnections(limits);
  const contexts = new WeakMap<StoredCertificate, tls.SecureContext>();
  const contextFor = (certificate: StoredCertificate): tls.SecureContext => {
    let context = contexts.get(certificate);
    if (context === undefined) {
      context = tls.createSecureContext({ cert: certificate.certPem, key: certificate.keyPem, minVersion: MIN_VERSION });
      contexts.set(certificate, context);
    }
    return context;
  };
  const serverOptions: http2.SecureServerOptions & http.ServerOptions = {
    allowHTTP1: true,
    ALPNProtocols: ["h2", "http/1.1"],
    minVersion: MIN_VERSION,
    handshakeTimeout: limits.headersTimeoutMs,
    settings: http2Settings(limits),
    // The HTTP/1.1 fallback takes the HTTP/1.1 server's options.
    ...http1Options(limits),
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
  };
  const server = http2.createSecureServer(serverOptions);
  server.on("request", (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (!("stream" in res)) {
      connections.request(req as http.IncomingMessage, res);
    }
  });
  server.on("request", limitHeaderList(handler, limits));
  const useDefault = () => {
    const first = certificates.select(undefined);
    if (first !== undefined) {
      server.setSecureContext({ cert: first.certPem, key: first.keyPem, minVersion: MIN_VERSION });
    }
  };
  useDefault();
  const unsubscribe = certificates.subscribe(useDefault);

  server.on("connection", (socket: net.Socket) => {
    connections.accepted(socket);
    if (connections.closing) {
      socket.destroy();
    }
  });
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    options.onTlsHandshake?.("ok");
    connections.accepted(socket);
    socket.setNoDelay(true);
    if (socket.alpnProtocol !== "h2") {
      connections.http1(socket);
    }
  });
  server.on("session", (session: http2.ServerHttp2Session) => connections.session(session));
  // A failed handshake (no shared cipher, an old protocol version, a client that hangs up, or one too slow) is the client's problem.
  server.on("tlsClientError", (_error: Error, socket: net.Socket) => {
    options.onTlsHandshake?.("failed");
    socket.destroy();
  });
  let bound: HostPort = address;
  limitConnections(server, () => bound, limits, options.log);
  bound = await listenOn(server, address);
  return {
    address: bound,
    async close(gracePeriodMs = DEFAULT_CLOSE_GRACE_MS) {
      unsubscribe();
      await connections.close(server, gracePeriodMs);
    },
  };
}
