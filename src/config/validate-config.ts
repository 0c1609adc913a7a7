import type { ConfigPath } from "./config-error.ts";
import {
  defaultsOnly,
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
  GatewayConfig,
  LimitsConfig,
  ListenerConfig,
  RouteConfig,
} from "./gateway-config.ts";
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

const readListener: Reader<ListenerConfig> = (value, path) =>
  readObject(value, path, { address: required(readListenAddress) });

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

const readRoute: Reader<RouteConfig> = (value, path) =>
  readObject(value, path, {
    services: optional(readArray(readServiceName, { nonEmpty: true })),
    backend: required(readString),
  });

const readBackendName: Reader<string> = (value, path) => {
  const name = readString(value, path);
  if (BACKEND_NAME.test(name)) return name;
  return fail(
    path,
    `${JSON.stringify(name)} is not a valid backend name (letters, digits, "-", "_" and "."; ` +
      `starting and ending with a letter or digit)`,
  );
};

/** One reader per discovery source; later issues add `kubernetes` and `dns` here. */
const DISCOVERY_SOURCES = {
  static: optional<DiscoveryConfig>((value, path) => ({
    kind: "static",
    endpoints: readObject(value, path, { endpoints: required(readArray(readEndpoint, { nonEmpty: true })) })
      .endpoints,
  })),
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

const readBackend: Reader<BackendConfig> = (value, path) =>
  readObject(value, path, {
    name: required(readBackendName),
    balancer: withDefault(readOneOf(BALANCERS), "round_robin"),
    discovery: required(readDiscovery),
  });

const readLimits: Reader<LimitsConfig> = (value, path) =>
  readObject(value, path, {
    maxMessageBytes: withDefault(readInteger({ min: 1 }), DEFAULT_MAX_MESSAGE_BYTES),
  });

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
    routes: required(readArray(readRoute, { nonEmpty: true })),
    backends: required(readArray(readBackend, { nonEmpty: true })),
    limits: defaultsOnly(readLimits),
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
