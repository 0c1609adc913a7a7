import type { ConfigPath } from "./config-error.ts";
import {
  defaultsOnly,
  describeType,
  fail,
  optional,
  readArray,
  readInteger,
  readObject,
  readOneOf,
  readParsed,
  readString,
  required,
  withDefault,
  type Reader,
} from "./config-reader.ts";
import type {
  AdminConfig,
  BackendConfig,
  BalancerName,
  DiscoveryConfig,
  CertificateFiles,
  CorsConfig,
  GatewayConfig,
  IngressConfig,
  KubernetesConfig,
  AccessLogConfig,
  HealthCheckConfig,
  KeepaliveConfig,
  ListenerTlsConfig,
  OutlierDetectionConfig,
  RetryConfig,
  SchemasConfig,
  ShutdownConfig,
  UpstreamTlsConfig,
  LimitsConfig,
  ListenerConfig,
  RouteConfig,
} from "./gateway-config.ts";
import { parseDuration } from "./parse-duration.ts";
import { parseHostPort } from "./parse-host-port.ts";

/** Default for `limits.maxMessageBytes`: 4 MiB, gRPC's customary default. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const BALANCERS: readonly BalancerName[] = ["round_robin", "least_request"];
const BACKEND_NAME = /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/i;
const IDENTIFIER = "[A-Za-z_][A-Za-z0-9_]*";
const FULL_SERVICE_NAME = new RegExp(`^${IDENTIFIER}(\\.${IDENTIFIER})*$`);
const PACKAGE_PREFIX = new RegExp(`^(${IDENTIFIER}\\.)+$`);

/** Listeners may bind port 0 (tests ask the OS for a free port). */
const readListenAddress = readParsed((text) => parseHostPort(text, { allowZero: true }));
/** Endpoints are dialled, so port 0 is meaningless. */
const readEndpoint = readParsed((text) => parseHostPort(text));

const readCertificateFiles: Reader<CertificateFiles> = (value, path) =>
  readObject(value, path, { certFile: required(readNonEmptyString), keyFile: required(readNonEmptyString) });

const readListener: Reader<ListenerConfig> = (value, path) =>
  readObject(value, path, {
    address: required(readListenAddress),
    tls: optional<ListenerTlsConfig>((tls, tlsPath) =>
      readObject(tls, tlsPath, { certificates: withDefault(readArray(readCertificateFiles), []) }),
    ),
  });

const readAdmin: Reader<AdminConfig> = (value, path) =>
  readObject(value, path, { address: required(readListenAddress) });

const readServiceName: Reader<string> = (value, path) => {
  const name = readString(value, path);
  if (FULL_SERVICE_NAME.test(name) || PACKAGE_PREFIX.test(name)) return name;
  return fail(
    path,
    `${JSON.stringify(name)} is neither a full service name (like greet.v1.GreetService) ` +
      `nor a package prefix ending in "." (like shop.v1.)`,
  );
};

/** A host to route: a DNS name, or `*.` and a name (exactly one more label); stored lower case. */
const readRouteHost: Reader<string> = (value, path) => {
  const host = readString(value, path).toLowerCase();
  if (/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(host)) return host;
  return fail(path, `${JSON.stringify(host)} is not a host name (like api.example.com or *.example.com, without a port)`);
};

const readMethodName: Reader<string> = (value, path) => {
  const name = readString(value, path);
  if (new RegExp(`^${IDENTIFIER}$`).test(name)) return name;
  return fail(path, `${JSON.stringify(name)} is not a method name (like Greet)`);
};

