/**
 * The pure half of Ingress support: Kubernetes Ingress resources in, an ordered
 * route list out. No I/O and no watching, so whoever wires the watches can call
 * this on every change and swap the result in whole, and the rules below can be
 * tested on plain objects.
 *
 * The semantics follow the `networking.k8s.io/v1` Ingress spec (host and path
 * matching) and ingress-nginx (precedence between overlapping rules), because
 * that is what operators moving from Traefik or nginx expect an Ingress to mean.
 */
import type { V1Ingress, V1IngressBackend, V1Service } from "@kubernetes/client-node";
import { matchesHost } from "../route/match-host.ts";

/** How an RPC path is matched, as Ingress pathType says. */
export interface IngressPathMatch {
  readonly type: "Exact" | "Prefix";
  readonly path: string;
}

/**
 * A backend an Ingress names: a Service port in a namespace. `port` is the
 * EndpointSlice port NAME to use ("" for an unnamed port), resolved from the
 * Ingress's port name or, for a port number, through the Service's spec.ports.
 */
export interface IngressBackendRef {
  /** "ns/service:port", a stable identity (two routes to the same port share one backend). */
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: string;
}

export interface IngressRoute {
  /** Lower-case host, "*.example.com" wildcard, or undefined (any host). */
  readonly host: string | undefined;
  readonly path: IngressPathMatch;
  readonly backend: IngressBackendRef;
  /** "namespace/name" of the Ingress, for logs and the admin page. */
  readonly source: string;
}

export interface IngressTls {
  readonly namespace: string;
  readonly secretName: string;
  readonly hosts: readonly string[];
  readonly source: string;
}

export interface IngressTranslation {
  /** In match order: first match wins. */
  readonly routes: readonly IngressRoute[];
  readonly tls: readonly IngressTls[];
  /**
   * Problems an operator should see (a port number the Service does not have, a
   * Service not found yet, a resource backend, ...), one line each naming the Ingress.
   */
  readonly problems: readonly string[];
}

/** The legacy (pre-`ingressClassName`) way to claim an Ingress, still honoured by controllers. */
const legacyClassAnnotation = "kubernetes.io/ingress.class";

/** One of our Ingresses with what the tie-break needs, computed once. */
interface Claimed {
  readonly ingress: V1Ingress;
  readonly namespace: string;
  readonly source: string;
  readonly created: number;
}

/** A rule path before its backend is resolved, with everything the ordering needs. */
interface Candidate {
  readonly owner: Claimed;
  readonly host: string | undefined;
  readonly hostClass: number;
  readonly path: IngressPathMatch;
  /** The path as matching sees it (Prefix without its trailing "/"): equal keys match the same requests. */
  readonly normalized: string;
  readonly backend: V1IngressBackend;
  /** Rule index, then path index: the order the operator wrote. */
  readonly position: readonly [number, number];
}

/**
 * Translates the Ingresses of class `className` into routes in match order, TLS
 * entries and problem lines. `service` looks up a Service already known to the
 * caller; it is only needed for backends that name a port by number, since
 * EndpointSlices name ports by the Service port's name, not its number.
 *
 * Route order (first match wins) is ingress-nginx's precedence, made total so
 * the same input always gives the same list: exact hosts, then wildcard hosts,
 * then no host; within one host, Exact paths before Prefix, longer prefixes
 * before shorter; ties by Ingress creation time, then namespace/name, then the
 * order of rules and paths. A rule path claimed twice (same host, type and
 * path, a trailing "/" on a Prefix ignored) keeps the first by that order, even
 * when its backend does not resolve, so which Ingress owns a path never hinges
 * on whether a Service exists yet. `spec.defaultBackend` routes come last.
 */
