/**
 * The validated gateway configuration: what `loadConfig` returns after it has
 * parsed the YAML file, checked every key and filled every default. Nothing
 * downstream of the loader ever sees an optional that has a default.
 *
 * The YAML contract (users and acceptance checks drive it; extend, never break):
 *
 * ```yaml
 * listeners:
 *   - address: 127.0.0.1:8080        # HTTP/1.1 and h2c on one port
 *   - address: 0.0.0.0:8443          # TLS, ALPN h2 and http/1.1
 *     tls: { certificates: [{ certFile: tls.crt, keyFile: tls.key }] }
 * admin:
 *   address: 127.0.0.1:9901          # /healthz and /readyz
 * routes:                             # first match wins
 *   - hosts: ["api.example.com", "*.example.com"]
 *     services: ["greet.v1.GreetService", "shop.v1."]
 *     methods: ["Greet"]
 *     backend: greet
 *     cors: { allowedOrigins: ["https://app.example.com"], maxAgeSeconds: 7200 }
 * backends:
 *   - name: greet
 *     balancer: round_robin           # or least_request
 *     discovery:                      # exactly one source:
 *       static:
 *         endpoints: ["127.0.0.1:50051"]
 *       # kubernetes: { namespace: shop, service: greet, port: grpc }
 *       # dns: { host: greet-headless.shop.svc.cluster.local, port: 50051, refreshSeconds: 5 }
 *     tls: { caFile: ca.crt, serverName: greet.internal }   # upstream TLS; default h2c
 * kubernetes:
 *   kubeconfig: ./kubeconfig          # default: in-cluster service account, else KUBECONFIG / ~/.kube/config
 *   ingress: { className: edgegate }  # Ingress resources as routes (namespaces: all, or a list)
 * limits:
 *   maxMessageBytes: 4194304
 * ```
 */
export interface GatewayConfig {
  readonly listeners: readonly ListenerConfig[];
  /** The admin listener; absent when the file has no `admin` key. */
  readonly admin: AdminConfig | undefined;
  readonly routes: readonly RouteConfig[];
  readonly backends: readonly BackendConfig[];
  readonly limits: LimitsConfig;
  readonly shutdown: ShutdownConfig;
  readonly kubernetes: KubernetesConfig;
  readonly accessLog: AccessLogConfig;
}

/** One JSON line per call on stdout. */
export interface AccessLogConfig {
  readonly enabled: boolean;
  /** Share of successful calls logged (errors always are), 0..1. Default 1. */
  readonly sampleRate: number;
}

/** A host and port to listen on or connect to. `host` is an IP literal (IPv6 without brackets) or a name. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ListenerConfig {
  readonly address: HostPort;
  /** TLS on this listener (ALPN h2 and http/1.1); `undefined`: cleartext HTTP/1.1 and h2c. */
  readonly tls: ListenerTlsConfig | undefined;
}

export interface ListenerTlsConfig {
  /**
   * Certificates to serve; SNI picks the one whose names match, else the
   * first. May be empty when Ingress TLS Secrets supply them.
   */
  readonly certificates: readonly CertificateFiles[];
}

/** A PEM certificate chain and its key, watched and reloaded when they change. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface AdminConfig {
  readonly address: HostPort;
}

export interface RouteConfig {
  /**
   * Hosts (`api.example.com`, `*.example.com`: one more label), lower case,
   * matched against `:authority` / `Host` without its port. `undefined`
   * matches every host.
   */
  readonly hosts: readonly string[] | undefined;
  /**
   * Full service names (`greet.v1.GreetService`) or package prefixes ending
   * in "." (`shop.v1.`). `undefined` matches every service.
   */
  readonly services: readonly string[] | undefined;
  /** Method names (`Greet`) within the matched services; `undefined` matches every method. */
  readonly methods: readonly string[] | undefined;
  /** Name of a backend in `backends`; the loader checks that it exists. */
  readonly backend: string;
  /** CORS for browsers calling this route from another origin; `undefined`: no CORS headers. */
  readonly cors: CorsConfig | undefined;
  /** Deadline of a unary call whose client sent none; `undefined`: none. */
  readonly defaultTimeoutMs: number | undefined;
  /** Longest deadline a client may ask for (longer ones are cut to this); `undefined`: no cap. */
  readonly maxTimeoutMs: number | undefined;
}

export interface CorsConfig {
  /** `https://app.example.com`, `https://*.example.com` (any subdomain), or `*`. */
  readonly allowedOrigins: readonly string[];
  /** Request headers allowed beyond the Connect and gRPC-Web ones. */
  readonly allowedHeaders: readonly string[];
  /** Response headers exposed beyond the Connect and gRPC-Web ones. */
  readonly exposedHeaders: readonly string[];
  /** How long a browser may cache a preflight answer. */
  readonly maxAgeSeconds: number;
}

export type BalancerName = "round_robin" | "least_request";

export interface BackendConfig {
  readonly name: string;
  readonly balancer: BalancerName;
  readonly discovery: DiscoveryConfig;
  /** TLS towards the pods; `undefined`: h2c. */
  readonly tls: UpstreamTlsConfig | undefined;
  /** Where the backend's protobuf schema comes from (for JSON, Connect GET and reflection). */
  readonly schemas: SchemasConfig;
  /** `undefined`: no active health checks. */
  readonly healthCheck: HealthCheckConfig | undefined;
  readonly outlierDetection: OutlierDetectionConfig;
  readonly retry: RetryConfig;
  /** HTTP/2 PINGs towards the pods: how a silent dead connection is told apart from a quiet stream. */
  readonly keepalive: KeepaliveConfig;
}

