import { Code, ConnectError } from "@connectrpc/connect";
import type { Balancer, Lease } from "../balance/balancer.ts";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import { callResultFromError } from "../call/call-result-from-error.ts";
import type { RetryConfig } from "../config/gateway-config.ts";
import type { Logger } from "../log/logger.ts";
import { ReplayableMessages } from "../retry/replayable-messages.ts";
import { RetryBudget } from "../retry/retry-budget.ts";
import { callUpstream, type UpstreamContext } from "./call-upstream.ts";

/** What sending a call to a backend needs. */
export interface SendCallOptions {
  readonly backend: string;
  readonly balancer: Balancer;
  readonly upstream: UpstreamContext;
  readonly retry: RetryConfig;
  /** Where retries (debug) and a spent retry budget (warn) are logged; default: the upstream context's log, else nowhere. */
  readonly log?: Logger;
}

/** Attempts per call, the first included (gRPC's transparent retries and Envoy's default stop about there too). */
export const MAX_ATTEMPTS = 3;

/** A spent budget is logged at most this often per backend, with the count of retries it refused meanwhile. */
const BUDGET_LOG_INTERVAL_MS = 1_000;

/** A backend's retry budget and the throttle of its log line. */
interface BackendRetries {
  readonly budget: RetryBudget;
  loggedAt: number;
  refused: number;
}

/**
 * One budget per balancer, made on its first call: a backend has exactly
 * one balancer for its lifetime, so the budget lives as long as the backend
 * (a backend made again, as Ingress changes do, starts a fresh one) and the
 * call site stays `sendCall({ backend, balancer, upstream, retry }, ...)`.
 */
const retriesByBalancer = new WeakMap<Balancer, BackendRetries>();

function retriesOf(options: SendCallOptions): BackendRetries {
  let retries = retriesByBalancer.get(options.balancer);
  if (retries === undefined) {
    const budget = new RetryBudget({ ...options.retry, now: options.upstream.now });
    retries = { budget, loggedAt: Number.NEGATIVE_INFINITY, refused: 0 };
    retriesByBalancer.set(options.balancer, retries);
  }
  return retries;
}

/** The retry budget of a backend's balancer, once a call has gone through it (for the admin page and tests). */
export function retryBudgetOf(balancer: Balancer): RetryBudget | undefined {
  return retriesByBalancer.get(balancer)?.budget;
}

/**
 * Sends one call to one of the backend's endpoints, picked for this call
 * alone, and sends it again to another endpoint when it provably never
 * reached the first one's application. A call is sent again only when all of
 * these hold:
 *
 * - the attempt failed before any response headers, and the upstream client
 *   marked it unprocessed: the connection failed before the stream existed
 *   (refused, reset, TLS), the session was already closing, the pod refused
 *   the stream (REFUSED_STREAM), or the stream was above a GOAWAY's
 *   last-stream-id. Anything else (an answer of any status, a reset after the
 *   request went out) is final;
 * - every request message read from the client so far is still held (the
 *   first 64 KiB, see `ReplayableMessages`);
 * - fewer than {@link MAX_ATTEMPTS} attempts were made;
 * - the call is neither cancelled nor past its deadline (each attempt sends
 *   the time that remains as `grpc-timeout`);
 * - an endpoint not tried yet remains (`pick(exclude)`);
 * - the backend's retry budget grants it (`RetryBudget`), unless a GOAWAY
 *   turned the stream away: connections are rotated and pods drained as a
 *   matter of course, and the streams one GOAWAY turns away are only those
 *   on their way at that moment, so they cannot feed a retry storm.
 *
 * Each attempt's lease hears of it: `connectFailed()` for an attempt that
 * failed before answering (unless a GOAWAY turned it away: a pod rotating or
 * draining connections is not failing), `report(code)` for the one that
 * answered.
 * A call counts as active in the budget until its signal aborts, which the
 * adapter does when the client's stream closes, whichever way it ends.
 */