/** An origin a browser sends: scheme, host (`*.` allowed for any subdomain), optional port; or `*`. */
const readOrigin: Reader<string> = (value, path) => {
  const origin = readString(value, path).toLowerCase();
  if (origin === "*" || /^https?:\/\/(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?$/.test(origin)) return origin;
  return fail(path, `${JSON.stringify(origin)} is not an origin (like https://app.example.com, https://*.example.com or *)`);
};

const readHeaderName: Reader<string> = (value, path) => {
  const name = readString(value, path);
  if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return name.toLowerCase();
  return fail(path, `${JSON.stringify(name)} is not an HTTP header name`);
};

const readCors: Reader<CorsConfig> = (value, path) =>
  readObject(value, path, {
    allowedOrigins: required(readArray(readOrigin, { nonEmpty: true })),
    allowedHeaders: withDefault(readArray(readHeaderName), []),
    exposedHeaders: withDefault(readArray(readHeaderName), []),
    maxAgeSeconds: withDefault(readInteger({ min: 0, max: 86_400 }), 7_200),
  });

const readRoute: Reader<RouteConfig> = (value, path) => {
  const route = readObject(value, path, {
    hosts: optional(readArray(readRouteHost, { nonEmpty: true })),
    services: optional(readArray(readServiceName, { nonEmpty: true })),
    methods: optional(readArray(readMethodName, { nonEmpty: true })),
    backend: required(readString),
    cors: optional(readCors),
    defaultTimeout: optional(readParsed(parseDuration)),
    maxTimeout: optional(readParsed(parseDuration)),
  });
  const { defaultTimeout, maxTimeout, ...rest } = route;
  return { ...rest, defaultTimeoutMs: defaultTimeout, maxTimeoutMs: maxTimeout };
};

const readBackendName: Reader<string> = (value, path) => {
  const name = readString(value, path);
  if (BACKEND_NAME.test(name)) return name;
  return fail(
    path,
    `${JSON.stringify(name)} is not a valid backend name (letters, digits, "-", "_" and "."; ` +
      `starting and ending with a letter or digit)`,
  );
};

const readNonEmptyString: Reader<string> = (value, path) => {
  const text = readString(value, path);
  return text === "" ? fail(path, "must not be empty") : text;
};

const readBoolean: Reader<boolean> = (value, path) =>
  typeof value === "boolean" ? value : fail(path, `expected true or false, got ${describeType(value)}`);

/** A Kubernetes object name (RFC 1123 subdomain), as IngressClasses have. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** A Kubernetes object name (RFC 1123 label), as namespaces and Services have. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A port name in a Service / EndpointSlice (IANA_SVC_NAME-like: lower case, digits, "-"). */
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
/** A DNS name or IP literal to resolve. */
const HOST_NAME = /^[A-Za-z0-9_]([-A-Za-z0-9_.]*[A-Za-z0-9_.])?$|^[0-9a-fA-F:.]+$/;

function readMatching(pattern: RegExp, what: string): Reader<string> {
  return (value, path) => {
    const text = readString(value, path);
    return pattern.test(text) ? text : fail(path, `${JSON.stringify(text)} is not ${what}`);
  };
}

const readPortRef: Reader<string | number> = (value, path) =>
  typeof value === "number"
    ? readInteger({ min: 1, max: 65535 })(value, path)
    : readMatching(PORT_NAME, 'a port name (lower-case letters, digits and "-", like grpc) or a port number')(value, path);

/** Reads seconds (fractions allowed) into milliseconds. */
function readSeconds(bounds: { readonly min: number; readonly max: number }): Reader<number> {
  return (value, path) => {
    if (typeof value !== "number" || !Number.isFinite(value)) return fail(path, `expected a number of seconds, got ${describeType(value)}`);
    if (value < bounds.min || value > bounds.max) return fail(path, `must be between ${bounds.min} and ${bounds.max} seconds, got ${value}`);
    return Math.round(value * 1000);
  };
}

/** A DNS server: `ip:port`, `[ipv6]:port`, or an IPv4 address alone for port 53. */
const readDnsServer = readParsed((text) => parseHostPort(text.includes(":") ? text : `${text}:53`));

/** One reader per discovery source. */
const DISCOVERY_SOURCES = {
  static: optional<DiscoveryConfig>((value, path) => ({
    kind: "static",
    endpoints: readObject(value, path, { endpoints: required(readArray(readEndpoint, { nonEmpty: true })) })
      .endpoints,
  })),
  kubernetes: optional<DiscoveryConfig>((value, path) => ({
    kind: "kubernetes",
    ...readObject(value, path, {
      namespace: optional(readMatching(DNS_LABEL, "a Kubernetes namespace name")),
      service: required(readMatching(DNS_LABEL, "a Kubernetes Service name")),
      port: required(readPortRef),
    }),
  })),
  dns: optional<DiscoveryConfig>((value, path) => {
    const dns = readObject(value, path, {
      host: required(readMatching(HOST_NAME, "a DNS name")),
      port: required(readInteger({ min: 1, max: 65535 })),
      refreshSeconds: withDefault(readSeconds({ min: 0.05, max: 86_400 }), 5_000),
      servers: optional(readArray(readDnsServer, { nonEmpty: true })),
    });
    return { kind: "dns", host: dns.host, port: dns.port, refreshMs: dns.refreshSeconds, servers: dns.servers };
  }),
};

const readDiscovery: Reader<DiscoveryConfig> = (value, path) => {
  const sources = readObject(value, path, DISCOVERY_SOURCES);
  const present = Object.entries(sources).filter((entry): entry is [string, DiscoveryConfig] => entry[1] !== undefined);
  const [first, second] = present;
  if (first === undefined) {
    return fail(path, `expected exactly one discovery source (one of: ${Object.keys(DISCOVERY_SOURCES).join(", ")})`);
  }
  if (second !== undefined) {
    return fail(path, `expected exactly one discovery source, got ${present.map(([name]) => name).join(", ")}`);
  }
  return first[1];
};

const readUpstreamTls: Reader<UpstreamTlsConfig> = (value, path) =>
  readObject(value, path, {
    caFile: optional(readNonEmptyString),
    serverName: optional(readMatching(HOST_NAME, "a DNS name")),
    insecureSkipVerify: withDefault(readBoolean, false),
  });

/** Defaults of `backends[].schemas`: reflection on first need, refreshed every five minutes. */
export const DEFAULT_SCHEMAS: SchemasConfig = {
  reflection: true,
  descriptorSets: [],
  refreshMs: 300_000,
  ignoreUnknownJsonFields: false,
};

const readSchemas: Reader<SchemasConfig> = (value, path) => {
  const schemas = readObject(value, path, {
    reflection: withDefault(readBoolean, DEFAULT_SCHEMAS.reflection),
    descriptorSets: withDefault(readArray(readNonEmptyString), []),
    refreshSeconds: withDefault(readSeconds({ min: 1, max: 86_400 }), DEFAULT_SCHEMAS.refreshMs),
    ignoreUnknownJsonFields: withDefault(readBoolean, DEFAULT_SCHEMAS.ignoreUnknownJsonFields),
  });
  return {
    reflection: schemas.reflection,
    descriptorSets: schemas.descriptorSets,
    refreshMs: schemas.refreshSeconds,
    ignoreUnknownJsonFields: schemas.ignoreUnknownJsonFields,
  };
};

const readBackend: Reader<BackendConfig> = (value, path) =>
  readObject(value, path, {
    name: required(readBackendName),
    balancer: withDefault(readOneOf(BALANCERS), "round_robin"),
    discovery: required(readDiscovery),
    tls: optional(readUpstreamTls),
    schemas: defaultsOnly(readSchemas),
    healthCheck: optional(readHealthCheck),
    outlierDetection: defaultsOnly(readOutlierDetection),
    retry: defaultsOnly(readRetry),
    keepalive: defaultsOnly(readKeepalive),
  });

const readIngress: Reader<IngressConfig> = (value, path) =>
  readObject(value, path, {
    className: required(readMatching(DNS_SUBDOMAIN, "an IngressClass name")),
    namespaces: optional(readArray(readMatching(DNS_LABEL, "a Kubernetes namespace name"), { nonEmpty: true })),
  });

const readKubernetes: Reader<KubernetesConfig> = (value, path) =>
  readObject(value, path, { kubeconfig: optional(readNonEmptyString), ingress: optional(readIngress) });

/** A duration string (`500ms`, `5s`, `2m`, `1h`) in milliseconds. */
const readDuration = readParsed(parseDuration);

const readLimits: Reader<LimitsConfig> = (value, path) => {
  const limits = readObject(value, path, {
    maxMessageBytes: withDefault(readInteger({ min: 1 }), DEFAULT_MAX_MESSAGE_BYTES),
    maxHeaderListBytes: withDefault(readInteger({ min: 1024 }), 16_384),
    maxConcurrentStreams: withDefault(readInteger({ min: 1, max: 2 ** 31 - 1 }), 100),
    maxConnections: withDefault(readInteger({ min: 1 }), 10_000),
    headersTimeout: withDefault(readDuration, 10_000),
    idleTimeout: withDefault(readDuration, 300_000),
  });
  return {
    maxMessageBytes: limits.maxMessageBytes,
    maxHeaderListBytes: limits.maxHeaderListBytes,
    maxConcurrentStreams: limits.maxConcurrentStreams,
    maxConnections: limits.maxConnections,
    headersTimeoutMs: limits.headersTimeout,
    idleTimeoutMs: limits.idleTimeout,
  };
};

const readAccessLog: Reader<AccessLogConfig> = (value, path) =>
  readObject(value, path, {
    enabled: withDefault(readBoolean, true),
    sampleRate: withDefault((v, p) => {
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) return fail(p, `expected a number from 0 to 1, got ${JSON.stringify(v)}`);
      return v;
    }, 1),
  });

