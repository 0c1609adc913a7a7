import { Code, ConnectError } from "@connectrpc/connect";
import type { EnvelopedMessage, UniversalClientRequest, UniversalClientResponse } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { Balancer, type Lease } from "../balance/balancer.ts";
import { createRoundRobinPicker } from "../balance/picker.ts";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import { createLogger } from "../log/logger.ts";
import type { UpstreamContext } from "./call-upstream.ts";
import { MAX_ATTEMPTS, retryBudgetOf, sendCall } from "./send-call.ts";
import { markUnprocessed, type UpstreamClient } from "./upstream-client.ts";

/** How the fake pod at an address behaves. */
type Behaviour =
  | "refuse" // the connection is refused: unprocessed
  | "refuse-stream" // the pod reads the request, then refuses the stream: unprocessed
  | "goaway" // the stream was above the last-stream-id of the pod's GOAWAY: unprocessed
  | "reset" // the pod reads the request, then resets the stream: may have been processed
  | "ok"
  | "unavailable"; // the pod's application answers Unavailable

/**
 * An upstream client standing in for the HTTP/2 one: each address behaves
 * as told, and every request is recorded with the bytes it sent. (The real
 * client's classification is covered by node-upstream-client.spec.ts and
 * the e2e suites.)
 */
function fakeUpstream(behaviours: Record<string, Behaviour>, clock: { now: number; perAttemptMs?: number }) {
  const requests: { address: string; timeout: string | null; body: number[] }[] = [];
  const client: UpstreamClient = {
    async request(req: UniversalClientRequest): Promise<UniversalClientResponse> {
      const address = new URL(req.url).host;
      const record = { address, timeout: req.header.get("grpc-timeout"), body: [] as number[] };
      requests.push(record);
      clock.now += clock.perAttemptMs ?? 0;
      const behaviour = behaviours[address] ?? "ok";
      if (behaviour === "refuse") {
        throw markUnprocessed(new ConnectError("connect ECONNREFUSED", Code.Unavailable), "connect-failed");
      }
      for await (const chunk of req.body ?? []) {
        record.body.push(...chunk);
      }
      if (behaviour === "refuse-stream") {
        throw markUnprocessed(new ConnectError("upstream refused the stream (REFUSED_STREAM)", Code.Unavailable), "refused");
      }
      if (behaviour === "goaway") {
        throw markUnprocessed(new ConnectError("upstream refused the stream (REFUSED_STREAM)", Code.Unavailable), "goaway");
      }
      if (behaviour === "reset") {
        throw new ConnectError("upstream reset the stream (HTTP/2 error code 0x2)", Code.Internal);
      }
      const status = behaviour === "unavailable" ? "14" : "0";
      return {
        status: 200,
        header: new Headers({ "content-type": "application/grpc", "grpc-status": status }),
        body: (async function* () {})(),
        trailer: new Headers(),
      };
    },
    retire() {},
    close() {},
  };
  return { client, requests };
}

interface Setup {
  readonly behaviours: Record<string, Behaviour>;
  readonly budgetPercent?: number;
  readonly minRetriesPerSecond?: number;
  readonly perAttemptMs?: number;
  /** Give the logger in SendCallOptions rather than in the upstream context. */
  readonly logInOptions?: boolean;
}

