/**
 * The host a request names, as routes compare it: lower case, without the
 * port, without the brackets of an IPv6 literal. `authority` is `:authority`
 * or `Host` (`API.example.com:8443`, `[::1]:8080`).
 */
export function hostOfAuthority(authority: string): string {
  const host = authority.startsWith("[")
    ? authority.slice(1, Math.max(1, authority.indexOf("]")))
    : authority.includes(":")
      ? authority.slice(0, authority.indexOf(":"))
      : authority;
  return host.toLowerCase().replace(/\.$/, "");
}

/**
 * Whether `host` (from {@link hostOfAuthority}) matches a route's host
 * pattern: equal, or for `*.example.com` exactly one more label in front
 * (`api.example.com`, not `example.com` nor `a.b.example.com`), as Ingress
 * wildcards and certificate names work.
 */
export function matchesHost(pattern: string, host: string): boolean {
  if (!pattern.startsWith("*.")) {
    return pattern === host;
  }
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot) === pattern.slice(1);
}