const readShutdown: Reader<ShutdownConfig> = (value, path) => ({
  gracePeriodMs: readObject(value, path, { gracePeriod: withDefault(readDuration, 30_000) }).gracePeriod,
});

const readHealthCheck: Reader<HealthCheckConfig> = (value, path) => {
  const check = readObject(value, path, {
    interval: withDefault(readDuration, 5_000),
    timeout: withDefault(readDuration, 1_000),
    unhealthyThreshold: withDefault(readInteger({ min: 1 }), 2),
    healthyThreshold: withDefault(readInteger({ min: 1 }), 1),
    service: withDefault(readString, ""),
  });
  return {
    intervalMs: check.interval,
    timeoutMs: check.timeout,
    unhealthyThreshold: check.unhealthyThreshold,
    healthyThreshold: check.healthyThreshold,
    service: check.service,
  };
};

/** Defaults of `backends[].outlierDetection`. */
export const DEFAULT_OUTLIER_DETECTION: OutlierDetectionConfig = {
  consecutiveFailures: 5,
  baseEjectionTimeMs: 10_000,
  maxEjectionPercent: 50,
};

const readOutlierDetection: Reader<OutlierDetectionConfig> = (value, path) => {
  const outliers = readObject(value, path, {
    consecutiveFailures: withDefault(readInteger({ min: 1 }), DEFAULT_OUTLIER_DETECTION.consecutiveFailures),
    baseEjectionTime: withDefault(readDuration, DEFAULT_OUTLIER_DETECTION.baseEjectionTimeMs),
    maxEjectionPercent: withDefault(readInteger({ min: 0, max: 100 }), DEFAULT_OUTLIER_DETECTION.maxEjectionPercent),
  });
  return {
    consecutiveFailures: outliers.consecutiveFailures,
    baseEjectionTimeMs: outliers.baseEjectionTime,
    maxEjectionPercent: outliers.maxEjectionPercent,
  };
};

