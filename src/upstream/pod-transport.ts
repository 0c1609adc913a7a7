import type { Transport } from "@connectrpc/connect";
import { createTransport } from "@connectrpc/connect/protocol-grpc";
import type { Endpoint } from "../balance/endpoint.ts";
import type { UpstreamContext } from "./call-upstream.ts";

/**
 * A connect-es gRPC transport to one pod over the backend's own upstream
 * client, for the gateway's own calls to pods (health checks, reflection):
 * the same HTTP/2 sessions and TLS as proxied calls, so what fails for them
 * fails here too. Binary, uncompressed, the backend's message size limit.
 */
export function podTransport(upstream: UpstreamContext, endpoint: Endpoint): Transport {
  return createTransport({
    httpClient: (request) => upstream.client.request(request),
    baseUrl: `${upstream.scheme}://${endpoint.address}`,
    useBinaryFormat: true,
    interceptors: [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: Number.MAX_SAFE_INTEGER,
    readMaxBytes: upstream.readMaxBytes,
    writeMaxBytes: upstream.readMaxBytes,
  });
}