export function translateIngresses(
  ingresses: readonly V1Ingress[],
  className: string,
  service: (namespace: string, name: string) => V1Service | undefined,
): IngressTranslation {
  const problems: string[] = [];
  const owned = ingresses
    .filter((ingress) => isOurs(ingress, className))
    .map(claim)
    .sort(compareOwners);

  const candidates: Candidate[] = [];
  for (const owner of owned) {
    candidates.push(...ruleCandidates(owner, problems));
  }
  candidates.sort(compareCandidates);

  const routes: IngressRoute[] = [];
  const claimedBy = new Map<string, string>();
  for (const candidate of candidates) {
    const key = `${candidate.host ?? ""} ${candidate.path.type} ${candidate.normalized}`;
    const first = claimedBy.get(key);
    if (first !== undefined) {
      problems.push(
        `ingress ${candidate.owner.source}: ${describePath(candidate)} is already routed by ingress ${first}; ignored`,
      );
      continue;
    }
    claimedBy.set(key, candidate.owner.source);
    const backend = resolveBackend(candidate.owner, candidate.backend, service, describePath(candidate), problems);
    if (backend !== undefined) {
      routes.push({ host: candidate.host, path: candidate.path, backend, source: candidate.owner.source });
    }
  }

  // Default backends are the fallback of last resort, so they go after every
  // rule route; only one can ever match, so the others are reported.
  let defaultSource: string | undefined;
  for (const owner of owned) {
    const backend = owner.ingress.spec?.defaultBackend;
    if (backend === undefined) {
      continue;
    }
    if (defaultSource !== undefined) {
      problems.push(`ingress ${owner.source}: default backend ignored, ingress ${defaultSource} already sets one`);
      continue;
    }
    defaultSource = owner.source;
    const resolved = resolveBackend(owner, backend, service, "default backend", problems);
    if (resolved !== undefined) {
      routes.push({ host: undefined, path: { type: "Prefix", path: "/" }, backend: resolved, source: owner.source });
    }
  }

  const tls: IngressTls[] = [];
  for (const owner of owned) {
    for (const [index, entry] of (owner.ingress.spec?.tls ?? []).entries()) {
      const hosts = (entry.hosts ?? []).map((host) => host.toLowerCase());
      if (entry.secretName === undefined || entry.secretName === "") {
        problems.push(`ingress ${owner.source}: tls[${index}] (${hosts.join(", ") || "no hosts"}) has no secretName; ignored`);
        continue;
      }
      tls.push({ namespace: owner.namespace, secretName: entry.secretName, hosts, source: owner.source });
    }
  }

  return { routes, tls, problems };
}

/**
 * Whether a request path matches, as the Ingress spec defines it. Exact: the
 * same string (case-sensitive, so "/foo" is not "/foo/"). Prefix: element-wise
 * by "/", a trailing "/" on the rule ignored, so "/foo" matches "/foo",
 * "/foo/" and "/foo/bar" but not "/foobar", and "/" matches every path. For
 * RPC paths that means a Prefix "/pkg.Service" selects every method of it.
 * `path` is the request path without a query string.
 */
