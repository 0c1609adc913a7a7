import type { V1EndpointSlice } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { Endpoint } from "../../balance/endpoint.ts";
import type { EndpointChange } from "../endpoint-source.ts";
import { ServiceEndpoints } from "./service-endpoints.ts";
import { type PortRef, sliceEndpoints } from "./slice-endpoints.ts";

interface Conditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

function slice(
  endpoints: Array<[ip: string, conditions?: Conditions]>,
  ports: Array<{ name?: string; port: number; protocol?: string }> = [{ name: "grpc", port: 50051 }],
): V1EndpointSlice {
  return {
    addressType: "IPv4",
    metadata: { name: "s", labels: { "kubernetes.io/service-name": "greet" } },
    ports,
    endpoints: endpoints.map(([ip, conditions]) => ({ addresses: [ip], ...(conditions ? { conditions } : {}) })),
  };
}

/** Applies changes to a plain set, as the balancer does, so tests see what the balancer would. */
function tracker() {
  const set = new Map<string, Endpoint>();
  return {
    apply(change: EndpointChange) {
      for (const e of change.removed) set.delete(e.address);
      for (const e of change.added) set.set(e.address, e);
      return change;
    },
    addresses: () => [...set.keys()].sort(),
  };
}

function addresses(change: EndpointChange) {
  return { added: change.added.map((e) => e.address).sort(), removed: change.removed.map((e) => e.address).sort() };
}

describe("sliceEndpoints", () => {
  it("resolves the port by name per slice, and by number", () => {
    const byName = sliceEndpoints(slice([["10.0.0.1"]], [{ name: "http", port: 80 }, { name: "grpc", port: 9000 }]), "grpc");
    expect([...byName.keys()]).toEqual(["10.0.0.1:9000"]);
    expect([...sliceEndpoints(slice([["10.0.0.1"]]), 50051).keys()]).toEqual(["10.0.0.1:50051"]);
  });

  it("contributes nothing when the slice lacks the port (or has it only for UDP)", () => {
    expect(sliceEndpoints(slice([["10.0.0.1"]]), "http").size).toBe(0);
    expect(sliceEndpoints(slice([["10.0.0.1"]], [{ name: "grpc", port: 53, protocol: "UDP" }]), "grpc").size).toBe(0);
    expect(sliceEndpoints({ ...slice([["10.0.0.1"]]), ports: undefined }, "grpc").size).toBe(0);
  });

  it("matches an unnamed port only by an empty name or its number", () => {
    const unnamed = slice([["10.0.0.1"]], [{ port: 8080 }]);
    expect(sliceEndpoints(unnamed, "grpc").size).toBe(0);
    expect(sliceEndpoints(unnamed, 8080).size).toBe(1);
  });

  it("classes endpoints as kube-proxy does: missing ready means ready; serving and terminating is a fallback", () => {
    const contribution = sliceEndpoints(
      slice([
        ["10.0.0.1"],
        ["10.0.0.2", { ready: true }],
        ["10.0.0.3", { ready: false, serving: true, terminating: true }],
        ["10.0.0.4", { ready: false, serving: false, terminating: true }],
        ["10.0.0.5", { ready: false }],
        ["10.0.0.6", { ready: false, serving: true }],
      ]),
      "grpc",
    );
    expect(Object.fromEntries([...contribution].map(([a, e]) => [a, e.class]))).toEqual({
      "10.0.0.1:50051": "ready",
      "10.0.0.2:50051": "ready",
      "10.0.0.3:50051": "fallback",
    });
  });

  it("brackets IPv6 addresses and uses only an endpoint's first address", () => {
    const v6 = { ...slice([]), addressType: "IPv6", endpoints: [{ addresses: ["fd00::1", "fd00::2"] }] };
    expect([...sliceEndpoints(v6, "grpc").keys()]).toEqual(["[fd00::1]:50051"]);
  });
});

