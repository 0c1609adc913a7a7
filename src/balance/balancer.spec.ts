import { Code } from "@connectrpc/connect";
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

  it("passes over a cooling endpoint without filtering per pick: the usable endpoints are filtered once per change", () => {
    let calls = 0;
    const seen = new Set<readonly Endpoint[]>();
    const rr = createRoundRobinPicker();
    const balancer = new Balancer({
      picker: {
        pick: (candidates, inFlight) => {
          calls++;
          seen.add(candidates);
          return rr.pick(candidates, inFlight);
        },
      },
      now: () => 0,
      connectFailureCooldownMs: 1000,
    });
    const many = Array.from({ length: 5000 }, (_, i) => createEndpoint(`10.1.${i >> 8}.${i & 255}`, 80));
    balancer.apply({ added: many, removed: [] });
    const failing = balancer.pick();
    failing?.connectFailed();
    failing?.release();
    calls = 0;
    seen.clear();
    for (let i = 0; i < 10_000; i++) {
      const lease = balancer.pick();
      expect(lease?.endpoint).not.toBe(failing?.endpoint);
      lease?.release();
    }
    expect(calls).toBe(10_000);
    // One filtered list of the 4,999 others, reused by every pick.
    expect([...seen].map((candidates) => candidates.length)).toEqual([4999]);
  });
});

function setupWithOutliers(outlierDetection = { consecutiveFailures: 3, baseEjectionTimeMs: 10_000, maxEjectionPercent: 50 }) {
  let now = 1_000_000;
  const events: string[] = [];
  const balancer = new Balancer({
    picker: createRoundRobinPicker(),
    now: () => now,
    connectFailureCooldownMs: 1000,
    outlierDetection,
    onEvent: (event) =>
      events.push(
        event.type === "ejected"
          ? `ejected ${event.endpoint.address} for ${event.durationMs}`
          : `${event.type} ${event.endpoint.address}`,
      ),
  });
  /** Picks, and ends the call on whichever endpoint it landed with `code` (undefined: OK). */
  const call = (code?: Code) => {
    const lease = balancer.pick();
    lease?.release();
    lease?.report(code);
    return lease?.endpoint.address;
  };
  /** Ends calls with `code` until `count` of them landed on `endpoint`. */
  const failOn = (endpoint: Endpoint, count: number, code: Code | "ok" = Code.Unavailable) => {
    for (let landed = 0, guard = 0; landed < count && guard < 1000; guard++) {
      const lease = balancer.pick();
      lease?.release();
      if (lease?.endpoint === endpoint) {
        lease.report(code === "ok" ? undefined : code);
        landed++;
      } else {
        lease?.report(undefined);
      }
    }
  };
  const picks = (n: number) => Array.from({ length: n }, () => call());
  return { balancer, events, call, failOn, picks, advance: (ms: number) => (now += ms), now: () => now };
}