export function matchesIngressPath(match: IngressPathMatch, path: string): boolean {
  if (match.type === "Exact") {
    return path === match.path;
  }
  const prefix = trimTrailingSlashes(match.path);
  return prefix === "" || path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Whether a request host (already lower-cased, port stripped) matches a route
 * host. No route host matches any host; a wildcard "*.foo.com" matches exactly
 * one more DNS label ("bar.foo.com", not "foo.com" nor "baz.bar.foo.com"), as
 * the Ingress spec says; any other host must be equal.
 */
export function matchesIngressHost(routeHost: string | undefined, host: string): boolean {
  return routeHost === undefined || matchesHost(routeHost, host);
}

/**
 * `spec.ingressClassName` decides when set; only without it does the legacy
 * annotation count, as the Ingress spec says (the field supersedes it).
 */
function isOurs(ingress: V1Ingress, className: string): boolean {
  const fieldClass = ingress.spec?.ingressClassName;
  if (fieldClass !== undefined && fieldClass !== "") {
    return fieldClass === className;
  }
  return ingress.metadata?.annotations?.[legacyClassAnnotation] === className;
}

function claim(ingress: V1Ingress): Claimed {
  const namespace = ingress.metadata?.namespace ?? "default";
  const source = `${namespace}/${ingress.metadata?.name ?? ""}`;
  // The typed client gives a Date; a raw JSON object gives an RFC 3339 string.
  // Either way an unknown time sorts last, so a known older Ingress keeps its paths.
  const timestamp = ingress.metadata?.creationTimestamp as Date | string | undefined;
  const millis = timestamp === undefined ? Number.NaN : new Date(timestamp).getTime();
  return { ingress, namespace, source, created: Number.isNaN(millis) ? Number.POSITIVE_INFINITY : millis };
}

/** The tie-break between Ingresses: older first, then by namespace/name. */
function compareOwners(a: Claimed, b: Claimed): number {
  if (a.created !== b.created) {
    return a.created < b.created ? -1 : 1;
  }
  return compareStrings(a.source, b.source);
}

function ruleCandidates(owner: Claimed, problems: string[]): Candidate[] {
  const candidates: Candidate[] = [];
  for (const [ruleIndex, rule] of (owner.ingress.spec?.rules ?? []).entries()) {
    const host = rule.host === undefined || rule.host === "" ? undefined : rule.host.toLowerCase();
    const hostClass = host === undefined ? 2 : host.startsWith("*.") ? 1 : 0;
    for (const [pathIndex, httpPath] of (rule.http?.paths ?? []).entries()) {
      const path = httpPath.path === undefined || httpPath.path === "" ? "/" : httpPath.path;
      const type = pathType(httpPath.pathType);
      if (type === undefined) {
        problems.push(
          `ingress ${owner.source}: ${path} on ${host ?? "any host"} has unknown pathType ${JSON.stringify(httpPath.pathType)}; ignored`,
        );
        continue;
      }
      candidates.push({
        owner,
        host,
        hostClass,
        path: { type, path },
        normalized: type === "Prefix" ? trimTrailingSlashes(path) : path,
        backend: httpPath.backend,
        position: [ruleIndex, pathIndex],
      });
    }
  }
  return candidates;
}

/**
 * ImplementationSpecific is ours to define: we make it Prefix, the reading
 * Traefik and most controllers give a plain path. A missing pathType (only
 * possible in objects converted from older APIs) defaulted to
 * ImplementationSpecific in `v1beta1`, so it is Prefix too.
 */
function pathType(value: string | undefined): "Exact" | "Prefix" | undefined {
  switch (value) {
    case "Exact":
      return "Exact";
    case "Prefix":
    case "ImplementationSpecific":
    case undefined:
    case "":
      return "Prefix";
    default:
      return undefined;
  }
}

function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    a.hostClass - b.hostClass ||
    compareStrings(a.host ?? "", b.host ?? "") ||
    (a.path.type === b.path.type ? 0 : a.path.type === "Exact" ? -1 : 1) ||
    b.normalized.length - a.normalized.length ||
    compareOwners(a.owner, b.owner) ||
    a.position[0] - b.position[0] ||
    a.position[1] - b.position[1]
  );
}

/**
 * The EndpointSlice port name of a backend, or undefined with a problem line.
 * A port number goes through the Service in the Ingress's namespace (backends
 * cannot cross namespaces): its TCP spec.ports entry with that `port` gives
 * the name, "" when the Service's only port is unnamed.
 */
function resolveBackend(
  owner: Claimed,
  backend: V1IngressBackend,
  service: (namespace: string, name: string) => V1Service | undefined,
  what: string,
  problems: string[],
): IngressBackendRef | undefined {
  const target = backend.service;
  if (target === undefined) {
    const kind = backend.resource === undefined ? "no backend" : `resource backend ${backend.resource.kind}/${backend.resource.name}`;
    problems.push(`ingress ${owner.source}: ${what} has ${kind}, only Service backends are supported; ignored`);
    return undefined;
  }
  const namespace = owner.namespace;
  const portName = target.port?.name;
  const portNumber = target.port?.number;
  let port: string;
  if (portName !== undefined && portName !== "") {
    port = portName;
  } else if (portNumber !== undefined) {
    const found = service(namespace, target.name);
    if (found === undefined) {
      problems.push(`ingress ${owner.source}: ${what}: service ${namespace}/${target.name} not found (yet); ignored`);
      return undefined;
    }
    const servicePort = found.spec?.ports?.find(
      (candidate) => candidate.port === portNumber && (candidate.protocol ?? "TCP") === "TCP",
    );
    if (servicePort === undefined) {
      problems.push(
        `ingress ${owner.source}: ${what}: service ${namespace}/${target.name} has no TCP port ${portNumber}; ignored`,
      );
      return undefined;
    }
    port = servicePort.name ?? "";
  } else {
    problems.push(`ingress ${owner.source}: ${what}: service ${target.name} names no port; ignored`);
    return undefined;
  }
  return { key: `${namespace}/${target.name}:${port}`, namespace, service: target.name, port };
}

function describePath(candidate: Candidate): string {
  return `${candidate.path.type} ${candidate.path.path} on ${candidate.host ?? "any host"}`;
}

function trimTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") {
    end -= 1;
  }
  return path.slice(0, end);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
