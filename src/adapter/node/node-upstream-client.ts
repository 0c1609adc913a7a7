import { createNodeHttpClient } from "@connectrpc/connect-node";
import type { UpstreamClient } from "../../upstream/upstream-client.ts";
import { defaultSessionPoolOptions, EndpointSessions, type SessionPoolOptions } from "./http2-session-pool.ts";

/**
 * The upstream client on Node: connect-node's HTTP/2 universal client (it
 * maps RST_STREAM codes and socket errors to statuses and reads trailers),
 * given our per-endpoint session pool through its `sessionProvider` option.
 * That option is marked `@private` in connect-node, so the package version is
 * pinned exactly and `node-upstream-client.spec.ts` covers the contract.
 */
export function createNodeUpstreamClient(options: SessionPoolOptions = defaultSessionPoolOptions): UpstreamClient & {
  sessions(origin: string): EndpointSessions | undefined;
} {
  const pools = new Map<string, EndpointSessions>();
  function pool(origin: string): EndpointSessions {
    let sessions = pools.get(origin);
    if (sessions === undefined) {
      sessions = new EndpointSessions(origin, options);
      pools.set(origin, sessions);
    }
    return sessions;
  }
  const request = createNodeHttpClient({
    httpVersion: "2",
    sessionProvider: (url) => pool(new URL(url).origin),
  });
  return {
    request,
    sessions: (origin) => pools.get(origin),
    retire(origin) {
      const sessions = pools.get(origin);
      if (sessions !== undefined) {
        pools.delete(origin);
        sessions.retire();
      }
    },
    close() {
      for (const sessions of pools.values()) {
        sessions.close();
      }
      pools.clear();
    },
  };
}