function setup(options: Setup) {
  const clock = { now: 1_000_000, perAttemptMs: options.perAttemptMs };
  const now = () => clock.now;
  const { client, requests } = fakeUpstream(options.behaviours, clock);
  const logs: Record<string, unknown>[] = [];
  const log = createLogger("debug", (line) => logs.push(JSON.parse(line) as Record<string, unknown>), now);
  const upstream: UpstreamContext = {
    client,
    scheme: "http",
    compressions: new Map(),
    readMaxBytes: 4 * 1024 * 1024,
    now,
    acceptedByEndpoint: new Map(),
    ...(options.logInOptions === true ? {} : { log }),
  };
  const balancer = new Balancer({ picker: createRoundRobinPicker(), now, connectFailureCooldownMs: 1_000 });
  const addresses = Object.keys(options.behaviours);
  balancer.apply({ added: addresses.map((address) => ({ address, host: address, port: 0 })), removed: [] });
  // What each attempt's lease heard.
  const leases: string[] = [];
  const pick = balancer.pick.bind(balancer);
  balancer.pick = (exclude?: ReadonlySet<string>): Lease | undefined => {
    const lease = pick(exclude);
    if (lease === undefined) {
      return undefined;
    }
    const address = lease.endpoint.address;
    return {
      endpoint: lease.endpoint,
      release: () => lease.release(),
      connectFailed: () => {
        leases.push(`${address} connectFailed`);
        lease.connectFailed();
      },
      report: (code) => {
        leases.push(`${address} report ${code === undefined ? "OK" : Code[code]}`);
        lease.report(code);
      },
    };
  };
  const retry = { budgetPercent: options.budgetPercent ?? 20, minRetriesPerSecond: options.minRetriesPerSecond ?? 10 };
  const options_ = { backend: "pods", balancer, upstream, retry, ...(options.logInOptions === true ? { log } : {}) };
  async function send(messages: EnvelopedMessage[] = [{ flags: 0, data: new Uint8Array([1, 2, 3]) }], timeoutMs?: number) {
    const client = new AbortController();
    const call: CallRequest = {
      protocol: "grpc",
      path: "/probe.v1.ProbeService/Probe",
      service: "probe.v1.ProbeService",
      method: "Probe",
      authority: "gateway",
      metadata: new Headers(),
      timeoutMs,
      encoding: "identity",
      acceptEncoding: [],
      messages: (async function* () {
        yield* messages;
      })(),
      signal: client.signal,
      codec: "proto",
      readOnly: false,
      unary: false,
    };
    const result = await sendCall(options_, call, client.signal, timeoutMs === undefined ? undefined : clock.now + timeoutMs);
    const status = await settle(result);
    client.abort(); // the client's stream closes: the call is over
    return status;
  }
  return { send, requests, leases, logs, balancer, clock };
}

/** Reads a result to its end, as a protocol does. */
async function settle(result: CallResult) {
  for await (const _ of result.messages) {
    // discard
  }
  return result.end().error;
}

const sent = [0, 0, 0, 0, 3, 1, 2, 3]; // the request message in its envelope

