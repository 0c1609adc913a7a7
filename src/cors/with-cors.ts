import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import { parseRpcPath } from "../protocol/rpc-path.ts";
import { hostOfAuthority } from "../route/match-host.ts";
import type { RouteTable } from "../route/route-table.ts";

/**
 * CORS around the call handler, so that every answer to an allowed origin
 * carries the headers a browser needs to read it, the gateway's own errors
 * included (an unsupported content type, a missing endpoint, a deadline),
 * and no answer on such a route carries CORS headers a pod added itself.
 * Preflights are answered here, from the policy of the route the RPC path
 * and host select; a request without a route or from an origin the route
 * does not allow gets no CORS headers, so the browser blocks it.
 */
export function withCors(handler: UniversalHandlerFn, routes: RouteTable): UniversalHandlerFn {
  return async (req) => {
    const origin = req.header.get("origin");
    if (origin === null) {
      return handler(req);
    }
    const rpc = parseRpcPath(req.url);
    const route =
      rpc === undefined ? undefined : routes.match({ host: hostOfAuthority(new URL(req.url).host), ...rpc });
    const policy = route?.cors !== undefined && route.cors.allows(origin) ? route.cors : undefined;
    if (req.method === "OPTIONS" && req.header.has("access-control-request-method")) {
      return { status: 204, header: policy?.preflightHeaders(origin) ?? new Headers({ vary: "Origin" }) };
    }
    const res = await handler(req);
    if (route?.cors === undefined) {
      return res;
    }
    // On a route with a policy, the policy alone decides: CORS headers a pod
    // set (its own middleware saw the forwarded Origin) must not widen it.
    const header = new Headers(res.header);
    for (const name of [...header.keys()]) {
      if (name.startsWith("access-control-")) header.delete(name);
    }
    if (policy === undefined) {
      header.append("vary", "Origin");
    } else {
      policy.decorate(origin, header);
    }
    return { ...res, header };
  };
}
