import { cors } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createCorsPolicy } from "./cors-policy.ts";

const policy = createCorsPolicy({
  allowedOrigins: ["https://app.example.com", "https://*.example.org", "http://localhost:5173"],
  allowedHeaders: ["X-Tenant"],
  exposedHeaders: ["x-request-id"],
  maxAgeSeconds: 7200,
});

describe("createCorsPolicy", () => {
  it("allows exact origins, case-insensitively", () => {
    expect(policy.allows("https://app.example.com")).toBe(true);
    expect(policy.allows("HTTPS://APP.EXAMPLE.COM")).toBe(true);
    expect(policy.allows("http://app.example.com")).toBe(false);
    expect(policy.allows("https://app.example.com:8443")).toBe(false);
    expect(policy.allows("http://localhost:5173")).toBe(true);
    expect(policy.allows("http://localhost:5174")).toBe(false);
    expect(policy.allows("null")).toBe(false);
  });

  it("allows any subdomain for a wildcard, on its scheme and port only", () => {
    expect(policy.allows("https://a.example.org")).toBe(true);
    expect(policy.allows("https://a.b.example.org")).toBe(true);
    expect(policy.allows("https://example.org")).toBe(false);
    expect(policy.allows("https://evil-example.org")).toBe(false);
    expect(policy.allows("http://a.example.org")).toBe(false);
    expect(policy.allows("https://a.example.org:444")).toBe(false);
    expect(policy.allows("https://a.example.org.evil.com")).toBe(false);
  });

  it("allows any origin for *", () => {
    const any = createCorsPolicy({ allowedOrigins: ["*"], allowedHeaders: [], exposedHeaders: [], maxAgeSeconds: 0 });
    expect(any.allows("https://anything.test")).toBe(true);
  });

  it("answers preflights with the Connect and gRPC-Web lists plus the route's own", () => {
    const headers = policy.preflightHeaders("https://app.example.com");
    expect(headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(headers.get("access-control-allow-methods")).toBe("POST, GET");
    const allowed = headers.get("access-control-allow-headers")?.split(", ") ?? [];
    expect(allowed).toEqual(expect.arrayContaining([...cors.allowedHeaders.map((h) => h.toLowerCase()), "x-tenant"]));
    expect(headers.get("access-control-max-age")).toBe("7200");
    expect(headers.get("vary")).toContain("Origin");
  });

  it("decorates responses with the echoed origin, the exposed headers and Vary", () => {
    const headers = new Headers({ vary: "Accept-Encoding" });
    policy.decorate("https://a.example.org", headers);
    expect(headers.get("access-control-allow-origin")).toBe("https://a.example.org");
    const exposed = headers.get("access-control-expose-headers")?.split(", ") ?? [];
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"]));
    expect(headers.get("vary")).toBe("Accept-Encoding, Origin");
  });
});
