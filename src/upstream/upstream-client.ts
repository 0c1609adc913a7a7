import type { UniversalClientFn } from "@connectrpc/connect/protocol";

/**
 * The runtime's HTTP/2 client towards pods, behind the web-standard
 * universal client contract of connect-es (Headers, AbortSignal, async
 * iterables, trailers). The Node adapter pools one long-lived session per
 * endpoint behind it.
 */
export interface UpstreamClient {
  /** Sends one request; resolves with the response headers, then streams the body and trailers. */
  readonly request: UniversalClientFn;
  /** The endpoint at this origin left discovery: close its sessions once their streams end. */
  retire(origin: string): void;
  /** Closes every session at once. */
  close(): void;
}
