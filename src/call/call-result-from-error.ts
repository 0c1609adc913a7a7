import { ConnectError } from "@connectrpc/connect";
import type { CallResult } from "./call-result.ts";

const noMessages: AsyncIterable<never> = {
  [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }),
};

/**
 * A result for a call that failed before it produced anything: the gateway's
 * own errors (no route, no endpoint, bad request) and trailers-only answers.
 * Any thrown value becomes a ConnectError here, once, at the boundary.
 */
export function callResultFromError(
  reason: unknown,
  header: Headers = new Headers(),
  trailer: Headers = new Headers(),
  httpStatus?: number,
): CallResult {
  const error = ConnectError.from(reason);
  return {
    header,
    encoding: "identity",
    messages: noMessages,
    end: () => ({ error, trailer }),
    immediateError: error,
    ...(httpStatus === undefined ? {} : { httpStatus }),
  };
}
