import { describe, expect, it } from "vitest";
import { Balancer } from "./balancer.ts";
import { createEndpoint, type Endpoint } from "./endpoint.ts";
import { createRoundRobinPicker } from "./picker.ts";

function setup() {
  let now = 0;
  const retired: string[] = [];
  const balancer = new Balancer({
    picker: createRoundRobinPicker(),
    now: () => now,
    connectFailureCooldownMs: 1000,
    onEndpointRetired: (e: Endpoint) => retired.push(e.address),
  });
  return { balancer, retired, advance: (ms: number) => (now += ms) };
}

const a = createEndpoint("10.0.0.1", 80);
const b = createEndpoint("10.0.0.2", 80);
const c = createEndpoint("fd00::3", 80);

describe("Balancer", () => {
  it("has nothing to pick from an empty set", () => {
    expect(setup().balancer.pick()).toBeUndefined();
  });

  it("dedupes an address that appears twice", () => {
    const { balancer } = setup();
    balancer.update([a, b, createEndpoint("10.0.0.1", 80)]);
    expect(balancer.current().map((e) => e.address)).toEqual(["10.0.0.1:80", "10.0.0.2:80"]);
  });

  it("brackets IPv6 hosts in addresses", () => {
    expect(c.address).toBe("[fd00::3]:80");
  });

  it("counts calls in flight per endpoint, released once", () => {
    const { balancer } = setup();
    balancer.update([a]);
    const lease = balancer.pick();
    expect(balancer.inFlight(a)).toBe(1);
    lease?.release();
    lease?.release();
    expect(balancer.inFlight(a)).toBe(0);
  });

  it("keeps an endpoint that left until its last call ends, then retires it", () => {
    const { balancer, retired } = setup();
    balancer.update([a, b]);
    const onA = balancer.pick();
    expect(onA?.endpoint).toBe(a);
    balancer.update([b]);
    expect(retired).toEqual([]);
    expect(balancer.pick()?.endpoint).toBe(b);
    onA?.release();
    expect(retired).toEqual(["10.0.0.1:80"]);
  });

  it("retires an idle endpoint as soon as it leaves", () => {
    const { balancer, retired } = setup();
    balancer.update([a, b]);
    balancer.update([b]);
    expect(retired).toEqual(["10.0.0.1:80"]);
  });

  it("passes over an endpoint that refused a connection while others remain, then takes it back", () => {
    const { balancer, advance } = setup();
    balancer.update([a, b]);
    const first = balancer.pick();
    expect(first?.endpoint).toBe(a);
    first?.connectFailed();
    first?.release();
    const picks = Array.from({ length: 4 }, () => {
      const lease = balancer.pick();
      lease?.release();
      return lease?.endpoint.address;
    });
    expect(picks).toEqual(Array(4).fill("10.0.0.2:80"));
    advance(1001);
    const after = new Set(
      Array.from({ length: 4 }, () => {
        const lease = balancer.pick();
        lease?.release();
        return lease?.endpoint.address;
      }),
    );
    expect(after).toEqual(new Set(["10.0.0.1:80", "10.0.0.2:80"]));
  });

  it("still picks a failing endpoint when every endpoint is failing", () => {
    const { balancer } = setup();
    balancer.update([a]);
    balancer.pick()?.connectFailed();
    expect(balancer.pick()?.endpoint).toBe(a);
  });
});
