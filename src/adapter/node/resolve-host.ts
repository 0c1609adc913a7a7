import * as dns from "node:dns";
import { isIP } from "node:net";
import type { HostPort } from "../../config/gateway-config.ts";
import { formatHostPort } from "../../config/parse-host-port.ts";
import type { HostResolver } from "../../runtime.ts";

/** Per query: one retry, two seconds each, so a dead DNS server costs a refresh a few seconds, not half a minute. */
const RESOLVER_OPTIONS = { timeout: 2_000, tries: 2 };

/**
 * A and AAAA lookups with c-ares (every record, as a headless Service has
 * one per pod; getaddrinfo would hide all but a few). A family without
 * records (ENODATA) adds nothing; any other failure fails the lookup, so the
 * source keeps its last good set rather than half of it. A name unknown to
 * DNS but listed in /etc/hosts (localhost, say) falls back to the system's
 * lookup when no servers are configured.
 */
export const resolveHost: HostResolver = async (host, servers) => {
  if (isIP(host) !== 0) {
    return [host];
  }
  const resolver = resolverFor(servers);
  const results = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses: string[] = [];
  let unknown = 0;
  for (const result of results) {
    if (result.status === "fulfilled") {
      addresses.push(...result.value);
      continue;
    }
    const code = (result.reason as NodeJS.ErrnoException).code;
    if (code === dns.NOTFOUND) {
      unknown++;
    } else if (code !== dns.NODATA) {
      throw new Error(`${host}: ${code ?? String(result.reason)}`);
    }
  }
  if (unknown === 2) {
    if (servers === undefined) {
      const fromHosts = await dns.promises.lookup(host, { all: true }).catch(() => []);
      if (fromHosts.length > 0) return fromHosts.map((entry) => entry.address);
    }
    throw new Error(`${host}: no such name (NXDOMAIN)`);
  }
  return addresses;
};

/**
 * One long-lived resolver per server list. A resolver made per lookup can be
 * garbage collected while its query is pending, and then the query's
 * promise never settles (seen under load: the refresh loop stalled).
 */
const resolvers = new Map<string, dns.promises.Resolver>();

function resolverFor(servers: readonly HostPort[] | undefined): dns.promises.Resolver {
  const key = servers?.map(formatHostPort).join(",") ?? "";
  let resolver = resolvers.get(key);
  if (resolver === undefined) {
    resolver = new dns.promises.Resolver(RESOLVER_OPTIONS);
    if (servers !== undefined) {
      resolver.setServers(servers.map(formatHostPort));
    }
    resolvers.set(key, resolver);
  }
  return resolver;
}

