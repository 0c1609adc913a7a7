import type { V1HTTPIngressPath, V1Ingress, V1IngressBackend, V1Service } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  type IngressRoute,
  type IngressTranslation,
  matchesIngressHost,
  matchesIngressPath,
  translateIngresses,
} from "./ingress-routes.ts";

// Plain objects shaped like what the API server sends; the client's model
// classes add nothing the translation reads.

function ingress(
  name: string,
  spec: V1Ingress["spec"],
  meta: { namespace?: string; created?: string; annotations?: Record<string, string> } = {},
): V1Ingress {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: {
      name,
      namespace: meta.namespace ?? "apps",
      creationTimestamp: new Date(meta.created ?? "2025-01-01T00:00:00Z"),
      ...(meta.annotations === undefined ? {} : { annotations: meta.annotations }),
    },
    spec,
  };
}

function toService(name: string, port: string): V1IngressBackend {
  return { service: { name, port: { name: port } } };
}

function path(pathType: string, value: string | undefined, backend: V1IngressBackend): V1HTTPIngressPath {
  return value === undefined ? { pathType, backend } : { pathType, path: value, backend };
}

const noServices = (): V1Service | undefined => undefined;

function servicesOf(...services: V1Service[]): (namespace: string, name: string) => V1Service | undefined {
  return (namespace, name) =>
    services.find((s) => (s.metadata?.namespace ?? "default") === namespace && s.metadata?.name === name);
}

/** How the gateway will use the list: the first route whose host and path match. */
function pick(translation: IngressTranslation, host: string, rpcPath: string): IngressRoute | undefined {
  return translation.routes.find((r) => matchesIngressHost(r.host, host) && matchesIngressPath(r.path, rpcPath));
}

function summary(translation: IngressTranslation): string[] {
  return translation.routes.map((r) => `${r.host ?? "-"} ${r.path.type} ${r.path.path} -> ${r.backend.key} (${r.source})`);
}

