import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { allTransports, createTransport, type Harness, startHarness } from "../support/harness.ts";

describe("balancing per request over one client connection", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  // The point of the project: one HTTP/2 (or keep-alive HTTP/1.1) connection,
  // yet every call may land on another pod.
  it.each(allTransports)("30 unary calls over %s reach all three pods evenly", async (name) => {
    const client = createClient(GreetService, createTransport(name, harness.baseUrl));
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const res = await client.greet({ name: `call ${i}` });
      counts.set(res.pod, (counts.get(res.pod) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ "pod-a": 10, "pod-b": 10, "pod-c": 10 });
  });
});
