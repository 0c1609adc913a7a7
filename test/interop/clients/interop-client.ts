/**
 * The cases of the interop matrix (test/interop/README.md), named as the
 * gRPC interop test descriptions (grpc/grpc doc/interop-test-descriptions.md)
 * name them, plus error details and health.
 */
export const interopCases = [
  "empty_unary",
  "large_unary",
  "client_streaming",
  "server_streaming",
  "ping_pong",
  "empty_stream",
  "custom_metadata",
  "status_code_and_message",
  "special_status_message",
  "unimplemented_method",
  "unimplemented_service",
  "timeout_on_sleeping_server",
  "cancel_after_begin",
  "cancel_after_first_response",
  "client_compressed_unary",
  "server_compressed_unary",
  "client_compressed_streaming",
  "server_compressed_streaming",
  "error_details",
  "health",
] as const;

export type InteropCase = (typeof interopCases)[number];

/** How one case went: `ok`, else what differed from the case's expectation. */
export interface CaseOutcome {
  readonly case: InteropCase;
  readonly ok: boolean;
  /** What went wrong (the expectation and what came), or "" when `ok`. */
  readonly detail: string;
}

/** Where a client calls: a gateway listener, or a pod directly (the control). */
export interface InteropTarget {
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  /** TLS to the target, trusting `caFile` and checking `serverName`; else h2c. */
  readonly tls?: { readonly caFile: string; readonly serverName: string };
}

/** A client stack that runs the cases against a target. */
export interface InteropClient {
  /** E.g. `grpc-go`, `grpc-js`, `connect-es/grpc-web`. */
  readonly id: string;
  /** The cases it can express (a browser protocol has no client streams, say). */
  readonly cases: readonly InteropCase[];
  /** Why it cannot run on this machine, or `undefined`. */
  unavailable(): string | undefined;
  /** Runs `cases` in order, one outcome each, in the same order. */
  run(target: InteropTarget, cases: readonly InteropCase[]): Promise<CaseOutcome[]>;
}
