import { ConnectError } from "@connectrpc/connect";
import type { CallEnd, CallResult } from "./call-result.ts";

const noMessages: AsyncIterable<never> = {
  [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }),
};

/**
 * A result that is over before it produced a message: a trailers-only answer
 * from a pod (OK or not) and the gateway's own errors. Protocols that can
 * answer it with a trailers-only response when `end.error` is set.
 */
export function callResultFromEnd(end: CallEnd, header: Headers = new Headers(), httpStatus?: number): CallResult {
  return {
    header,
    encoding: "identity",
    messages: noMessages,
    end: () => end,
    immediateError: end.error,
    ...(httpStatus === undefined ? {} : { httpStatus }),
  };
}

/**
 * A result for a call that failed before it produced anything: the gateway's
 * own errors (no route, no endpoint, bad request) and trailers-only errors.
 * Any thrown value becomes a ConnectError here, once, at the boundary.
 */
export function callResultFromError(
  reason: unknown,
  header: Headers = new Headers(),
  trailer: Headers = new Headers(),
  httpStatus?: number,
): CallResult {
  return callResultFromEnd({ error: ConnectError.from(reason), trailer }, header, httpStatus);
}