describe("ServiceEndpoints", () => {
  const port: PortRef = "grpc";

  it("merges slices, dedupes an address in two, and a deleted slice removes only its own", () => {
    const service = new ServiceEndpoints();
    const seen = tracker();
    expect(addresses(seen.apply(service.setSlice("a", sliceEndpoints(slice([["10.0.0.1"], ["10.0.0.2"]]), port))))).toEqual({
      added: ["10.0.0.1:50051", "10.0.0.2:50051"],
      removed: [],
    });
    expect(addresses(seen.apply(service.setSlice("b", sliceEndpoints(slice([["10.0.0.2"], ["10.0.0.3"]]), port))))).toEqual({
      added: ["10.0.0.3:50051"],
      removed: [],
    });
    expect(addresses(seen.apply(service.setSlice("a", undefined)))).toEqual({ added: [], removed: ["10.0.0.1:50051"] });
    expect(seen.addresses()).toEqual(["10.0.0.2:50051", "10.0.0.3:50051"]);
  });

  it("falls back to serving-and-terminating endpoints only while none is ready", () => {
    const service = new ServiceEndpoints();
    const seen = tracker();
    seen.apply(service.setSlice("a", sliceEndpoints(slice([["10.0.0.1"], ["10.0.0.2", { ready: false, serving: true, terminating: true }]]), port)));
    expect(seen.addresses()).toEqual(["10.0.0.1:50051"]);
    seen.apply(service.setSlice("a", sliceEndpoints(slice([["10.0.0.1", { ready: false, serving: true, terminating: true }], ["10.0.0.2", { ready: false, serving: true, terminating: true }]]), port)));
    expect(seen.addresses()).toEqual(["10.0.0.1:50051", "10.0.0.2:50051"]);
    seen.apply(service.setSlice("b", sliceEndpoints(slice([["10.0.0.9"]]), port)));
    expect(seen.addresses()).toEqual(["10.0.0.9:50051"]);
    seen.apply(service.setSlice("b", undefined));
    expect(seen.addresses()).toEqual(["10.0.0.1:50051", "10.0.0.2:50051"]);
    seen.apply(service.setSlice("a", sliceEndpoints(slice([["10.0.0.1", { ready: false, serving: false, terminating: true }]]), port)));
    expect(seen.addresses()).toEqual([]);
  });

  it("reports no change when a slice is re-sent unchanged (a re-list)", () => {
    const service = new ServiceEndpoints();
    const s = slice([["10.0.0.1"], ["10.0.0.2"]]);
    service.setSlice("a", sliceEndpoints(s, port));
    expect(addresses(service.setSlice("a", sliceEndpoints(s, port)))).toEqual({ added: [], removed: [] });
  });

  it("always agrees with a from-scratch merge over random slice histories", () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pickConditions = (): Conditions | undefined =>
      [undefined, { ready: true }, { ready: false }, { ready: false, serving: true, terminating: true }, { ready: false, serving: false, terminating: true }][
        Math.floor(random() * 5)
      ];
    for (let round = 0; round < 200; round++) {
      const service = new ServiceEndpoints();
      const seen = tracker();
      const slices = new Map<string, V1EndpointSlice>();
      for (let step = 0; step < 30; step++) {
        const key = `s${Math.floor(random() * 4)}`;
        if (random() < 0.2) {
          slices.delete(key);
          seen.apply(service.setSlice(key, undefined));
        } else {
          const entries = Array.from({ length: Math.floor(random() * 5) }, (): [string, Conditions?] => [
            `10.0.0.${Math.floor(random() * 8)}`,
            pickConditions(),
          ]);
          const next = slice(entries);
          slices.set(key, next);
          seen.apply(service.setSlice(key, sliceEndpoints(next, port)));
        }
        const all = [...slices.values()].flatMap((s) => [...sliceEndpoints(s, port).values()]);
        const anyReady = all.some((e) => e.class === "ready");
        const expected = [...new Set(all.filter((e) => e.class === (anyReady ? "ready" : "fallback")).map((e) => e.endpoint.address))].sort();
        expect(seen.addresses()).toEqual(expected);
        expect(service.current().map((e) => e.address).sort()).toEqual(expected);
      }
    }
  });
});