describe("Balancer health", () => {
  it("gives an unhealthy endpoint no new calls while others remain, and takes it back once healthy", () => {
    const { balancer, picks } = setupWithOutliers();
    balancer.apply({ added: [a, b, c], removed: [] });
    balancer.setHealth(b.address, false);
    expect(new Set(picks(6))).toEqual(new Set([a.address, c.address]));
    balancer.setHealth(b.address, true);
    expect(new Set(picks(6))).toEqual(new Set([a.address, b.address, c.address]));
  });

  it("keeps round robin fair over the endpoints left: no neighbour inherits the unavailable one's turns", () => {
    const { balancer, picks } = setupWithOutliers();
    balancer.apply({ added: [a, b, c], removed: [] });
    balancer.setHealth(a.address, false);
    const counts = new Map<string | undefined, number>();
    for (const address of picks(600)) {
      counts.set(address, (counts.get(address) ?? 0) + 1);
    }
    expect(counts).toEqual(new Map([[b.address, 300], [c.address, 300]]));
  });

  it("panics when every endpoint is unavailable: picks go to all of them", () => {
    const { balancer, picks } = setupWithOutliers();
    balancer.apply({ added: [a, b], removed: [] });
    balancer.setHealth(a.address, false);
    balancer.setHealth(b.address, false);
    expect(new Set(picks(4))).toEqual(new Set([a.address, b.address]));
  });

  it("ignores verdicts on endpoints outside the set, and lets an endpoint that left come back healthy", () => {
    const { balancer, picks } = setupWithOutliers();
    balancer.setHealth(a.address, false);
    balancer.apply({ added: [a, b], removed: [] });
    expect(new Set(picks(4))).toEqual(new Set([a.address, b.address]));
    balancer.setHealth(a.address, false);
    const onA = balancer.pick(new Set([b.address]));
    balancer.apply({ added: [], removed: [a] });
    balancer.apply({ added: [a], removed: [] });
    onA?.release();
    expect(balancer.states().map((s) => [s.endpoint.address, s.health])).toEqual([
      [b.address, "healthy"],
      [a.address, "healthy"],
    ]);
  });

  it("sends a retry to an available endpoint not yet tried, else to an unavailable one", () => {
    const { balancer } = setupWithOutliers();
    balancer.apply({ added: [a, b, c], removed: [] });
    balancer.setHealth(c.address, false);
    expect(balancer.pick(new Set([a.address]))?.endpoint).toBe(b);
    expect(balancer.pick(new Set([a.address, b.address]))?.endpoint).toBe(c);
    expect(balancer.pick(new Set([a.address, b.address, c.address]))).toBeUndefined();
  });
});

