import { describe, expect, it } from "vitest";
import { describeConfig } from "./describe-config.ts";
import { validateConfig } from "./validate-config.ts";

describe("describeConfig", () => {
  it("names every backend's discovery source", () => {
    const config = validateConfig({
      listeners: [{ address: "127.0.0.1:8080" }],
      routes: [
        { services: ["greet.v1."], backend: "a" },
        { backend: "b" },
        { hosts: ["api.example.com", "*.example.com"], services: ["greet.v1.GreetService"], methods: ["Greet"], backend: "a", cors: { allowedOrigins: ["https://app.example.com"] } },
      ],
      backends: [
        { name: "a", discovery: { static: { endpoints: ["[::1]:50051", "10.0.0.1:50051"] } }, tls: { serverName: "greet.internal" } },
        { name: "b", balancer: "least_request", discovery: { kubernetes: { service: "greet", port: "grpc" } } },
        { name: "c", discovery: { kubernetes: { namespace: "shop", service: "cart", port: 8080 } } },
        { name: "d", discovery: { dns: { host: "greet.local", port: 50051, refreshSeconds: 2, servers: ["127.0.0.1:5353"] } } },
      ],
      kubernetes: { ingress: { className: "edgegate" } },
    });
    expect(describeConfig(config)).toEqual([
      "listener 0: 127.0.0.1:8080 cleartext (HTTP/1.1 and h2c)",
      "route 0: greet.v1. -> backend a",
      "route 1: * -> backend b",
      "route 2: api.example.com, *.example.com greet.v1.GreetService methods Greet -> backend a, CORS for https://app.example.com",
      "routes from Ingresses of class edgegate in all namespaces, after the above",
      "backend a: round_robin, static [::1]:50051, 10.0.0.1:50051, TLS to the pods as greet.internal",
      "backend b: least_request, kubernetes EndpointSlices of service (context namespace)/greet, port grpc",
      "backend c: round_robin, kubernetes EndpointSlices of service shop/cart, port 8080",
      "backend d: round_robin, dns greet.local port 50051, every 2s via 127.0.0.1:5353",
    ]);
  });
});
