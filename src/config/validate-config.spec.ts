import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.ts";
import { DEFAULT_MAX_MESSAGE_BYTES, validateConfig } from "./validate-config.ts";

type Raw = Record<string, unknown>;

/** The example config from the task, as parsed YAML. */
function example(): Raw {
  return {
    listeners: [{ address: "127.0.0.1:8080" }],
    admin: { address: "127.0.0.1:9901" },
    routes: [{ services: ["greet.v1.GreetService", "shop.v1."], backend: "greet" }, { backend: "greet" }],
    backends: [
      {
        name: "greet",
        balancer: "round_robin",
        discovery: { static: { endpoints: ["127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"] } },
      },
    ],
  };
}

/** A minimal valid config with `patch` applied to the top level. */
function minimal(patch: Raw = {}): Raw {
  return {
    listeners: [{ address: "127.0.0.1:0" }],
    routes: [{ backend: "greet" }],
    backends: [backend()],
    ...patch,
  };
}

function backend(patch: Raw = {}): Raw {
  return { name: "greet", discovery: { static: { endpoints: ["127.0.0.1:50051"] } }, ...patch };
}

/** The ConfigError thrown for `raw`; fails the test if validation passes. */
function errorFor(raw: unknown): ConfigError {
  try {
    validateConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected validateConfig to throw");
}

describe("validateConfig", () => {
  it("accepts the example config and fills every default", () => {
    expect(validateConfig(example())).toEqual({
      listeners: [{ address: { host: "127.0.0.1", port: 8080 } }],
      admin: { address: { host: "127.0.0.1", port: 9901 } },
      routes: [
        { services: ["greet.v1.GreetService", "shop.v1."], backend: "greet" },
        { services: undefined, backend: "greet" },
      ],
      backends: [
        {
          name: "greet",
          balancer: "round_robin",
          discovery: {
            kind: "static",
            endpoints: [
              { host: "127.0.0.1", port: 50051 },
              { host: "127.0.0.1", port: 50052 },
              { host: "127.0.0.1", port: 50053 },
            ],
          },
          schemas: { reflection: true, descriptorSets: [], refreshMs: 300000, ignoreUnknownJsonFields: false },
          healthCheck: undefined,
          outlierDetection: { consecutiveFailures: 5, baseEjectionTimeMs: 10000, maxEjectionPercent: 50 },
          retry: { budgetPercent: 20, minRetriesPerSecond: 10 },
          keepalive: { intervalMs: 300000, timeoutMs: 20000 },
        },
      ],
      limits: { maxMessageBytes: 4194304, maxHeaderListBytes: 16384, maxConcurrentStreams: 100, maxConnections: 10000, headersTimeoutMs: 10000, idleTimeoutMs: 300000 },
      shutdown: { gracePeriodMs: 30000 },
      accessLog: { enabled: true, sampleRate: 1 },
      kubernetes: { kubeconfig: undefined },
    });
  });

  it("defaults admin to undefined, balancer to round_robin and limits to 4 MiB", () => {
    const config = validateConfig(minimal());
    expect(config.admin).toBeUndefined();
    expect(config.backends[0]?.balancer).toBe("round_robin");
    expect(config.limits.maxMessageBytes).toBe(DEFAULT_MAX_MESSAGE_BYTES);
    expect(validateConfig(minimal({ limits: {} })).limits.maxMessageBytes).toBe(4194304);
  });

  it("keeps explicit values", () => {
    const config = validateConfig(
      minimal({
        listeners: [{ address: "0.0.0.0:8080" }, { address: "[::]:8081" }],
        admin: { address: "[::1]:0" },
        backends: [backend({ balancer: "least_request" })],
        limits: { maxMessageBytes: 1024 },
      }),
    );
    expect(config.listeners.map((listener) => listener.address)).toEqual([
      { host: "0.0.0.0", port: 8080 },
      { host: "::", port: 8081 },
    ]);
    expect(config.admin).toEqual({ address: { host: "::1", port: 0 } });
    expect(config.backends[0]?.balancer).toBe("least_request");
    expect(config.limits.maxMessageBytes).toBe(1024);
  });

  it("accepts a service name without a package and several backends", () => {
    const config = validateConfig(
      minimal({
        routes: [{ services: ["Greeter", "a_b.C1"], backend: "greet" }, { backend: "shop-v1.2" }],
        backends: [backend(), backend({ name: "shop-v1.2" })],
      }),
    );
    expect(config.routes.map((route) => route.backend)).toEqual(["greet", "shop-v1.2"]);
  });

  it("reports the path and problem on the error object", () => {
    const error = errorFor(minimal({ limits: { maxMessageBytes: "big" } }));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("ConfigError");
    expect(error.path).toBe("limits.maxMessageBytes");
    expect(error.keyPath).toEqual(["limits", "maxMessageBytes"]);
    expect(error.problem).toBe("expected a number, got string");
    expect(error.message).toBe("limits.maxMessageBytes: expected a number, got string");
  });

  const backendWith = (patch: Raw): Raw => minimal({ backends: [backend(patch)] });
  const endpoints = (list: unknown): Raw => backendWith({ discovery: { static: { endpoints: list } } });

  it.each<[string, unknown, string]>([
    // top level
    ["not an object", "hello", "expected an object, got string"],
    ["null document", null, "expected an object, got null"],
    ["array document", [], "expected an object, got array"],
    ["unknown top-level key", minimal({ listener: [] }), "listener: unknown key (expected one of: listeners, admin, routes, backends, limits, shutdown, kubernetes, accessLog)"],
    ["missing listeners", { routes: [], backends: [] }, "listeners: missing required key"],
    ["missing routes", { listeners: [{ address: "127.0.0.1:0" }], backends: [backend()] }, "routes: expected at least one route (or kubernetes.ingress, to take routes from Ingress resources)"],
    ["missing backends", { listeners: [{ address: "127.0.0.1:0" }], routes: [{ backend: "greet" }] }, 'routes[0].backend: unknown backend "greet" (defined backends: )'],
    // listeners and admin
    ["listeners not an array", minimal({ listeners: { address: "127.0.0.1:0" } }), "listeners: expected an array, got object"],
    ["empty listeners", minimal({ listeners: [] }), "listeners: must not be empty"],
    ["listener not an object", minimal({ listeners: ["127.0.0.1:0"] }), "listeners[0]: expected an object, got string"],
    ["listener unknown key", minimal({ listeners: [{ address: "127.0.0.1:0", tcp: {} }] }), "listeners[0].tcp: unknown key (expected one of: address, tls)"],
    ["tls without certificates", minimal({ listeners: [{ address: "127.0.0.1:0", tls: {} }] }), "listeners[0].tls.certificates: expected at least one certificate (or kubernetes.ingress, whose TLS Secrets supply them)"],
    ["tls certificate without key", minimal({ listeners: [{ address: "127.0.0.1:0", tls: { certificates: [{ certFile: "a.crt" }] } }] }), "listeners[0].tls.certificates[0].keyFile: missing required key"],
    ["route host with port", minimal({ routes: [{ hosts: ["api.example.com:443"], backend: "greet" }] }), 'routes[0].hosts[0]: "api.example.com:443" is not a host name (like api.example.com or *.example.com, without a port)'],
    ["route host deep wildcard", minimal({ routes: [{ hosts: ["*.*.example.com"], backend: "greet" }] }), 'routes[0].hosts[0]: "*.*.example.com" is not a host name (like api.example.com or *.example.com, without a port)'],
    ["route method with slash", minimal({ routes: [{ methods: ["greet.v1.GreetService/Greet"], backend: "greet" }] }), 'routes[0].methods[0]: "greet.v1.GreetService/Greet" is not a method name (like Greet)'],
    ["cors without origins", minimal({ routes: [{ backend: "greet", cors: {} }] }), "routes[0].cors.allowedOrigins: missing required key"],
    ["cors origin with path", minimal({ routes: [{ backend: "greet", cors: { allowedOrigins: ["https://app.example.com/"] } }] }), 'routes[0].cors.allowedOrigins[0]: "https://app.example.com/" is not an origin (like https://app.example.com, https://*.example.com or *)'],
    ["cors bad header", minimal({ routes: [{ backend: "greet", cors: { allowedOrigins: ["*"], allowedHeaders: ["x tenant"] } }] }), 'routes[0].cors.allowedHeaders[0]: "x tenant" is not an HTTP header name'],
    ["backend tls skip not boolean", backendWith({ tls: { insecureSkipVerify: "yes" } }), "backends[0].tls.insecureSkipVerify: expected true or false, got string"],
    ["schemas unknown key", backendWith({ schemas: { descriptorSet: "x.binpb" } }), "backends[0].schemas.descriptorSet: unknown key (expected one of: reflection, descriptorSets, refreshSeconds, ignoreUnknownJsonFields)"],
    ["schemas reflection not boolean", backendWith({ schemas: { reflection: "on" } }), "backends[0].schemas.reflection: expected true or false, got string"],
    ["duration without unit", minimal({ shutdown: { gracePeriod: "30" } }), 'shutdown.gracePeriod: "30" is not a duration (like 500ms, 5s, 2m or 1h)'],
    ["duration as a number", minimal({ limits: { idleTimeout: 300 } }), "limits.idleTimeout: expected a string, got number"],
    ["route timeout", minimal({ routes: [{ backend: "greet", defaultTimeout: "soon" }] }), 'routes[0].defaultTimeout: "soon" is not a duration (like 500ms, 5s, 2m or 1h)'],
    ["keepalive interval of zero", backendWith({ keepalive: { interval: "0s" } }), 'backends[0].keepalive.interval: expected at least 10ms, got "0s"'],
    ["keepalive unknown key", backendWith({ keepalive: { time: "1m" } }), "backends[0].keepalive.time: unknown key (expected one of: interval, timeout)"],
    ["ejection percent over 100", backendWith({ outlierDetection: { maxEjectionPercent: 150 } }), "backends[0].outlierDetection.maxEjectionPercent: must be at most 100, got 150"],
    ["ingress without class", minimal({ kubernetes: { ingress: {} } }), "kubernetes.ingress.className: missing required key"],
    ["listener without address", minimal({ listeners: [{}] }), "listeners[0].address: missing required key"],
    ["listener address a number", minimal({ listeners: [{ address: 8080 }] }), "listeners[0].address: expected a string, got number"],
    [
      "listener address without port",
      minimal({ listeners: [{ address: "127.0.0.1:0" }, { address: "localhost" }] }),
      'listeners[1].address: invalid address "localhost": missing port',
    ],
    ["admin not an object", minimal({ admin: "127.0.0.1:9901" }), "admin: expected an object, got string"],
    ["admin unknown key", minimal({ admin: { address: "127.0.0.1:9901", port: 1 } }), "admin.port: unknown key (expected one of: address)"],
    ["admin address with scheme", minimal({ admin: { address: "http://127.0.0.1:9901" } }), 'admin.address: invalid address "http://127.0.0.1:9901": must not have a scheme'],
    // routes
    ["empty routes", minimal({ routes: [] }), "routes: expected at least one route (or kubernetes.ingress, to take routes from Ingress resources)"],
    ["route misspelled key", minimal({ routes: [{ servces: ["a.B"], backend: "greet" }] }), "routes[0].servces: unknown key (expected one of: hosts, services, methods, backend, cors, defaultTimeout, maxTimeout)"],
    ["route without backend", minimal({ routes: [{ services: ["a.B"] }] }), "routes[0].backend: missing required key"],
    ["route backend not a string", minimal({ routes: [{ backend: 1 }] }), "routes[0].backend: expected a string, got number"],
    ["route services not an array", minimal({ routes: [{ services: "a.B", backend: "greet" }] }), "routes[0].services: expected an array, got string"],
    ["route services empty", minimal({ routes: [{ services: [], backend: "greet" }] }), "routes[0].services: must not be empty"],
    ["route service not a string", minimal({ routes: [{ services: ["a.B", 3], backend: "greet" }] }), "routes[0].services[1]: expected a string, got number"],
    ["route service with leading slash", minimal({ routes: [{ services: ["/greet.v1.Greet"], backend: "greet" }] }), 'routes[0].services[0]: "/greet.v1.Greet" is neither a full service name'],
    ["route service with method", minimal({ routes: [{ services: ["greet.v1.Greet/Hello"], backend: "greet" }] }), 'routes[0].services[0]: "greet.v1.Greet/Hello" is neither'],
    ["route service empty string", minimal({ routes: [{ services: [""], backend: "greet" }] }), 'routes[0].services[0]: "" is neither'],
    ["route service double dot", minimal({ routes: [{ services: ["shop..v1."], backend: "greet" }] }), 'routes[0].services[0]: "shop..v1." is neither'],
    ["route service lone dot", minimal({ routes: [{ services: ["."], backend: "greet" }] }), 'routes[0].services[0]: "." is neither'],
    [
      "route to an undefined backend",
      minimal({ routes: [{ backend: "greet" }, { backend: "shop" }], backends: [backend(), backend({ name: "users" })] }),
      'routes[1].backend: unknown backend "shop" (defined backends: greet, users)',
    ],
    // backends
    ["backends not an array", minimal({ backends: backend() }), "backends: expected an array, got object"],
    ["empty backends", minimal({ backends: [] }), 'routes[0].backend: unknown backend "greet" (defined backends: )'],
    ["backend unknown key", backendWith({ healthChecks: {} }), "backends[0].healthChecks: unknown key (expected one of: name, balancer, discovery, tls, schemas, healthCheck, outlierDetection, retry, keepalive)"],
    ["backend without name", minimal({ backends: [{ discovery: { static: { endpoints: ["a:1"] } } }] }), "backends[0].name: missing required key"],
    ["backend name not a string", backendWith({ name: 7 }), "backends[0].name: expected a string, got number"],
    ["backend name with a space", backendWith({ name: "my greet" }), 'backends[0].name: "my greet" is not a valid backend name'],
    ["backend name ending in a dash", backendWith({ name: "greet-" }), 'backends[0].name: "greet-" is not a valid backend name'],
    ["backend name empty", backendWith({ name: "" }), 'backends[0].name: "" is not a valid backend name'],
    [
      "duplicate backend name",
      minimal({ backends: [backend(), backend({ name: "other" }), backend()] }),
      'backends[2].name: duplicate backend name "greet" (already used by backends[0])',
    ],
    ["unknown balancer", backendWith({ balancer: "random" }), 'backends[0].balancer: expected one of round_robin, least_request, got "random"'],
    ["balancer not a string", backendWith({ balancer: 1 }), "backends[0].balancer: expected a string, got number"],
    ["backend without discovery", minimal({ backends: [{ name: "greet" }] }), "backends[0].discovery: missing required key"],
    ["discovery not an object", backendWith({ discovery: "static" }), "backends[0].discovery: expected an object, got string"],
    ["discovery without a source", backendWith({ discovery: {} }), "backends[0].discovery: expected exactly one discovery source (one of: static, kubernetes, dns)"],
    ["unknown discovery source", backendWith({ discovery: { consul: { service: "greet" } } }), "backends[0].discovery.consul: unknown key (expected one of: static, kubernetes, dns)"],
    ["two discovery sources", backendWith({ discovery: { static: { endpoints: ["127.0.0.1:1"] }, dns: { host: "a", port: 1 } } }), "backends[0].discovery: expected exactly one discovery source, got static, dns"],
    ["kubernetes without service", backendWith({ discovery: { kubernetes: { port: "grpc" } } }), "backends[0].discovery.kubernetes.service: missing required key"],
    ["kubernetes without port", backendWith({ discovery: { kubernetes: { service: "greet" } } }), "backends[0].discovery.kubernetes.port: missing required key"],
    ["kubernetes bad service name", backendWith({ discovery: { kubernetes: { service: "Greet_Svc", port: "grpc" } } }), 'backends[0].discovery.kubernetes.service: "Greet_Svc" is not a Kubernetes Service name'],
    ["kubernetes bad namespace", backendWith({ discovery: { kubernetes: { namespace: "shop.eu", service: "greet", port: 1 } } }), 'backends[0].discovery.kubernetes.namespace: "shop.eu" is not a Kubernetes namespace name'],
    ["kubernetes port 0", backendWith({ discovery: { kubernetes: { service: "greet", port: 0 } } }), "backends[0].discovery.kubernetes.port: must be at least 1, got 0"],
    ["kubernetes port name with capitals", backendWith({ discovery: { kubernetes: { service: "greet", port: "GRPC" } } }), 'backends[0].discovery.kubernetes.port: "GRPC" is not a port name (lower-case letters, digits and "-", like grpc) or a port number'],
    ["kubernetes unknown key", backendWith({ discovery: { kubernetes: { service: "greet", port: 1, selector: "a=b" } } }), "backends[0].discovery.kubernetes.selector: unknown key (expected one of: namespace, service, port)"],
    ["dns without port", backendWith({ discovery: { dns: { host: "greet.shop.svc" } } }), "backends[0].discovery.dns.port: missing required key"],
    ["dns host with a port", backendWith({ discovery: { dns: { host: "greet:50051", port: 1 } } }), 'backends[0].discovery.dns.host: "greet:50051" is not a DNS name'],
    ["dns refresh too fast", backendWith({ discovery: { dns: { host: "greet", port: 1, refreshSeconds: 0 } } }), "backends[0].discovery.dns.refreshSeconds: must be between 0.05 and 86400 seconds, got 0"],
    ["dns refresh a string", backendWith({ discovery: { dns: { host: "greet", port: 1, refreshSeconds: "5s" } } }), "backends[0].discovery.dns.refreshSeconds: expected a number of seconds, got string"],
    ["dns server junk", backendWith({ discovery: { dns: { host: "greet", port: 1, servers: ["dns server"] } } }), 'backends[0].discovery.dns.servers[0]: invalid address "dns server:53": must not contain whitespace'],
    ["kubernetes section unknown key", minimal({ kubernetes: { config: "x" } }), "kubernetes.config: unknown key (expected one of: kubeconfig, ingress)"],
    ["static not an object", backendWith({ discovery: { static: ["127.0.0.1:1"] } }), "backends[0].discovery.static: expected an object, got array"],
    ["static unknown key", backendWith({ discovery: { static: { endpoint: ["127.0.0.1:1"] } } }), "backends[0].discovery.static.endpoint: unknown key (expected one of: endpoints)"],
    ["static without endpoints", backendWith({ discovery: { static: {} } }), "backends[0].discovery.static.endpoints: missing required key"],
    ["endpoints not an array", endpoints("127.0.0.1:1"), "backends[0].discovery.static.endpoints: expected an array, got string"],
    ["endpoints empty", endpoints([]), "backends[0].discovery.static.endpoints: must not be empty"],
    ["endpoint not a string", endpoints(["127.0.0.1:1", { host: "a" }]), "backends[0].discovery.static.endpoints[1]: expected a string, got object"],
    ["endpoint with port 0", endpoints(["127.0.0.1:1", "a:2", "127.0.0.1:0"]), 'backends[0].discovery.static.endpoints[2]: invalid address "127.0.0.1:0": port 0 is out of range'],
    ["endpoint junk", endpoints(["not an address"]), 'backends[0].discovery.static.endpoints[0]: invalid address "not an address": must not contain whitespace'],
    // limits
    ["limits not an object", minimal({ limits: 5 }), "limits: expected an object, got number"],
    ["limits unknown key", minimal({ limits: { maxMessageSize: 1 } }), "limits.maxMessageSize: unknown key (expected one of: maxMessageBytes, maxHeaderListBytes, maxConcurrentStreams, maxConnections, headersTimeout, idleTimeout)"],
    ["maxMessageBytes a string", minimal({ limits: { maxMessageBytes: "4MiB" } }), "limits.maxMessageBytes: expected a number, got string"],
    ["maxMessageBytes null", minimal({ limits: { maxMessageBytes: null } }), "limits.maxMessageBytes: expected a number, got null"],
    ["maxMessageBytes fractional", minimal({ limits: { maxMessageBytes: 1.5 } }), "limits.maxMessageBytes: expected an integer, got 1.5"],
    ["maxMessageBytes zero", minimal({ limits: { maxMessageBytes: 0 } }), "limits.maxMessageBytes: must be at least 1, got 0"],
    ["maxMessageBytes negative", minimal({ limits: { maxMessageBytes: -1 } }), "limits.maxMessageBytes: must be at least 1, got -1"],
    ["maxMessageBytes infinite", minimal({ limits: { maxMessageBytes: Infinity } }), "limits.maxMessageBytes: expected an integer, got Infinity"],
  ])("rejects %s", (_name, raw, message) => {
    // `message` is the whole message or, for long ones, its start.
    expect(errorFor(raw).message.slice(0, message.length)).toBe(message);
  });

  it("reads the kubernetes and dns sources with their defaults", () => {
    const kube = validateConfig(backendWith({ discovery: { kubernetes: { service: "greet", port: "grpc" } } }));
    expect(kube.backends[0]?.discovery).toEqual({ kind: "kubernetes", namespace: undefined, service: "greet", port: "grpc" });
    const byNumber = validateConfig(backendWith({ discovery: { kubernetes: { namespace: "shop", service: "greet", port: 50051 } } }));
    expect(byNumber.backends[0]?.discovery).toEqual({ kind: "kubernetes", namespace: "shop", service: "greet", port: 50051 });
    const dns = validateConfig(backendWith({ discovery: { dns: { host: "greet-headless.shop.svc.cluster.local", port: 50051 } } }));
    expect(dns.backends[0]?.discovery).toEqual({
      kind: "dns",
      host: "greet-headless.shop.svc.cluster.local",
      port: 50051,
      refreshMs: 5000,
      servers: undefined,
    });
    const servers = validateConfig(backendWith({ discovery: { dns: { host: "greet", port: 1, refreshSeconds: 0.5, servers: ["10.96.0.10", "127.0.0.1:5353", "[::1]:53"] } } }));
    expect(servers.backends[0]?.discovery).toMatchObject({
      refreshMs: 500,
      servers: [{ host: "10.96.0.10", port: 53 }, { host: "127.0.0.1", port: 5353 }, { host: "::1", port: 53 }],
    });
    expect(validateConfig(minimal({ kubernetes: { kubeconfig: "./kubeconfig" } })).kubernetes.kubeconfig).toBe("./kubeconfig");
  });

  it("reads TLS listeners, hosts, methods, CORS, upstream TLS and the Ingress source", () => {
    const config = validateConfig({
      listeners: [{ address: "0.0.0.0:8443", tls: { certificates: [{ certFile: "a.crt", keyFile: "a.key" }] } }],
      routes: [
        {
          hosts: ["API.example.com", "*.apps.example.com"],
          services: ["greet.v1."],
          methods: ["Greet"],
          backend: "greet",
          cors: { allowedOrigins: ["https://App.example.com"], exposedHeaders: ["X-Request-Id"] },
        },
      ],
      backends: [{ ...backend(), tls: { caFile: "ca.crt", serverName: "greet.internal" } }],
      kubernetes: { ingress: { className: "edgegate", namespaces: ["shop"] } },
    });
    expect(config.listeners[0]?.tls).toEqual({ certificates: [{ certFile: "a.crt", keyFile: "a.key" }] });
    expect(config.routes[0]).toEqual({
      hosts: ["api.example.com", "*.apps.example.com"],
      services: ["greet.v1."],
      methods: ["Greet"],
      backend: "greet",
      cors: { allowedOrigins: ["https://app.example.com"], allowedHeaders: [], exposedHeaders: ["x-request-id"], maxAgeSeconds: 7200 },
    });
    expect(config.backends[0]?.tls).toEqual({ caFile: "ca.crt", serverName: "greet.internal", insecureSkipVerify: false });
    expect(config.kubernetes.ingress).toEqual({ className: "edgegate", namespaces: ["shop"] });
  });

  it("needs no routes, backends or listener certificates when Ingresses supply them", () => {
    const config = validateConfig({
      listeners: [{ address: "0.0.0.0:8443", tls: {} }],
      kubernetes: { ingress: { className: "edgegate" } },
    });
    expect(config.routes).toEqual([]);
    expect(config.backends).toEqual([]);
    expect(config.listeners[0]?.tls?.certificates).toEqual([]);
  });

  it("reads the reliability settings: limits, shutdown, route timeouts, health checks, outliers, retries, keepalive", () => {
    const config = validateConfig({
      ...minimal({
        limits: { maxHeaderListBytes: 8192, maxConcurrentStreams: 50, maxConnections: 100, headersTimeout: "5s", idleTimeout: "2m" },
        shutdown: { gracePeriod: "10s" },
        routes: [{ backend: "greet", defaultTimeout: "30s", maxTimeout: "5m" }],
      }),
      backends: [
        {
          ...backend(),
          healthCheck: { interval: "500ms", timeout: "1s", unhealthyThreshold: 3, service: "greet.v1.GreetService" },
          outlierDetection: { consecutiveFailures: 3, baseEjectionTime: "1s", maxEjectionPercent: 34 },
          retry: { budgetPercent: 10, minRetriesPerSecond: 5 },
          keepalive: { interval: "1m", timeout: "5s" },
        },
      ],
    });
    expect(config.limits).toMatchObject({ maxHeaderListBytes: 8192, maxConcurrentStreams: 50, maxConnections: 100, headersTimeoutMs: 5000, idleTimeoutMs: 120000 });
    expect(config.shutdown).toEqual({ gracePeriodMs: 10000 });
    expect(config.routes[0]).toMatchObject({ defaultTimeoutMs: 30000, maxTimeoutMs: 300000 });
    expect(config.backends[0]).toMatchObject({
      healthCheck: { intervalMs: 500, timeoutMs: 1000, unhealthyThreshold: 3, healthyThreshold: 1, service: "greet.v1.GreetService" },
      outlierDetection: { consecutiveFailures: 3, baseEjectionTimeMs: 1000, maxEjectionPercent: 34 },
      retry: { budgetPercent: 10, minRetriesPerSecond: 5 },
      keepalive: { intervalMs: 60000, timeoutMs: 5000 },
    });
  });

  it("quotes keys that are not plain identifiers in the path", () => {
    expect(errorFor(minimal({ "max bytes": 1 })).message).toBe(
      '["max bytes"]: unknown key (expected one of: listeners, admin, routes, backends, limits, shutdown, kubernetes, accessLog)',
    );
  });

  it("rejects an inherited-looking __proto__ key as unknown", () => {
    const raw = minimal();
    Object.defineProperty(raw, "__proto__", { value: {}, enumerable: true });
    expect(errorFor(raw).path).toBe("__proto__");
  });
});
