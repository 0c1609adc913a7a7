import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import type { NodeRequestHandler } from "./cleartext-listener.ts";
import { authorityOf, universalRequestFromNode } from "./universal-request.ts";
import { writeUniversalResponse } from "./write-universal-response.ts";

/**
 * Adapts the gateway's web-standard handler to Node's request/response
 * objects: the request through `universalRequestFromNode` (HTTP/2 reset codes
 * into the abort signal), the response through `writeUniversalResponse`
 * (Trailers-Only as one HEADERS frame, headers sent when the pod sends them). Whatever fails here is answered
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
    const invalid = invalidTarget(req);
    if (invalid !== undefined) {
      reject(req, res, invalid);
      return;
    }
    const request = universalRequestFromNode(req, res);
    const response = await handle(request);
    await writeUniversalResponse(response, res);
  }
}

/**
 * Why a request's target or host cannot be used, before connect-node builds
 * its URL as `new URL(path, "http://" + host)`: a path starting with `//`
 * would replace the host (a client could pick the host its call is routed
 * by), and a host that is not a valid URL authority would fail there as an
 * internal error. Both are the client's fault: 400.
 */
function invalidTarget(req: http.IncomingMessage | http2.Http2ServerRequest): string | undefined {
  const path = req.url ?? "";
  if (!path.startsWith("/") || path.startsWith("//")) {
    return `invalid request target ${JSON.stringify(path.slice(0, 100))}: expected an absolute path like /package.Service/Method`;
  }
  const host = authorityOf(req);
  if (host === undefined || host === "") {
    return "missing Host (or :authority): the gateway routes by host";
  }
  try {
    const url = new URL(`http://${host}`);
    if (url.pathname !== "/" || url.search !== "" || url.username !== "" || url.host === "") {
      throw new Error("not a bare authority");
    }
  } catch {
    return `invalid Host ${JSON.stringify(host.slice(0, 100))}: expected host[:port]`;
  }
  return undefined;
}

/**
 * Answers a request the gateway refuses before reading it. Its body is
 * drained (and an HTTP/1.1 connection closed after the answer), so an unread
 * body cannot be taken for the next request on a keep-alive connection.
 */
function reject(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
  message: string,
): void {
  req.resume();
  const body = `${message}\n`;
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
  };
  if (!("stream" in res)) {
    headers.connection = "close";
  }
  (res as http.ServerResponse).writeHead(400, headers);
  (res as http.ServerResponse).end(body);
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
