import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createAdminStateObserver } from "./admin-state.ts";
import type { CallInfo, CallOutcome } from "./call-observer.ts";

const info: CallInfo = {
  host: "api.example.test",
  protocol: "grpc",
  path: "/greet.v1.GreetService/Greet",
  route: "routes[0]",
  backend: "pods",
  traceId: undefined,
};
const outcome = (endpoint: string | undefined, code?: Code): CallOutcome => ({
  code,
  endpoint,
  durationMs: 1,
  bytesIn: 0,
  bytesOut: 0,
});

describe("the admin page's call counters", () => {
  it("averages the calls of each endpoint over a sliding window", () => {
    let now = 1_000_000;
    const calls = createAdminStateObserver({ now: () => now, windowMs: 10_000 });
    for (let i = 0; i < 20; i++) calls.ended(info, outcome("10.0.0.1:8080"));
    calls.ended(info, outcome("10.0.0.2:8080"));
    calls.ended({ ...info, backend: "other" }, outcome("10.0.0.1:8080"));
    expect(calls.callsPerSecond("pods", "10.0.0.1:8080")).toBe(2);
    expect(calls.callsPerSecond("pods", "10.0.0.2:8080")).toBe(0.1);
    expect(calls.callsPerSecond("other", "10.0.0.1:8080")).toBe(0.1);
    expect(calls.callsPerSecond("pods", "10.0.0.3:8080")).toBe(0);
    now += 5_000;
    for (let i = 0; i < 10; i++) calls.ended(info, outcome("10.0.0.1:8080"));
    expect(calls.callsPerSecond("pods", "10.0.0.1:8080")).toBe(3);
    now += 5_000; // the first twenty have left the window
    expect(calls.callsPerSecond("pods", "10.0.0.1:8080")).toBe(1);
    now += 10_000;
    expect(calls.callsPerSecond("pods", "10.0.0.1:8080")).toBe(0);
    calls.ended(info, outcome("10.0.0.1:8080")); // a slot reused after a full turn starts from zero
    expect(calls.callsPerSecond("pods", "10.0.0.1:8080")).toBe(0.1);
  });

  it("keeps the last errors, newest first, with their code name and endpoint", () => {
    let now = 0;
    const calls = createAdminStateObserver({ now: () => now, maxErrors: 3 });
    calls.ended(info, outcome("10.0.0.1:8080"));
    for (let i = 0; i < 5; i++) {
      now = i;
      calls.ended({ ...info, path: `/p/${i}` }, outcome(i === 4 ? undefined : "10.0.0.1:8080", i === 4 ? Code.Unavailable : Code.NotFound));
    }
    expect(calls.recentErrors()).toEqual([
      { at: 4, host: "api.example.test", path: "/p/4", code: "unavailable", backend: "pods", endpoint: undefined },
      { at: 3, host: "api.example.test", path: "/p/3", code: "not_found", backend: "pods", endpoint: "10.0.0.1:8080" },
      { at: 2, host: "api.example.test", path: "/p/2", code: "not_found", backend: "pods", endpoint: "10.0.0.1:8080" },
    ]);
  });
});