export async function sendCall(
  options: SendCallOptions,
  call: CallRequest,
  signal: AbortSignal,
  deadlineAt: number | undefined,
  onEndpoint?: (address: string) => void,
): Promise<CallResult> {
  let lease = options.balancer.pick();
  if (lease === undefined) {
    return callResultFromError(new ConnectError(`no endpoints available for backend "${options.backend}"`, Code.Unavailable));
  }
  const retries = retriesOf(options);
  const budgeted = retries.budget.startCall();
  if (signal.aborted) {
    budgeted.end();
  } else {
    signal.addEventListener("abort", () => budgeted.end(), { once: true });
  }
  const messages = new ReplayableMessages(call.messages);
  const tried = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    tried.add(lease.endpoint.address);
    onEndpoint?.(lease.endpoint.address);
    const outcome = await callUpstream(options.upstream, lease, { ...call, messages: messages.attempt() }, signal, deadlineAt);
    if (outcome.unprocessed === undefined) {
      messages.commit();
      return outcome.result;
    }
    const failed: Lease = lease;
    // A GOAWAY is routine (connection rotation, a pod draining), not a sign of a failing backend: it takes no budget.
    const grant = outcome.unprocessed === "goaway" ? () => true : budgeted.tryRetry;
    const next = nextAttempt(options, retries, grant, messages, tried, attempt, signal, deadlineAt);
    if (typeof next === "string") {
      messages.commit();
      return final(outcome.result, attempt, next);
    }
    (options.log ?? options.upstream.log)?.debug("sending the call to another endpoint: the first never processed it", {
      backend: options.backend,
      path: call.path,
      attempt: attempt + 1,
      failed: failed.endpoint.address,
      reason: outcome.unprocessed,
      error: outcome.result.immediateError,
    });
    lease = next;
  }
}

/**
 * The lease for the next attempt, or why there is none (the budget last,
 * so that it is only spent on a retry that happens).
 */
function nextAttempt(
  options: SendCallOptions,
  retries: BackendRetries,
  tryRetry: () => boolean,
  messages: ReplayableMessages,
  tried: ReadonlySet<string>,
  attempt: number,
  signal: AbortSignal,
  deadlineAt: number | undefined,
): Lease | NotRetried {
  if (attempt >= MAX_ATTEMPTS) {
    return "attempts";
  }
  if (signal.aborted) {
    return "aborted";
  }
  if (deadlineAt !== undefined && options.upstream.now() >= deadlineAt) {
    return "deadline";
  }
  if (!messages.replayable) {
    return "too-large";
  }
  const lease = options.balancer.pick(tried);
  if (lease === undefined) {
    return "no-endpoint";
  }
  if (!tryRetry()) {
    lease.release();
    logSpentBudget(options, retries);
    return "budget";
  }
  return lease;
}

/** Why a call that was never processed is not sent again. */
type NotRetried = "attempts" | "aborted" | "deadline" | "too-large" | "no-endpoint" | "budget";

/** The failure the client gets when its call is not sent again; it says why when that helps. */
function final(result: CallResult, attempts: number, reason: NotRetried): CallResult {
  const error = result.immediateError;
  if (error === undefined || reason === "aborted") {
    return result;
  }
  if (reason === "deadline") {
    return callResultFromError(new ConnectError(`deadline exceeded after ${attempts} attempt(s): ${error.rawMessage}`, Code.DeadlineExceeded));
  }
  const why = {
    attempts: `after ${attempts} attempts`,
    "too-large": "not retried: the request is too large to send again",
    "no-endpoint": attempts === 1 ? "" : `after ${attempts} attempts`,
    budget: "not retried: retry budget spent",
  }[reason];
  return why === "" ? result : callResultFromError(new ConnectError(`${error.rawMessage} (${why})`, error.code));
}

function logSpentBudget(options: SendCallOptions, retries: BackendRetries): void {
  retries.refused++;
  const log = options.log ?? options.upstream.log;
  const now = options.upstream.now();
  if (log === undefined || now - retries.loggedAt < BUDGET_LOG_INTERVAL_MS) {
    return;
  }
  const state = retries.budget.state();
  log.warn("retry budget spent: a call that never reached a pod fails instead of going to another one", {
    backend: options.backend,
    refusedRetries: retries.refused,
    activeCalls: state.activeCalls,
    retriesInFlight: state.retriesInFlight,
    budgetPercent: options.retry.budgetPercent,
    minRetriesPerSecond: options.retry.minRetriesPerSecond,
  });
  retries.loggedAt = now;
  retries.refused = 0;
}
