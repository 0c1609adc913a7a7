import { describe, expect, it } from "vitest";
import type { RouteConfig } from "../config/gateway-config.ts";
import { hostOfAuthority, matchesHost } from "./match-host.ts";
import { configRouteEntries, createRouteTable, effectiveTimeout, type RouteRequest } from "./route-table.ts";

function route(patch: Partial<RouteConfig> & { backend: string }): RouteConfig {
  return { hosts: undefined, services: undefined, methods: undefined, cors: undefined, defaultTimeoutMs: undefined, maxTimeoutMs: undefined, ...patch };
}

function request(service: string, host = "api.example.com", method = "Call"): RouteRequest {
  return { host, service, method, path: `/${service}/${method}` };
}

describe("createRouteTable(configRouteEntries())", () => {
  const table = createRouteTable(
    configRouteEntries([
      route({ services: ["greet.v1.GreetService"], backend: "greet" }),
      route({ services: ["shop.v1."], backend: "shop" }),
      route({ backend: "fallback" }),
    ]),
  );

  it("matches a full service name exactly", () => {
    expect(table.match(request("greet.v1.GreetService"))?.backend).toBe("greet");
    expect(table.match(request("greet.v1.GreetServiceX"))?.backend).toBe("fallback");
  });

  it("matches a package prefix ending in a dot, sub-packages included", () => {
    expect(table.match(request("shop.v1.CartService"))?.backend).toBe("shop");
    expect(table.match(request("shop.v1.admin.AuditService"))?.backend).toBe("shop");
    expect(table.match(request("shop.v10.CartService"))?.backend).toBe("fallback");
  });

  it("lets the first matching route win", () => {
    const first = createRouteTable(
      configRouteEntries([route({ services: ["a."], backend: "one" }), route({ services: ["a.B"], backend: "two" })]),
    );
    expect(first.match(request("a.B"))?.backend).toBe("one");
  });

  it("returns undefined when nothing matches", () => {
    expect(createRouteTable(configRouteEntries([route({ services: ["a.B"], backend: "x" })])).match(request("c.D"))).toBeUndefined();
  });

  it("matches hosts exactly or by a one-label wildcard, then services, then methods", () => {
    const hosts = createRouteTable(
      configRouteEntries([
        route({ hosts: ["api.example.com"], services: ["greet.v1."], methods: ["Greet"], backend: "greet-only" }),
        route({ hosts: ["api.example.com"], backend: "api" }),
        route({ hosts: ["*.apps.example.com"], backend: "apps" }),
      ]),
    );
    expect(hosts.match(request("greet.v1.GreetService", "api.example.com", "Greet"))?.backend).toBe("greet-only");
    expect(hosts.match(request("greet.v1.GreetService", "api.example.com", "GreetStream"))?.backend).toBe("api");
    expect(hosts.match(request("x.Y", "shop.apps.example.com"))?.backend).toBe("apps");
    expect(hosts.match(request("x.Y", "a.shop.apps.example.com"))).toBeUndefined();
    expect(hosts.match(request("x.Y", "apps.example.com"))).toBeUndefined();
    expect(hosts.match(request("x.Y", "other.example.com"))).toBeUndefined();
  });

  it("names each route's source and builds its CORS policy", () => {
    const [entry] = configRouteEntries([
      route({ backend: "b", cors: { allowedOrigins: ["https://app.example.com"], allowedHeaders: [], exposedHeaders: [], maxAgeSeconds: 60 } }),
    ]);
    expect(entry?.route.source).toBe("routes[0]");
    expect(entry?.route.cors?.allows("https://app.example.com")).toBe(true);
  });

  it("carries the route's default and maximum timeouts", () => {
    const [plain, timed] = configRouteEntries([
      route({ backend: "a" }),
      route({ backend: "b", defaultTimeoutMs: 2_000, maxTimeoutMs: 30_000 }),
    ]);
    expect(plain?.route).toMatchObject({ defaultTimeoutMs: undefined, maxTimeoutMs: undefined });
    expect(timed?.route).toMatchObject({ defaultTimeoutMs: 2_000, maxTimeoutMs: 30_000 });
  });
});

describe("effectiveTimeout", () => {
  const none = { defaultTimeoutMs: undefined, maxTimeoutMs: undefined };
  const both = { defaultTimeoutMs: 2_000, maxTimeoutMs: 30_000 };

  it("keeps the client's timeout on a route without limits, and none when it sent none", () => {
    expect(effectiveTimeout(none, 5_000, true)).toBe(5_000);
    expect(effectiveTimeout(none, undefined, true)).toBeUndefined();
  });

  it("caps the client's timeout at maxTimeout, unary or stream alike, and never raises it", () => {
    expect(effectiveTimeout(both, 60_000, true)).toBe(30_000);
    expect(effectiveTimeout(both, 60_000, false)).toBe(30_000);
    expect(effectiveTimeout(both, 60_000, undefined)).toBe(30_000);
    expect(effectiveTimeout(both, 500, true)).toBe(500);
  });

  it("gives a unary call without a client timeout the default (else the cap), never more than the cap", () => {
    expect(effectiveTimeout(both, undefined, true)).toBe(2_000);
    expect(effectiveTimeout({ defaultTimeoutMs: undefined, maxTimeoutMs: 30_000 }, undefined, true)).toBe(30_000);
    expect(effectiveTimeout({ defaultTimeoutMs: 60_000, maxTimeoutMs: 30_000 }, undefined, true)).toBe(30_000);
  });

  it("gives streams, and calls of unknown kind, no timeout of their own", () => {
    expect(effectiveTimeout(both, undefined, false)).toBeUndefined();
    expect(effectiveTimeout(both, undefined, undefined)).toBeUndefined();
  });
});

describe("hostOfAuthority / matchesHost", () => {
  it("lower-cases, strips the port, the brackets of IPv6 and a trailing dot", () => {
    expect(hostOfAuthority("API.Example.com:8443")).toBe("api.example.com");
    expect(hostOfAuthority("api.example.com.")).toBe("api.example.com");
    expect(hostOfAuthority("[::1]:8080")).toBe("::1");
    expect(hostOfAuthority("127.0.0.1")).toBe("127.0.0.1");
  });

  it("matches a wildcard with exactly one label in front", () => {
    expect(matchesHost("*.example.com", "a.example.com")).toBe(true);
    expect(matchesHost("*.example.com", "a.b.example.com")).toBe(false);
    expect(matchesHost("*.example.com", "example.com")).toBe(false);
    expect(matchesHost("*.example.com", ".example.com")).toBe(false);
    expect(matchesHost("example.com", "example.com")).toBe(true);
  });
});
