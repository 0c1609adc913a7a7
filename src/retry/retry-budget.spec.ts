import { describe, expect, it } from "vitest";
import { RetryBudget } from "./retry-budget.ts";

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("RetryBudget", () => {
  it("allows retries in flight up to the share of active calls, without taking tokens", () => {
    const time = clock();
    const budget = new RetryBudget({ budgetPercent: 20, minRetriesPerSecond: 0, now: time.now });
    const calls = Array.from({ length: 10 }, () => budget.startCall());
    // 20% of 10 active calls: two retries in flight.
    expect(calls[0]?.tryRetry()).toBe(true);
    expect(calls[1]?.tryRetry()).toBe(true);
    expect(calls[2]?.tryRetry()).toBe(false);
    expect(budget.state()).toEqual({ activeCalls: 10, retriesInFlight: 2, tokens: 0 });
    // A retried call that ends frees its retry.
    calls[0]?.end();
    expect(budget.state()).toEqual({ activeCalls: 9, retriesInFlight: 1, tokens: 0 });
    // 20% of 9 is 1.8: the second is refused until more calls are active.
    expect(calls[2]?.tryRetry()).toBe(false);
    budget.startCall();
    expect(calls[2]?.tryRetry()).toBe(true);
  });

  it("grants minRetriesPerSecond from a token bucket when the share does not, refilled continuously", () => {
    const time = clock();
    const budget = new RetryBudget({ budgetPercent: 20, minRetriesPerSecond: 10, now: time.now });
    // One active call: 20% of 1 allows no retry, the bucket allows 10 (its burst is one second's worth).
    const call = budget.startCall();
    for (let i = 0; i < 10; i++) {
      expect(call.tryRetry()).toBe(true);
    }
    expect(call.tryRetry()).toBe(false);
    expect(budget.state().tokens).toBe(0);
    time.advance(99);
    expect(call.tryRetry()).toBe(false);
    time.advance(1); // 100 ms at 10/s: one token
    expect(call.tryRetry()).toBe(true);
    expect(call.tryRetry()).toBe(false);
    // A long pause refills the bucket, never past one second's worth.
    time.advance(60_000);
    expect(budget.state().tokens).toBe(10);
  });

  it("never retries with a zero share and no tokens", () => {
    const time = clock();
    const budget = new RetryBudget({ budgetPercent: 0, minRetriesPerSecond: 0, now: time.now });
    const calls = Array.from({ length: 100 }, () => budget.startCall());
    time.advance(10_000);
    expect(calls.some((c) => c.tryRetry())).toBe(false);
  });

  it("allows every call one retry at 100%", () => {
    const time = clock();
    const budget = new RetryBudget({ budgetPercent: 100, minRetriesPerSecond: 0, now: time.now });
    const calls = Array.from({ length: 5 }, () => budget.startCall());
    expect(calls.map((c) => c.tryRetry())).toEqual([true, true, true, true, true]);
    expect(calls[0]?.tryRetry()).toBe(false);
  });

  it("counts a call once however often it ends, and grants nothing to an ended call", () => {
    const time = clock();
    const budget = new RetryBudget({ budgetPercent: 100, minRetriesPerSecond: 5, now: time.now });
    const call = budget.startCall();
    expect(call.tryRetry()).toBe(true);
    call.end();
    call.end();
    expect(budget.state()).toEqual({ activeCalls: 0, retriesInFlight: 0, tokens: 5 });
    expect(call.tryRetry()).toBe(false);
    expect(budget.state().tokens).toBe(5);
  });

  it("ignores a clock that steps back", () => {
    const time = clock();
    const budget = new RetryBudget({ budgetPercent: 0, minRetriesPerSecond: 1, now: time.now });
    const call = budget.startCall();
    expect(call.tryRetry()).toBe(true);
    time.advance(-5_000);
    expect(call.tryRetry()).toBe(false);
    time.advance(1_000);
    expect(call.tryRetry()).toBe(true);
  });
});
