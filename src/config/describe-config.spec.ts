import { describe, expect, it } from "vitest";
import { describeConfig } from "./describe-config.ts";
import { validateConfig } from "./validate-config.ts";

describe("describeConfig", () => {
  it("names every backend's discovery source", () => {
    const config = validateConfig({
      listeners: [{ address: "127.0.0.1:8080" }],
      routes: [{ services: ["greet.v1."], backend: "a" }, { backend: "b" }],
      backends: [
        { name: "a", discovery: { static: { endpoints: ["[::1]:50051", "10.0.0.1:50051"] } } },
        { name: "b", balancer: "least_request", discovery: { kubernetes: { service: "greet", port: "grpc" } } },
        { name: "c", discovery: { kubernetes: { namespace: "shop", service: "cart", port: 8080 } } },
        { name: "d", discovery: { dns: { host: "greet.local", port: 50051, refreshSeconds: 2, servers: ["127.0.0.1:5353"] } } },
      ],
    });
    expect(describeConfig(config)).toEqual([
      "route 0: greet.v1. -> backend a",
      "route 1: * -> backend b",
      "backend a: round_robin, static [::1]:50051, 10.0.0.1:50051",
      "backend b: least_request, kubernetes EndpointSlices of service (context namespace)/greet, port grpc",
      "backend c: round_robin, kubernetes EndpointSlices of service shop/cart, port 8080",
      "backend d: round_robin, dns greet.local port 50051, every 2s via 127.0.0.1:5353",
    ]);
  });
});
