import type * as http from "node:http";
import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { h2ResetError } from "./h2-reset-error.ts";

/**
 * A Node request as the gateway's web-standard handler takes it, as
 * connect-node's `universalRequestFromNodeRequest` makes it (same URL,
 * headers without pseudo-headers, the request itself as the body), except for
 * the abort signal's reason. Like connect-node, it aborts whenever the
 * request closes (what is still tied to the call, such as an unread request
 * body, lets go then), but after a call that ended normally it aborts with
 * one shared reason instead of a new DOMException and its stack trace for
 * every call (2% of the gateway's CPU under unary load). A reset HTTP/2
 * stream aborts with its code's status, a connection closed before the
 * answer was complete with Canceled.
 */
export function universalRequestFromNode(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
): UniversalServerRequest {
  const encrypted = "encrypted" in req.socket && req.socket.encrypted === true;
  const authority = authorityOf(req);
  const abort = new AbortController();
  if ("stream" in req) {
    req.once("close", () => {
      const reset = h2ResetError(req.stream.rstCode, "the client");
      abort.abort(
        reset ??
          // A Trailers-Only answer ends the stream itself (`respond(…, { endStream })`), not the response object.
          (res.writableEnded || req.stream.writableEnded ? callEnded : new ConnectError("the client closed the stream before the answer was complete", Code.Canceled)),
      );
    });
  } else {
    req.once("error", (e: Error) => abort.abort(ConnectError.from(e, Code.Aborted)));
    res.once("close", () => {
      abort.abort(
        req.errored !== null
          ? ConnectError.from(req.errored, Code.Aborted)
          : res.writableEnded
            ? callEnded
            : new ConnectError("the client closed the connection before the answer was complete", Code.Canceled),
      );
    });
  }
  return {
    httpVersion: req.httpVersion,
    method: req.method ?? "",
    url: new URL(req.url ?? "", `${encrypted ? "https" : "http"}://${authority ?? ""}`).toString(),
    header: webHeaders(req.headers),
    body: req,
    signal: abort.signal,
  };
}

/** The authority a request names: HTTP/2's `:authority`, else the Host header. */
export function authorityOf(req: http.IncomingMessage | http2.Http2ServerRequest): string | undefined {
  return "authority" in req && typeof req.authority === "string" && req.authority !== "" ? req.authority : req.headers.host;
}

/** Why the signal of a call that was answered in full aborts: one object for every call (nothing reads more than its code). */
const callEnded = Object.freeze(new ConnectError("the call has ended", Code.Canceled));

/** Node's parsed request headers as web Headers, without HTTP/2 pseudo-headers. */
function webHeaders(headers: http.IncomingHttpHeaders): Headers {
  const web = new Headers();
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name.startsWith(":")) {
      continue;
    }
    if (typeof value === "string") {
      web.append(name, value);
    } else {
      for (const one of value) {
        web.append(name, one);
      }
    }
  }
  return web;
}