describe("sendCall()", () => {
  it("sends a call whose connection was refused to another endpoint", async () => {
    const { send, requests, leases } = setup({ behaviours: { a: "refuse", b: "ok", c: "ok" } });
    expect(await send()).toBeUndefined();
    expect(requests.map((r) => r.address)).toEqual(["a", "c"]);
    expect(requests[1]?.body).toEqual(sent);
    expect(leases).toEqual(["a connectFailed", "c report OK"]);
  });

  it("sends the held request message again when the pod refused the stream after reading it", async () => {
    const { send, requests, leases } = setup({ behaviours: { a: "refuse-stream", b: "ok" } });
    expect(await send()).toBeUndefined();
    expect(requests.map((r) => [r.address, r.body])).toEqual([
      ["a", sent],
      ["b", sent],
    ]);
    expect(leases).toEqual(["a connectFailed", "b report OK"]);
  });

  it("sends a stream a GOAWAY turned away to another endpoint, without counting it against the pod", async () => {
    const { send, requests, leases } = setup({ behaviours: { a: "goaway", b: "ok" } });
    expect(await send()).toBeUndefined();
    expect(requests.map((r) => r.address)).toEqual(["a", "b"]);
    expect(leases).toEqual(["b report OK"]);
  });

  it("takes no budget for a stream a GOAWAY turned away", async () => {
    const { send, requests } = setup({ behaviours: { a: "goaway", b: "ok" }, budgetPercent: 0, minRetriesPerSecond: 0 });
    expect(await send()).toBeUndefined();
    expect(requests.map((r) => r.address)).toEqual(["a", "b"]);
  });

  it("never sends again a call the pod may have processed: an answer of any status, or a reset after the request went out", async () => {
    const answered = setup({ behaviours: { a: "unavailable", b: "ok" } });
    expect((await answered.send())?.code).toBe(Code.Unavailable);
    expect(answered.requests).toHaveLength(1);
    expect(answered.leases).toEqual(["a report Unavailable"]);

    const reset = setup({ behaviours: { a: "reset", b: "ok" } });
    const error = await reset.send();
    expect(error?.code).toBe(Code.Internal);
    expect(error?.rawMessage).toBe("upstream unavailable: stream reset by the endpoint");
    expect(reset.requests).toHaveLength(1);
    expect(reset.leases).toEqual(["a connectFailed"]);
  });

  it(`stops after ${MAX_ATTEMPTS} attempts, each on another endpoint`, async () => {
    const { send, requests } = setup({ behaviours: { a: "refuse", b: "refuse", c: "refuse", d: "refuse" } });
    const error = await send();
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toBe("upstream unavailable: connection refused (after 3 attempts)");
    expect(new Set(requests.map((r) => r.address)).size).toBe(MAX_ATTEMPTS);
  });

  it("answers as before when there is no other endpoint to try", async () => {
    const one = setup({ behaviours: { a: "refuse" } });
    expect((await one.send())?.rawMessage).toBe("upstream unavailable: connection refused");
    const two = setup({ behaviours: { a: "refuse", b: "refuse" } });
    expect((await two.send())?.rawMessage).toBe("upstream unavailable: connection refused (after 2 attempts)");
    expect(two.requests).toHaveLength(2);
  });

  it("does not send a request again once more than it holds was read", async () => {
    const { send, requests } = setup({ behaviours: { a: "refuse-stream", b: "ok" } });
    const big = Array.from({ length: 3 }, () => ({ flags: 0, data: new Uint8Array(30 * 1024) }));
    const error = await send(big);
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toBe("upstream unavailable: stream refused (not retried: the request is too large to send again)");
    expect(requests).toHaveLength(1);
  });

  it("sends the remaining time with each attempt, and does not retry past the deadline", async () => {
    const within = setup({ behaviours: { a: "refuse", b: "ok" }, perAttemptMs: 400 });
    expect(await within.send(undefined, 1_000)).toBeUndefined();
    expect(within.requests.map((r) => r.timeout)).toEqual(["1000m", "600m"]);

    const past = setup({ behaviours: { a: "refuse", b: "ok" }, perAttemptMs: 1_000 });
    const error = await past.send(undefined, 1_000);
    expect(error?.code).toBe(Code.DeadlineExceeded);
    expect(error?.rawMessage).toBe("deadline exceeded after 1 attempt(s): upstream unavailable: connection refused");
    expect(past.requests).toHaveLength(1);
  });

  it("fails the call when the retry budget is spent", async () => {
    const { send, requests, balancer } = setup({
      behaviours: { a: "refuse", b: "refuse", c: "refuse" },
      budgetPercent: 0,
      minRetriesPerSecond: 1,
    });
    // The bucket holds one token: the first retry is granted, the second is not.
    const error = await send();
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toBe("upstream unavailable: connection refused (not retried: retry budget spent)");
    expect(requests).toHaveLength(2);
    // The call has ended: it is not active, its retry is no longer in flight, no lease is held.
    expect(retryBudgetOf(balancer)?.state()).toEqual({ activeCalls: 0, retriesInFlight: 0, tokens: 0 });
    expect(balancer.current().map((e) => balancer.inFlight(e))).toEqual([0, 0, 0]);
  });

  it("logs a spent budget at most once a second, with the retries it refused meanwhile", async () => {
    const { send, logs, clock } = setup({
      behaviours: { a: "refuse", b: "refuse" },
      budgetPercent: 0,
      minRetriesPerSecond: 0,
      logInOptions: true,
    });
    for (let i = 0; i < 3; i++) {
      expect((await send())?.rawMessage).toMatch(/retry budget spent/);
    }
    clock.now += 1_000;
    await send();
    const warnings = logs.filter((l) => l.level === "warn");
    const expected = (refusedRetries: number) =>
      expect.objectContaining({
        msg: "retry budget spent: a call that never reached a pod fails instead of going to another one",
        backend: "pods",
        refusedRetries,
        budgetPercent: 0,
        minRetriesPerSecond: 0,
      });
    expect(warnings).toEqual([expected(1), expected(3)]);
  });

  it("logs each retry at debug level", async () => {
    const { send, logs } = setup({ behaviours: { a: "refuse", b: "ok" } });
    await send();
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: "debug",
        msg: "sending the call to another endpoint: the first never processed it",
        backend: "pods",
        attempt: 2,
        failed: "a",
        error: "[unavailable] upstream unavailable: connection refused",
      }),
    );
  });
});