describe("translateIngresses", () => {
  // Seed 1 (SEEDS.md): the Traefik setup our users come from, moved to
  // networking.k8s.io/v1 with only the class changed. The backend names the
  // port by NUMBER, while EndpointSlices name ports, so the headless Service's
  // port name is what the route must carry.
  it("serves the seeds' Traefik Ingress with its class changed to edgegate", () => {
    const asrService: V1Service = {
      metadata: { name: "testing-voice-asr", namespace: "testing" },
      spec: {
        clusterIP: "None",
        selector: { role: "asr", "app.kubernetes.io/name": "voice", "app.kubernetes.io/instance": "testing" },
        ports: [
          { name: "http-grpc-asr", port: 50000, targetPort: 50000 },
          { name: "http-asr", port: 50001, targetPort: 50001 },
        ],
      },
    };
    const seed = ingress(
      "testing-voice-asr",
      {
        ingressClassName: "edgegate",
        tls: [{ hosts: ["ASR.Voice.example.com"], secretName: "vad-cert" }],
        rules: [
          {
            host: "asr.voice.example.com",
            http: {
              // What `kubectl convert` gives a v1beta1 path without pathType.
              paths: [path("ImplementationSpecific", "/", { service: { name: "testing-voice-asr", port: { number: 50000 } } })],
            },
          },
        ],
      },
      { namespace: "testing", annotations: { "ingress.kubernetes.io/protocol": "h2c" } },
    );

    const translation = translateIngresses([seed], "edgegate", servicesOf(asrService));

    expect(translation).toEqual({
      routes: [
        {
          host: "asr.voice.example.com",
          path: { type: "Prefix", path: "/" },
          backend: { key: "testing/testing-voice-asr:http-grpc-asr", namespace: "testing", service: "testing-voice-asr", port: "http-grpc-asr" },
          source: "testing/testing-voice-asr",
        },
      ],
      tls: [{ namespace: "testing", secretName: "vad-cert", hosts: ["asr.voice.example.com"], source: "testing/testing-voice-asr" }],
      problems: [],
    });
    expect(pick(translation, "asr.voice.example.com", "/voice.v1.AsrService/Recognize")?.backend.port).toBe("http-grpc-asr");
    expect(pick(translation, "other.example.com", "/voice.v1.AsrService/Recognize")).toBeUndefined();
  });

  describe("class", () => {
    const rules = [{ http: { paths: [path("Prefix", "/", toService("svc", "grpc"))] } }];

    // ingressClassName supersedes the annotation, so an Ingress another
    // controller owns by field is not ours even if the annotation says so.
    it("takes Ingresses by ingressClassName, or by the legacy annotation only when the field is absent", () => {
      const translation = translateIngresses(
        [
          ingress("by-field", { ingressClassName: "edgegate", rules }),
          ingress("by-annotation", { rules }, { annotations: { "kubernetes.io/ingress.class": "edgegate" } }),
          ingress("other-field", { ingressClassName: "traefik", rules }),
          ingress("other-annotation", { rules }, { annotations: { "kubernetes.io/ingress.class": "traefik" } }),
          ingress("field-wins", { ingressClassName: "nginx", rules }, { annotations: { "kubernetes.io/ingress.class": "edgegate" } }),
          ingress("no-class", { rules }),
        ],
        "edgegate",
        noServices,
      );
      // The two are duplicates of each other; the second is reported, the others are silent.
      expect(translation.routes.map((r) => r.source)).toEqual(["apps/by-annotation"]);
      expect(translation.problems).toEqual([
        "ingress apps/by-field: Prefix / on any host is already routed by ingress apps/by-annotation; ignored",
      ]);
    });
  });

  describe("rules", () => {
    it("gives one route per path, lower-cases hosts, and reads a missing path as /", () => {
      const translation = translateIngresses(
        [
          ingress("multi", {
            ingressClassName: "edgegate",
            rules: [
              {
                host: "API.Example.COM",
                http: {
                  paths: [
                    path("Prefix", "/shop.v1.CartService", toService("cart", "grpc")),
                    path("Exact", "/shop.v1.OrderService/Get", toService("orders", "grpc")),
                  ],
                },
              },
              { host: "*.Example.com", http: { paths: [path("ImplementationSpecific", undefined, toService("web", "grpc"))] } },
              { host: "tls-only.example.com" },
            ],
          }),
        ],
        "edgegate",
        noServices,
      );
      expect(summary(translation)).toEqual([
        "api.example.com Exact /shop.v1.OrderService/Get -> apps/orders:grpc (apps/multi)",
        "api.example.com Prefix /shop.v1.CartService -> apps/cart:grpc (apps/multi)",
        "*.example.com Prefix / -> apps/web:grpc (apps/multi)",
      ]);
      expect(translation.problems).toEqual([]);
    });

    it("places spec.defaultBackend after every rule route, as a catch-all for any host", () => {
      const translation = translateIngresses(
        [
          ingress("with-default", {
            ingressClassName: "edgegate",
            defaultBackend: toService("fallback", "grpc"),
            rules: [{ http: { paths: [path("Prefix", "/a.v1.A", toService("a", "grpc"))] } }],
          }),
          ingress(
            "later",
            { ingressClassName: "edgegate", rules: [{ http: { paths: [path("Prefix", "/b.v1.B", toService("b", "grpc"))] } }] },
            { created: "2025-06-01T00:00:00Z" },
          ),
        ],
        "edgegate",
        noServices,
      );
      expect(summary(translation)).toEqual([
        "- Prefix /a.v1.A -> apps/a:grpc (apps/with-default)",
        "- Prefix /b.v1.B -> apps/b:grpc (apps/later)",
        "- Prefix / -> apps/fallback:grpc (apps/with-default)",
      ]);
      expect(pick(translation, "any.host", "/b.v1.B/Call")?.backend.service).toBe("b");
      expect(pick(translation, "any.host", "/c.v1.C/Call")?.backend.service).toBe("fallback");
    });

    // Only one catch-all can ever match, so the later ones are reported.
    it("keeps the first default backend by creation time and reports the others", () => {
      const translation = translateIngresses(
        [
          ingress("newer", { ingressClassName: "edgegate", defaultBackend: toService("n", "grpc") }, { created: "2025-03-01T00:00:00Z" }),
          ingress("older", { ingressClassName: "edgegate", defaultBackend: toService("o", "grpc") }, { created: "2025-02-01T00:00:00Z" }),
        ],
        "edgegate",
        noServices,
      );
      expect(summary(translation)).toEqual(["- Prefix / -> apps/o:grpc (apps/older)"]);
      expect(translation.problems).toEqual(["ingress apps/newer: default backend ignored, ingress apps/older already sets one"]);
    });

    it("skips a path with a pathType the spec does not define, with a problem", () => {
      const translation = translateIngresses(
        [ingress("odd", { ingressClassName: "edgegate", rules: [{ http: { paths: [path("Regex", "/a.*", toService("a", "grpc"))] } }] })],
        "edgegate",
        noServices,
      );
      expect(translation.routes).toEqual([]);
      expect(translation.problems).toEqual(['ingress apps/odd: /a.* on any host has unknown pathType "Regex"; ignored']);
    });
  });

  describe("order", () => {
    // The routes are tried in order, so this order IS the precedence: the most
    // specific host first, then (within a host) Exact before Prefix and longer
    // prefixes before shorter, which is the spec's "longest matching path
    // wins, Exact over Prefix on a tie".
    it("orders exact hosts, then wildcard hosts, then no host; Exact before Prefix; longer prefixes first", () => {
      const translation = translateIngresses(
        [
          ingress("catch-all", {
            ingressClassName: "edgegate",
            rules: [
              {
                http: {
                  paths: [
                    path("Prefix", "/", toService("root", "grpc")),
                    path("Prefix", "/shop.v1.CartService", toService("cart", "grpc")),
                    path("Exact", "/shop.v1.CartService/Get", toService("cart-get", "grpc")),
                  ],
                },
              },
            ],
          }),
          ingress("wild", { ingressClassName: "edgegate", rules: [{ host: "*.example.com", http: { paths: [path("Prefix", "/", toService("wild", "grpc"))] } }] }),
          ingress("exact", {
            ingressClassName: "edgegate",
            rules: [
              { host: "b.example.com", http: { paths: [path("Prefix", "/x", toService("bx", "grpc"))] } },
              { host: "a.example.com", http: { paths: [path("Prefix", "/x", toService("ax", "grpc"))] } },
            ],
          }),
        ],
        "edgegate",
        noServices,
      );
      expect(summary(translation)).toEqual([
        "a.example.com Prefix /x -> apps/ax:grpc (apps/exact)",
        "b.example.com Prefix /x -> apps/bx:grpc (apps/exact)",
        "*.example.com Prefix / -> apps/wild:grpc (apps/wild)",
        "- Exact /shop.v1.CartService/Get -> apps/cart-get:grpc (apps/catch-all)",
        "- Prefix /shop.v1.CartService -> apps/cart:grpc (apps/catch-all)",
        "- Prefix / -> apps/root:grpc (apps/catch-all)",
      ]);
      expect(pick(translation, "a.example.com", "/x/Y")?.backend.service).toBe("ax");
      expect(pick(translation, "c.example.com", "/x/Y")?.backend.service).toBe("wild");
      expect(pick(translation, "example.com", "/shop.v1.CartService/Get")?.backend.service).toBe("cart-get");
      expect(pick(translation, "example.com", "/shop.v1.CartService/Add")?.backend.service).toBe("cart");
      expect(pick(translation, "example.com", "/shop.v1.CartServiceX/Add")?.backend.service).toBe("root");
    });

    // A trailing "/" does not change what a Prefix matches, so it must not
    // change its rank either.
    it("ranks prefixes by their length without a trailing slash", () => {
      const translation = translateIngresses(
        [
          ingress("slashes", {
            ingressClassName: "edgegate",
            rules: [{ http: { paths: [path("Prefix", "/ab/", toService("short", "grpc")), path("Prefix", "/abc", toService("long", "grpc"))] } }],
          }),
        ],
        "edgegate",
        noServices,
      );
      expect(translation.routes.map((r) => r.backend.service)).toEqual(["long", "short"]);
    });

    it("breaks ties by creation time, then namespace/name, then rule and path order", () => {
      const at = (created: string) => ({ created });
      const rule = (svc: string, p: string) => ({ http: { paths: [path("Prefix", p, toService(svc, "grpc"))] } });
      const translation = translateIngresses(
        [
          ingress("z", { ingressClassName: "edgegate", rules: [rule("z", "/z.v1.Z")] }, at("2025-01-01T00:00:00Z")),
          ingress("newest", { ingressClassName: "edgegate", rules: [rule("newest", "/n.v1.N")] }, at("2025-09-01T00:00:00Z")),
          ingress("a", { ingressClassName: "edgegate", rules: [rule("a2", "/a.v1.B"), rule("a1", "/a.v1.A")] }, at("2025-01-01T00:00:00Z")),
          ingress("oldest", { ingressClassName: "edgegate", rules: [rule("oldest", "/o.v1.O")] }, at("2024-01-01T00:00:00Z")),
        ],
        "edgegate",
        noServices,
      );
      expect(translation.routes.map((r) => r.backend.service)).toEqual(["oldest", "a2", "a1", "z", "newest"]);
    });
  });

  describe("duplicates", () => {
    // Kubernetes lets two Ingresses claim the same path; ingress-nginx keeps
    // the oldest. Ownership is decided before backends resolve, so a path
    // does not change hands while a Service is briefly missing.
    it("keeps the first claim by creation time and reports the others", () => {
      const claim = (name: string, created: string, svc: string) =>
        ingress(
          name,
          { ingressClassName: "edgegate", rules: [{ host: "api.example.com", http: { paths: [path("Prefix", "/shop.v1.CartService", toService(svc, "grpc"))] } }] },
          { namespace: "team", created },
        );
      const translation = translateIngresses(
        [claim("second", "2025-02-01T00:00:00Z", "new-cart"), claim("first", "2025-01-01T00:00:00Z", "old-cart")],
        "edgegate",
        noServices,
      );
      expect(summary(translation)).toEqual(["api.example.com Prefix /shop.v1.CartService -> team/old-cart:grpc (team/first)"]);
      expect(translation.problems).toEqual([
        "ingress team/second: Prefix /shop.v1.CartService on api.example.com is already routed by ingress team/first; ignored",
      ]);
    });

    it("counts /a and /a/ as one Prefix, ImplementationSpecific as Prefix, hosts case-insensitively, and Exact apart", () => {
      const translation = translateIngresses(
        [
          ingress("one", {
            ingressClassName: "edgegate",
            rules: [
              {
                host: "Api.example.com",
                http: {
                  paths: [
                    path("Prefix", "/a", toService("first", "grpc")),
                    path("Prefix", "/a/", toService("slash", "grpc")),
                    path("ImplementationSpecific", "/a", toService("impl", "grpc")),
                    path("Exact", "/a", toService("exact", "grpc")),
                  ],
                },
              },
              { host: "api.example.com", http: { paths: [path("Prefix", "/a", toService("lower", "grpc"))] } },
            ],
          }),
        ],
        "edgegate",
        noServices,
      );
      expect(translation.routes.map((r) => r.backend.service)).toEqual(["exact", "first"]);
      expect(translation.problems).toEqual([
        "ingress apps/one: Prefix /a/ on api.example.com is already routed by ingress apps/one; ignored",
        "ingress apps/one: Prefix /a on api.example.com is already routed by ingress apps/one; ignored",
        "ingress apps/one: Prefix /a on api.example.com is already routed by ingress apps/one; ignored",
      ]);
    });

    it("keeps a claim whose backend does not resolve, so the path does not change hands", () => {
      const rule = (svc: string) => [{ http: { paths: [path("Prefix", "/p.v1.P", { service: { name: svc, port: { number: 80 } } })] } }];
      const translation = translateIngresses(
        [
          ingress("older", { ingressClassName: "edgegate", rules: rule("missing") }, { created: "2025-01-01T00:00:00Z" }),
          ingress("newer", { ingressClassName: "edgegate", rules: rule("present") }, { created: "2025-02-01T00:00:00Z" }),
        ],
        "edgegate",
        servicesOf({ metadata: { name: "present", namespace: "apps" }, spec: { ports: [{ name: "grpc", port: 80 }] } }),
      );
      expect(translation.routes).toEqual([]);
      expect(translation.problems).toEqual([
        "ingress apps/older: Prefix /p.v1.P on any host: service apps/missing not found (yet); ignored",
        "ingress apps/newer: Prefix /p.v1.P on any host is already routed by ingress apps/older; ignored",
      ]);
    });
  });

  describe("backends", () => {
    const cart: V1Service = {
      metadata: { name: "cart", namespace: "shop" },
      spec: {
        ports: [
          { name: "dns-udp", port: 9000, protocol: "UDP" },
          { name: "grpc", port: 9000, protocol: "TCP" },
          { name: "metrics", port: 9090 },
        ],
      },
    };
    const single: V1Service = { metadata: { name: "single", namespace: "shop" }, spec: { ports: [{ port: 8080 }] } };
    const services = servicesOf(cart, single);

    function route(backend: V1IngressBackend, namespace = "shop"): IngressTranslation {
      return translateIngresses(
        [ingress("ing", { ingressClassName: "edgegate", rules: [{ http: { paths: [path("Prefix", "/", backend)] } }] }, { namespace })],
        "edgegate",
        services,
      );
    }

    it("uses a port name as the EndpointSlice port name without looking the Service up", () => {
      const translation = route({ service: { name: "not-yet-known", port: { name: "grpc" } } });
      expect(translation.routes[0]?.backend).toEqual({ key: "shop/not-yet-known:grpc", namespace: "shop", service: "not-yet-known", port: "grpc" });
      expect(translation.problems).toEqual([]);
    });

    it("resolves a port number to the Service's TCP port name, or to '' for an unnamed port", () => {
      expect(route({ service: { name: "cart", port: { number: 9000 } } }).routes[0]?.backend.key).toBe("shop/cart:grpc");
      expect(route({ service: { name: "cart", port: { number: 9090 } } }).routes[0]?.backend.key).toBe("shop/cart:metrics");
      expect(route({ service: { name: "single", port: { number: 8080 } } }).routes[0]?.backend).toEqual({
        key: "shop/single:",
        namespace: "shop",
        service: "single",
        port: "",
      });
    });

    // Backends never cross namespaces: the Service is looked up in the Ingress's.
    it("skips a port number whose Service is unknown (also in another namespace) or lacks the port", () => {
      const unknown = route({ service: { name: "ghost", port: { number: 80 } } });
      expect(unknown.routes).toEqual([]);
      expect(unknown.problems).toEqual(["ingress shop/ing: Prefix / on any host: service shop/ghost not found (yet); ignored"]);

      const elsewhere = route({ service: { name: "cart", port: { number: 9000 } } }, "other");
      expect(elsewhere.routes).toEqual([]);
      expect(elsewhere.problems).toEqual(["ingress other/ing: Prefix / on any host: service other/cart not found (yet); ignored"]);

      const noPort = route({ service: { name: "cart", port: { number: 50000 } } });
      expect(noPort.routes).toEqual([]);
      expect(noPort.problems).toEqual(["ingress shop/ing: Prefix / on any host: service shop/cart has no TCP port 50000; ignored"]);
    });

    it("skips resource backends and Service backends without a port, with a problem", () => {
      const resource = route({ resource: { apiGroup: "k8s.example.com", kind: "StorageBucket", name: "assets" } });
      expect(resource.routes).toEqual([]);
      expect(resource.problems).toEqual([
        "ingress shop/ing: Prefix / on any host has resource backend StorageBucket/assets, only Service backends are supported; ignored",
      ]);
      const portless = route({ service: { name: "cart" } });
      expect(portless.routes).toEqual([]);
      expect(portless.problems).toEqual(["ingress shop/ing: Prefix / on any host: service cart names no port; ignored"]);
    });

    it("resolves the default backend the same way", () => {
      const translation = translateIngresses(
        [
          ingress(
            "def",
            { ingressClassName: "edgegate", defaultBackend: { resource: { kind: "Bucket", name: "b" } } },
            { namespace: "shop" },
          ),
        ],
        "edgegate",
        services,
      );
      expect(translation.routes).toEqual([]);
      expect(translation.problems).toEqual([
        "ingress shop/def: default backend has resource backend Bucket/b, only Service backends are supported; ignored",
      ]);
    });
  });

  describe("tls", () => {
    it("lists TLS entries with lower-cased hosts in Ingress order, and skips those without a secretName", () => {
      const translation = translateIngresses(
        [
          ingress(
            "newer",
            { ingressClassName: "edgegate", tls: [{ hosts: ["B.example.com"], secretName: "b-cert" }] },
            { created: "2025-02-01T00:00:00Z" },
          ),
          ingress(
            "older",
            {
              ingressClassName: "edgegate",
              tls: [{ hosts: ["A.example.com", "*.A.example.com"], secretName: "a-cert" }, { hosts: ["nosecret.example.com"] }, { secretName: "default-cert" }],
            },
            { created: "2025-01-01T00:00:00Z" },
          ),
          ingress("not-ours", { ingressClassName: "other", tls: [{ hosts: ["c.example.com"], secretName: "c-cert" }] }),
        ],
        "edgegate",
        noServices,
      );
      expect(translation.tls).toEqual([
        { namespace: "apps", secretName: "a-cert", hosts: ["a.example.com", "*.a.example.com"], source: "apps/older" },
        { namespace: "apps", secretName: "default-cert", hosts: [], source: "apps/older" },
        { namespace: "apps", secretName: "b-cert", hosts: ["b.example.com"], source: "apps/newer" },
      ]);
      expect(translation.problems).toEqual(["ingress apps/older: tls[1] (nosecret.example.com) has no secretName; ignored"]);
    });
  });
});

