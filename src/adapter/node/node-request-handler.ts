import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { NodeRequestHandler } from "./cleartext-listener.ts";

/**
 * Adapts the gateway's web-standard handler to Node's request/response
 * objects with connect-node's own converters (they carry HTTP/2 reset codes
 * into the abort signal and write trailers). Whatever fails here is answered
 * or the stream reset — it never reaches the process.
 */
export function createNodeRequestHandler(
  handle: UniversalHandlerFn,
  onError: (error: unknown) => void,
): NodeRequestHandler {
  return (req, res) => {
    void serve(req, res).catch((error: unknown) => {
      onError(error);
      fail(res);
    });
  };

  async function serve(
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): Promise<void> {
    const request = universalRequestFromNodeRequest(req, res, undefined, undefined);
    const response = await handle(request);
    await universalResponseToNodeResponse(response, res);
  }
}

/** Ends a response that failed: a 500 when nothing was sent yet, else a reset stream. */
function fail(res: http.ServerResponse | http2.Http2ServerResponse): void {
  try {
    if (!res.headersSent) {
      (res as http.ServerResponse).writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      (res as http.ServerResponse).end("internal gateway error\n");
      return;
    }
    if ("stream" in res) {
      res.stream.close(0x2 /* INTERNAL_ERROR */);
    } else {
      res.destroy();
    }
  } catch {
    // the connection is already gone
  }
}
