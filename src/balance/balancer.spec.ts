import { describe, expect, it } from "vitest";
import { diffEndpoints } from "../discovery/diff-endpoints.ts";
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
  /** Replaces the whole set, as a source that learns whole sets does. */
  const update = (next: Endpoint[]) => balancer.apply(diffEndpoints(balancer.current().slice(), next));
  return { balancer, update, retired, advance: (ms: number) => (now += ms) };
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
    balancer.apply({ added: [a, b, createEndpoint("10.0.0.1", 80)], removed: [] });
    expect(balancer.current().map((e) => e.address)).toEqual(["10.0.0.1:80", "10.0.0.2:80"]);
  });

  it("brackets IPv6 hosts in addresses", () => {
    expect(c.address).toBe("[fd00::3]:80");
  });

  it("counts calls in flight per endpoint, released once", () => {
    const { balancer, update } = setup();
    update([a]);
    const lease = balancer.pick();
    expect(balancer.inFlight(a)).toBe(1);
    lease?.release();
    lease?.release();
    expect(balancer.inFlight(a)).toBe(0);
  });

  it("keeps an endpoint that left until its last call ends, then retires it", () => {
    const { balancer, update, retired } = setup();
    update([a, b]);
    const onA = balancer.pick();
    expect(onA?.endpoint).toBe(a);
    update([b]);
    expect(retired).toEqual([]);
    expect(balancer.pick()?.endpoint).toBe(b);
    onA?.release();
    expect(retired).toEqual(["10.0.0.1:80"]);
  });

  it("retires an idle endpoint as soon as it leaves", () => {
    const { balancer, update, retired } = setup();
    update([a, b]);
    update([b]);
    expect(retired).toEqual(["10.0.0.1:80"]);
  });

  it("passes over an endpoint that refused a connection while others remain, then takes it back", () => {
    const { balancer, update, advance } = setup();
    update([a, b]);
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
    const { balancer, update } = setup();
    update([a]);
    balancer.pick()?.connectFailed();
    expect(balancer.pick()?.endpoint).toBe(a);
  });

  it("removes by swapping the last endpoint into the hole, keeping picks O(1) and the set exact", () => {
    const { balancer } = setup();
    const many = Array.from({ length: 6 }, (_, i) => createEndpoint(`10.0.1.${i}`, 80));
    balancer.apply({ added: many, removed: [] });
    balancer.apply({ added: [], removed: [many[1] as Endpoint, many[5] as Endpoint, createEndpoint("10.9.9.9", 80)] });
    expect(new Set(balancer.current().map((e) => e.address))).toEqual(
      new Set(["10.0.1.0:80", "10.0.1.2:80", "10.0.1.3:80", "10.0.1.4:80"]),
    );
    const seen = new Set(Array.from({ length: 4 }, () => balancer.pick()?.endpoint.address));
    expect(seen.size).toBe(4);
  });

  it("takes back an endpoint that returns while its calls still drain, with its count intact", () => {
    const { balancer, retired } = setup();
    balancer.apply({ added: [a, b], removed: [] });
    const onA = balancer.pick();
    balancer.apply({ added: [], removed: [a] });
    balancer.apply({ added: [a], removed: [] });
    expect(balancer.inFlight(a)).toBe(1);
    onA?.release();
    expect(retired).toEqual([]);
    expect(balancer.current().map((e) => e.address)).toEqual(["10.0.0.2:80", "10.0.0.1:80"]);
  });

  it("passes over a cooling endpoint without scanning the set: a re-pick, not a filter of thousands", () => {
    let calls = 0;
    const rr = createRoundRobinPicker();
    const balancer = new Balancer({
      picker: { pick: (candidates, inFlight) => (calls++, candidates.length < 5000 ? expect.unreachable() : rr.pick(candidates, inFlight)) },
      now: () => 0,
      connectFailureCooldownMs: 1000,
    });
    const many = Array.from({ length: 5000 }, (_, i) => createEndpoint(`10.1.${i >> 8}.${i & 255}`, 80));
    balancer.apply({ added: many, removed: [] });
    const failing = balancer.pick();
    failing?.connectFailed();
    failing?.release();
    calls = 0;
    for (let i = 0; i < 10_000; i++) {
      const lease = balancer.pick();
      expect(lease?.endpoint).not.toBe(failing?.endpoint);
      lease?.release();
    }
    expect(calls).toBeLessThanOrEqual(10_002);
  });
});
