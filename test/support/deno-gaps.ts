import { it } from "vitest";
import { gatewayRuntime } from "./gateway-runtime.ts";

/**
 * Where Deno's Node compatibility layer (Deno 2.9.6, the `deno` npm
 * package this repository pins) behaves differently from Node in a way the
 * gateway cannot work around. docs/deno.md describes each: the failing case,
 * what a user sees, and the upstream issue. The end-to-end suites skip a test
 * on Deno only for one of these, and the skipped test's title names it.
 */
export interface DenoGap {
  /** Short name, shown in skipped tests' titles. */
  readonly id: string;
  /** What fails, in one sentence. */
  readonly what: string;
  /** The upstream issue, when there is one. */
  readonly upstream?: string;
}

export const denoGaps = {
  goawayAbort: {
    id: "nghttp2-goaway-abort",
    what:
      "Deno aborts (nghttp2 assertion `stream->closed_next == NULL` in find_stream_on_goaway_func, SIGABRT) or segfaults " +
      "when a GOAWAY reaches a node:http2 session with streams in flight or recently closed: a pod refusing streams or going away can take the gateway down",
    upstream: "https://github.com/denoland/deno/issues/36788",
  },
  droppedFetchBody: {
    id: "dropped-watch-unnoticed",
    what:
      "a response body read with undici's fetch never ends when the server drops or ends the connection (TLS), so a Kubernetes " +
      "watch that breaks is noticed only by @kubernetes/client-node's 30 s idle timeout instead of at once",
  },
  dnsNodata: {
    id: "dns-nodata-as-enotfound",
    what:
      "node:dns Resolver reports NODATA (a name without records) as ENOTFOUND, so a headless Service scaled to zero " +
      "looks like an unknown name: the DNS source keeps its last endpoints instead of emptying",
  },
  http1Limits: {
    id: "http1-limits",
    what:
      "the TLS listener's HTTP/1.1 connections do not time out on unfinished headers (no 408), and net.Server emits no 'drop' " +
      "event for connections over maxConnections (they are refused, but not logged)",
  },
  upstreamDropCodes: {
    id: "upstream-drop-codes",
    what:
      "node:http2's client reports a pod connection dropped mid-call (socket destroyed, or GOAWAY then close) as a stream " +
      "cancelled or prematurely closed, so the client gets Canceled or Unknown instead of Unavailable",
  },
} as const satisfies Record<string, DenoGap>;

/**
 * Tests that observe the gateway inside the test's own process (an
 * OpenTelemetry tracer provider registered there): with the gateway in its
 * own process, on any runtime, there is nothing to observe. Not a Deno gap;
 * listed so that the skip is named too.
 */
export const inProcessOnly: DenoGap = {
  id: "in-process-only",
  what: "observes the gateway through APIs of the test's own process (a tracer provider registered in it)",
};

/**
 * `it`, or, when the gateway under test runs on Deno and `gap` affects the
 * test, `it.skip` with the gap in the title (the reporter lists it as
 * skipped, by that name) and a line on stdout saying what is skipped and why.
 * `EDGEGATE_RUN_DENO_GAPS=1` runs them anyway, to see whether a newer Deno
 * has closed a gap.
 */
export function unlessOnDeno(...gaps: readonly DenoGap[]): typeof it {
  if (gatewayRuntime !== "deno" || gaps.length === 0 || process.env.EDGEGATE_RUN_DENO_GAPS === "1") {
    return it;
  }
  const names = gaps.map((g) => g.id).join(", ");
  const skip = ((name: string, ...rest: unknown[]) => {
    for (const gap of gaps) {
      console.info(`skipped on Deno: "${name}": ${gap.id}: ${gap.what}${gap.upstream === undefined ? "" : ` (${gap.upstream})`}`);
    }
    return (it.skip as (name: string, ...rest: unknown[]) => void)(`${name} [Deno gap: ${names}]`, ...rest);
  }) as unknown as typeof it;
  return skip;
}