describe("Balancer outlier ejection", () => {
  it("ejects after consecutive Unavailable or Internal answers, then takes the endpoint back when its time is up", () => {
    const { balancer, events, failOn, picks, advance, now } = setupWithOutliers();
    balancer.apply({ added: [a, b], removed: [] });
    failOn(a, 2, Code.Unavailable);
    failOn(a, 1, Code.Internal);
    expect(events).toEqual(["ejected 10.0.0.1:80 for 10000"]);
    expect(balancer.states()).toEqual([
      { endpoint: a, inFlight: 0, health: "healthy", ejectedUntil: now() + 10_000 },
      { endpoint: b, inFlight: 0, health: "healthy" },
    ]);
    expect(new Set(picks(4))).toEqual(new Set([b.address]));
    advance(9_999);
    expect(new Set(picks(4))).toEqual(new Set([b.address]));
    advance(1);
    expect(new Set(picks(4))).toEqual(new Set([a.address, b.address]));
    expect(events).toEqual(["ejected 10.0.0.1:80 for 10000", "returned 10.0.0.1:80"]);
    expect(balancer.states()[0]).toEqual({ endpoint: a, inFlight: 0, health: "healthy" });
  });

  it("resets the count on a success; application errors count as successes, Canceled and DeadlineExceeded as nothing", () => {
    const { balancer, events, failOn } = setupWithOutliers();
    balancer.apply({ added: [a, b], removed: [] });
    failOn(a, 2);
    failOn(a, 1, "ok");
    failOn(a, 2);
    failOn(a, 1, Code.NotFound);
    failOn(a, 2);
    failOn(a, 2, Code.DeadlineExceeded);
    failOn(a, 1, Code.Canceled);
    expect(events).toEqual([]);
    failOn(a, 1);
    expect(events).toEqual(["ejected 10.0.0.1:80 for 10000"]);
  });

  it("ejects for longer each time, and counts connect failures once per lease", () => {
    const { balancer, events, advance } = setupWithOutliers();
    balancer.apply({ added: [a], removed: [] });
    const refuse = () => {
      const lease = balancer.pick();
      lease?.release();
      lease?.connectFailed();
      lease?.report(Code.Unavailable);
    };
    refuse();
    refuse();
    expect(events).toEqual([]);
    refuse();
    expect(events).toEqual(["ejected 10.0.0.1:80 for 10000"]);
    advance(10_000);
    refuse();
    refuse();
    refuse();
    expect(events).toEqual(["ejected 10.0.0.1:80 for 10000", "returned 10.0.0.1:80", "ejected 10.0.0.1:80 for 20000"]);
  });

  it("ignores what calls in flight report once their endpoint is ejected, or has left", () => {
    const { balancer, events, advance } = setupWithOutliers();
    balancer.apply({ added: [a, b], removed: [] });
    const onA = Array.from({ length: 8 }, () => balancer.pick()).filter((l) => l?.endpoint === a);
    expect(onA).toHaveLength(4);
    for (const lease of onA.slice(0, 3)) {
      lease?.report(Code.Unavailable);
    }
    onA[3]?.report(Code.Unavailable);
    expect(events).toEqual(["ejected 10.0.0.1:80 for 10000"]);
    advance(10_000);
    const late = balancer.pick(new Set([b.address]));
    balancer.apply({ added: [], removed: [a] });
    late?.report(Code.Unavailable);
    expect(balancer.states().map((s) => s.endpoint)).toEqual([b]);
  });

  it("never ejects more than maxEjectionPercent (rounded down, at least one): the next candidate goes out once room is made", () => {
    const { balancer, events, failOn, advance } = setupWithOutliers({
      consecutiveFailures: 3,
      baseEjectionTimeMs: 10_000,
      maxEjectionPercent: 34,
    });
    balancer.apply({ added: [a, b, c], removed: [] });
    failOn(a, 3);
    failOn(b, 5);
    expect(events).toEqual(["ejected 10.0.0.1:80 for 10000", "ejection-capped 10.0.0.2:80"]);
    expect(balancer.states().filter((s) => s.ejectedUntil !== undefined)).toHaveLength(1);
    advance(10_000);
    failOn(b, 1);
    expect(events.slice(2)).toEqual(["returned 10.0.0.1:80", "ejected 10.0.0.2:80 for 10000"]);
    expect(balancer.states().filter((s) => s.ejectedUntil !== undefined).map((s) => s.endpoint)).toEqual([b]);
  });

  it("ejects nothing with maxEjectionPercent 0, and the only endpoint of a backend to no effect (panic)", () => {
    const off = setupWithOutliers({ consecutiveFailures: 1, baseEjectionTimeMs: 1000, maxEjectionPercent: 0 });
    off.balancer.apply({ added: [a, b], removed: [] });
    off.failOn(a, 5);
    expect(off.events).toEqual([]);
    const single = setupWithOutliers({ consecutiveFailures: 1, baseEjectionTimeMs: 1000, maxEjectionPercent: 10 });
    single.balancer.apply({ added: [a], removed: [] });
    single.failOn(a, 1);
    expect(single.events).toEqual(["ejected 10.0.0.1:80 for 1000"]);
    expect(single.picks(2)).toEqual([a.address, a.address]);
  });

  it("counts ejected endpoints that leave and come back while their calls drain", () => {
    const { balancer, failOn, events } = setupWithOutliers({ consecutiveFailures: 1, baseEjectionTimeMs: 1000, maxEjectionPercent: 50 });
    balancer.apply({ added: [a, b, c, createEndpoint("10.0.0.4", 80)], removed: [] });
    failOn(a, 1);
    const draining = balancer.pick(new Set([b.address, c.address, "10.0.0.4:80"]));
    expect(draining?.endpoint).toBe(a);
    balancer.apply({ added: [], removed: [a] });
    failOn(b, 1);
    balancer.apply({ added: [a], removed: [] });
    failOn(c, 1);
    draining?.release();
    expect(events).toEqual([
      "ejected 10.0.0.1:80 for 1000",
      "ejected 10.0.0.2:80 for 1000",
      "ejection-capped [fd00::3]:80",
    ]);
  });
});