describe("matchesIngressPath", () => {
  // The examples table of the Kubernetes Ingress docs, plus RPC paths.
  it.each([
    ["Prefix", "/", "/anything", true],
    ["Prefix", "/", "/", true],
    ["Prefix", "/foo", "/foo", true],
    ["Prefix", "/foo", "/foo/", true],
    ["Prefix", "/foo/", "/foo", true],
    ["Prefix", "/foo", "/foo/bar", true],
    ["Prefix", "/foo", "/foobar", false],
    ["Prefix", "/aaa/bb", "/aaa/bbb", false],
    ["Prefix", "/aaa/bbb", "/aaa/bbb/ccc", true],
    ["Prefix", "/aaa/bbb/", "/aaa/bbb", true],
    ["Prefix", "/aaa/bbb", "/aaa/bbbxyz", false],
    ["Prefix", "/Foo", "/foo", false],
    ["Prefix", "/voice.v1.AsrService", "/voice.v1.AsrService/Recognize", true],
    ["Prefix", "/voice.v1.AsrService", "/voice.v1.AsrServiceAdmin/Reset", false],
    ["Prefix", "/voice.v1", "/voice.v1.AsrService/Recognize", false],
    ["Exact", "/foo", "/foo", true],
    ["Exact", "/foo", "/bar", false],
    ["Exact", "/foo", "/foo/", false],
    ["Exact", "/foo/", "/foo", false],
    ["Exact", "/voice.v1.AsrService/Recognize", "/voice.v1.AsrService/Recognize", true],
    ["Exact", "/voice.v1.AsrService/Recognize", "/voice.v1.AsrService/RecognizeStream", false],
  ] as const)("%s %s vs %s: %s", (type, rule, request, expected) => {
    expect(matchesIngressPath({ type, path: rule }, request)).toBe(expected);
  });
});

describe("matchesIngressHost", () => {
  // The spec's host table: a wildcard stands for exactly one DNS label.
  it.each([
    [undefined, "anything.example.com", true],
    ["foo.bar.com", "foo.bar.com", true],
    ["foo.bar.com", "bar.com", false],
    ["foo.bar.com", "x.foo.bar.com", false],
    ["*.foo.com", "bar.foo.com", true],
    ["*.foo.com", "baz.bar.foo.com", false],
    ["*.foo.com", "foo.com", false],
    ["*.foo.com", ".foo.com", false],
    ["*.foo.com", "barfoo.com", false],
  ] as const)("%s vs %s: %s", (routeHost, host, expected) => {
    expect(matchesIngressHost(routeHost, host)).toBe(expected);
  });
});
