import type { HostPort } from "./gateway-config.ts";

/** Options for {@link parseHostPort}. */
export interface ParseHostPortOptions {
  /**
   * Accept port 0 ("pick a free port"). Only meaningful for addresses we
   * listen on (tests bind port 0); an upstream endpoint can never be port 0.
   */
  readonly allowZero?: boolean;
}

const HOST_PORT_EXAMPLE = "expected host:port, e.g. 127.0.0.1:8080, [::1]:8080 or my-svc.ns.svc.cluster.local:50051";

/**
 * Parses the `host:port` strings used for listener, admin and endpoint
 * addresses in the config file.
 *
 * Config authors write addresses as one string, so this is the single place
 * that decides what such a string may be: an IPv4 literal, a bracketed IPv6
 * literal (returned without brackets, ready for `net.connect`), or a DNS name,
 * followed by a port in 1..65535. Anything else — a missing port, a URL with a
 * scheme, whitespace, an unbracketed IPv6 address — is rejected here with a
 * message that says how to fix it, rather than failing later at bind or
 * connect time with an obscure socket error.
 *
 * @throws Error describing what is wrong with `text`.
 */
export function parseHostPort(text: string, options: ParseHostPortOptions = {}): HostPort {
  if (text === "") throw invalid(text, `empty (${HOST_PORT_EXAMPLE})`);
  if (/\s/.test(text)) throw invalid(text, "must not contain whitespace");
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw invalid(text, `must not have a scheme such as "http://" (${HOST_PORT_EXAMPLE})`);
  }

  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw invalid(text, 'missing "]" after the IPv6 address');
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest === "") throw invalid(text, "missing port (expected [ipv6]:port, e.g. [::1]:8080)");
    if (!rest.startsWith(":")) throw invalid(text, 'expected ":" and a port after "]"');
    if (!isIPv6(host)) throw invalid(text, `"${host}" is not an IPv6 address`);
    portText = rest.slice(1);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw invalid(text, `missing port (${HOST_PORT_EXAMPLE})`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) throw invalid(text, "an IPv6 address must be in brackets, e.g. [::1]:8080");
    if (host === "") throw invalid(text, "missing host (use 0.0.0.0:port or [::]:port for all interfaces)");
    if (!isIPv4OrHostName(host)) throw invalid(text, `"${host}" is not an IPv4 address or a host name`);
  }

  if (portText === "") throw invalid(text, `missing port (${HOST_PORT_EXAMPLE})`);
  if (!/^\d{1,5}$/.test(portText)) throw invalid(text, `port "${portText}" is not a number`);
  const port = Number(portText);
  const min = options.allowZero === true ? 0 : 1;
  if (port < min || port > 65535) throw invalid(text, `port ${port} is out of range (expected ${min}..65535)`);
  return { host, port };
}

/**
 * The inverse of {@link parseHostPort}: `host:port`, an IPv6 host in
 * brackets (`[::1]:8080`), as endpoint identities, DNS server lists and logs
 * write addresses.
 */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function invalid(text: string, problem: string): Error {
  return new Error(`invalid address ${JSON.stringify(text)}: ${problem}`);
}

/** Dotted-quad IPv4 (no leading zeros: `010` is octal to some resolvers), or an RFC 1123 host name. */
function isIPv4OrHostName(host: string): boolean {
  if (/^[\d.]+$/.test(host)) {
    const octets = host.split(".");
    return octets.length === 4 && octets.every((octet) => /^(0|[1-9]\d{0,2})$/.test(octet) && Number(octet) <= 255);
  }
  // One trailing dot marks a fully qualified name (`svc.cluster.local.`): it skips resolver search domains.
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length > 253) return false;
  return name.split(".").every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

/** RFC 4291 text form: eight hex groups, one `::` elision, optional trailing dotted IPv4. */
function isIPv6(text: string): boolean {
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((half) => (half === "" ? [] : half.split(":")));
  let count = groups.length;
  const last = groups.at(-1);
  if (last !== undefined && last.includes(".")) {
    if (!text.endsWith(last) || !/^[\d.]+$/.test(last) || !isIPv4OrHostName(last)) return false;
    groups.pop();
    count += 1; // an embedded IPv4 address fills two groups
  }
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}