export interface SchemasConfig {
  /** Ask the pods with gRPC server reflection (v1, then v1alpha) on first need. Default true. */
  readonly reflection: boolean;
  /** `buf build -o x.binpb` outputs (FileDescriptorSet), relative to the config file. */
  readonly descriptorSets: readonly string[];
  /** How often a reflected schema is fetched again. Default 300 s. */
  readonly refreshMs: number;
  /** Accept JSON fields the schema does not know (dropped), instead of rejecting the call. Default false. */
  readonly ignoreUnknownJsonFields: boolean;
}

export interface UpstreamTlsConfig {
  /** PEM CA bundle to verify pods with; `undefined`: the system's roots. */
  readonly caFile: string | undefined;
  /** Name to verify (and send as SNI) instead of the endpoint's address. */
  readonly serverName: string | undefined;
  readonly insecureSkipVerify: boolean;
}

/** Exactly one discovery source per backend. */
export type DiscoveryConfig = StaticDiscoveryConfig | KubernetesDiscoveryConfig | DnsDiscoveryConfig;

export interface StaticDiscoveryConfig {
  readonly kind: "static";
  readonly endpoints: readonly HostPort[];
}

/** Endpoints from the EndpointSlices of a Service, watched through the API server. */
export interface KubernetesDiscoveryConfig {
  readonly kind: "kubernetes";
  /** `undefined`: the namespace of the kubeconfig's context (in a cluster, the gateway's own), else "default". */
  readonly namespace: string | undefined;
  /** Slices labelled `kubernetes.io/service-name=<service>`. */
  readonly service: string;
  /** The port's name in the slices, or its number. */
  readonly port: string | number;
}

/** Endpoints from the A and AAAA records of a name (a headless Service), re-resolved on an interval. */
export interface DnsDiscoveryConfig {
  readonly kind: "dns";
  readonly host: string;
  readonly port: number;
  readonly refreshMs: number;
  /** DNS servers to ask instead of the system's (`undefined`: the system resolver). */
  readonly servers: readonly HostPort[] | undefined;
}

/** How to reach the Kubernetes API server, when a backend or later an Ingress needs it. */
export interface KubernetesConfig {
  /** Path of a kubeconfig file, relative to the config file; `undefined`: in-cluster, else KUBECONFIG / ~/.kube/config. */
  readonly kubeconfig: string | undefined;
  /** Ingress resources of a class as a route source; `undefined`: off. */
  readonly ingress: IngressConfig | undefined;
}

export interface IngressConfig {
  /** `spec.ingressClassName` (or the legacy `kubernetes.io/ingress.class` annotation) to serve. */
  readonly className: string;
  /** Namespaces to watch; `undefined`: all. */
  readonly namespaces: readonly string[] | undefined;
}

export interface LimitsConfig {
  /** Largest message accepted in either direction, after decompression. Default 4 MiB. */
  readonly maxMessageBytes: number;
  /** Largest request header list (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE; HTTP/1.1 header bytes). Default 16 KiB. */
  readonly maxHeaderListBytes: number;
  /** Concurrent streams per client HTTP/2 connection. Default 100. */
  readonly maxConcurrentStreams: number;
  /** Open client connections per listener. Default 10,000. */
  readonly maxConnections: number;
  /** Time a client has to send its request headers. Default 10 s. */
  readonly headersTimeoutMs: number;
  /** A client connection with no stream and no traffic for this long is closed. Default 5 min. */
  readonly idleTimeoutMs: number;
}

export interface ShutdownConfig {
  /** After SIGTERM, how long calls in flight may take before the process exits anyway. Default 30 s. */
  readonly gracePeriodMs: number;
}

/** Active health checks with `grpc.health.v1.Health/Check`. */
export interface HealthCheckConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive failed checks that make an endpoint unhealthy. */
  readonly unhealthyThreshold: number;
  /** Consecutive passed checks that make it healthy again. */
  readonly healthyThreshold: number;
  /** The `service` field of the check ("" = the server as a whole). */
  readonly service: string;
}

/** Passive ejection of endpoints that keep failing. */
export interface OutlierDetectionConfig {
  /** Consecutive connect failures or Unavailable/Internal answers that eject an endpoint. */
  readonly consecutiveFailures: number;
  /** First ejection time; each further ejection of the same endpoint lasts longer. */
  readonly baseEjectionTimeMs: number;
  /** Never more than this share of a backend's endpoints is ejected at once. */
  readonly maxEjectionPercent: number;
}

/**
 * HTTP/2 keepalive towards a backend's pods (gRFC A8). gRPC servers count a
 * PING that comes sooner than their permitted interval after the last one,
 * while they send nothing, as a strike, and answer the third with GOAWAY
 * ENHANCE_YOUR_CALM "too_many_pings", closing the connection with every call
 * on it (grpc-go, grpc-java and C-core permit one PING per 5 minutes by
 * default). So the default interval is that 5 minutes; lower it only for pods
 * that permit more.
 */
export interface KeepaliveConfig {
  /**
   * A PING goes out when calls are open and the pod has sent nothing for this
   * long; a session idle this long is checked with a PING before it is reused.
   */
  readonly intervalMs: number;
  /** A PING not answered in this long closes the connection: its calls end Unavailable, new ones open another. */
  readonly timeoutMs: number;
}

/** Transparent retries of calls that provably never reached a pod's application. */
export interface RetryConfig {
  /** Retries allowed as a share of the calls in flight. */
  readonly budgetPercent: number;
  /** Retries always allowed per second, whatever the budget says. */
  readonly minRetriesPerSecond: number;
}
