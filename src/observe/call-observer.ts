import type { Code } from "@connectrpc/connect";
import type { EnvelopedMessage } from "@connectrpc/connect/protocol";
import type { ProtocolName } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";

/** What is known about a call when it starts: enough to label metrics and write the access log. */
export interface CallInfo {
  /** Lower case, without port. */
  readonly host: string;
  readonly protocol: ProtocolName;
  /** `/greet.v1.GreetService/Greet` */
  readonly path: string;
  /** The route's source (`routes[0]`, `ingress shop/greet`), or undefined when none matched. */
  readonly route: string | undefined;
  readonly backend: string | undefined;
  /** The W3C trace id from `traceparent`, when the client sent one. */
  readonly traceId: string | undefined;
}

/** How a call ended. */
export interface CallOutcome {
  /** `undefined` for OK. */
  readonly code: Code | undefined;
  /** The endpoint that answered (the last one tried), if any was picked. */
  readonly endpoint: string | undefined;
  readonly durationMs: number;
  /** Message bytes from the client and to it, as framed on the gateway's side (after decompression where it had to). */
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/**
 * Hears every call the gateway serves: metrics, the access log and the admin
 * page's live counters are observers. Called synchronously on the call's
 * path, so an observer must be cheap and must not throw.
 */
export interface CallObserver {
  started(info: CallInfo): void;
  ended(info: CallInfo, outcome: CallOutcome): void;
}

/** Several observers as one. */
export function observers(list: readonly CallObserver[]): CallObserver {
  return {
    started: (info) => list.forEach((o) => o.started(info)),
    ended: (info, outcome) => list.forEach((o) => o.ended(info, outcome)),
  };
}

/** The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), or undefined. */
export function traceIdOf(traceparent: string | null): string | undefined {
  const match = traceparent === null ? null : /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/.exec(traceparent);
  return match?.[1] === undefined || /^0+$/.test(match[1]) ? undefined : match[1];
}

/** Counts the bytes of messages as they pass, without holding them. */
export async function* countBytes(
  messages: AsyncIterable<EnvelopedMessage>,
  add: (bytes: number) => void,
): AsyncIterable<EnvelopedMessage> {
  for await (const message of messages) {
    add(message.data.byteLength);
    yield message;
  }
}

/**
 * The result with its messages counted and its end reported once, when the
 * protocol reads the end (after the last message) — or `fallback` later, if
 * the client went away before that.
 */
export function observeResult(result: CallResult, addBytesOut: (bytes: number) => void, onEnd: (code: Code | undefined) => void): CallResult {
  let reported = false;
  const report = (code: Code | undefined) => {
    if (!reported) {
      reported = true;
      onEnd(code);
    }
  };
  return {
    ...result,
    messages: countBytes(result.messages, addBytesOut),
    end() {
      const end = result.end();
      report(end.error?.code);
      return end;
    },
  };
}