/** Defaults of `backends[].retry`. */
export const DEFAULT_RETRY: RetryConfig = { budgetPercent: 20, minRetriesPerSecond: 10 };

const readRetry: Reader<RetryConfig> = (value, path) =>
  readObject(value, path, {
    budgetPercent: withDefault(readInteger({ min: 0, max: 100 }), DEFAULT_RETRY.budgetPercent),
    minRetriesPerSecond: withDefault(readInteger({ min: 0 }), DEFAULT_RETRY.minRetriesPerSecond),
  });

/** Defaults of `backends[].keepalive`: gRPC servers' default permitted PING interval, and gRPC's default PING timeout. */
export const DEFAULT_KEEPALIVE: KeepaliveConfig = { intervalMs: 300_000, timeoutMs: 20_000 };

/** A keepalive duration: 0 would PING without pause (or give up on every PING at once). */
const readKeepaliveDuration: Reader<number> = (value, path) => {
  const ms = readDuration(value, path);
  return ms >= 10 ? ms : fail(path, `expected at least 10ms, got ${JSON.stringify(value)}`);
};

const readKeepalive: Reader<KeepaliveConfig> = (value, path) => {
  const keepalive = readObject(value, path, {
    interval: withDefault(readKeepaliveDuration, DEFAULT_KEEPALIVE.intervalMs),
    timeout: withDefault(readKeepaliveDuration, DEFAULT_KEEPALIVE.timeoutMs),
  });
  return { intervalMs: keepalive.interval, timeoutMs: keepalive.timeout };
};

/**
 * Checks a parsed-but-untrusted configuration (e.g. the result of parsing
 * YAML) key by key and returns it with every default filled.
 *
 * Validation happens once, at startup, so the rest of the gateway can rely on
 * the {@link GatewayConfig} types instead of re-checking, and so a typo in a
 * key fails loudly instead of being silently ignored. Cross-references are
 * checked too: routes must name defined backends, backend names are unique.
 *
 * @throws ConfigError naming the first offending key path.
 */
export function validateConfig(raw: unknown): GatewayConfig {
  const root: ConfigPath = [];
  const config = readObject(raw, root, {
    listeners: required(readArray(readListener, { nonEmpty: true })),
    admin: optional(readAdmin),
    routes: withDefault(readArray(readRoute), []),
    backends: withDefault(readArray(readBackend), []),
    limits: defaultsOnly(readLimits),
    shutdown: defaultsOnly(readShutdown),
    kubernetes: defaultsOnly(readKubernetes),
    accessLog: defaultsOnly(readAccessLog),
  });

  const ingress = config.kubernetes.ingress !== undefined;
  if (config.routes.length === 0 && !ingress) {
    fail(["routes"], "expected at least one route (or kubernetes.ingress, to take routes from Ingress resources)");
  }
  config.listeners.forEach((listener, index) => {
    if (listener.tls !== undefined && listener.tls.certificates.length === 0 && !ingress) {
      fail(
        ["listeners", index, "tls", "certificates"],
        "expected at least one certificate (or kubernetes.ingress, whose TLS Secrets supply them)",
      );
    }
  });

  const firstIndexByName = new Map<string, number>();
  config.backends.forEach((backend, index) => {
    const first = firstIndexByName.get(backend.name);
    if (first !== undefined) {
      fail(["backends", index, "name"], `duplicate backend name ${JSON.stringify(backend.name)} (already used by backends[${first}])`);
    }
    firstIndexByName.set(backend.name, index);
  });

  config.routes.forEach((route, index) => {
    if (!firstIndexByName.has(route.backend)) {
      fail(
        ["routes", index, "backend"],
        `unknown backend ${JSON.stringify(route.backend)} (defined backends: ${[...firstIndexByName.keys()].join(", ")})`,
      );
    }
  });

  return config;
}
