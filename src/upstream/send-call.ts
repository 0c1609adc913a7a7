import { Code, ConnectError } from "@connectrpc/connect";
import type { Balancer } from "../balance/balancer.ts";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import { callResultFromError } from "../call/call-result-from-error.ts";
import type { RetryConfig } from "../config/gateway-config.ts";
import { callUpstream, type UpstreamContext } from "./call-upstream.ts";

/** What sending a call to a backend needs. */
export interface SendCallOptions {
  readonly backend: string;
  readonly balancer: Balancer;
  readonly upstream: UpstreamContext;
  readonly retry: RetryConfig;
}

/**
 * Sends one call to one of the backend's endpoints, picked for this call
 * alone. (Transparent retries of calls that never reached a pod's
 * application plug in here.)
 */
export function sendCall(
  options: SendCallOptions,
  call: CallRequest,
  signal: AbortSignal,
  deadlineAt: number | undefined,
): Promise<CallResult> {
  const lease = options.balancer.pick();
  if (lease === undefined) {
    return Promise.resolve(
      callResultFromError(new ConnectError(`no endpoints available for backend "${options.backend}"`, Code.Unavailable)),
    );
  }
  return callUpstream(options.upstream, lease, call, signal, deadlineAt);
}
