import type { EnvelopedMessage } from "@connectrpc/connect/protocol";

/** The inbound protocols edgegate terminates. */
export type ProtocolName = "connect" | "grpc" | "grpc-web";

/**
 * A call as the gateway sees it once the client's protocol has been peeled
 * off: the same record whether the client spoke Connect, gRPC-Web or gRPC.
 * Everything downstream (routing, balancing, the upstream gRPC call) works on
 * this and never looks at the inbound wire format.
 */
export interface CallRequest {
  readonly protocol: ProtocolName;
  /** The RPC path, `/greet.v1.GreetService/Greet`. */
  readonly path: string;
  /** `greet.v1.GreetService` */
  readonly service: string;
  /** `Greet` */
  readonly method: string;
  /** `:authority` or `Host`, as the client sent it. */
  readonly authority: string;
  /** Application metadata only: protocol and hop-by-hop headers are removed. */
  readonly metadata: Headers;
  /** The client's timeout, parsed once; `undefined` when it set none. */
  readonly timeoutMs: number | undefined;
  /** Compression of the messages whose compressed flag is set (`identity` when none). */
  readonly encoding: string;
  /** Encodings the client accepts for response messages, in its order of preference. */
  readonly acceptEncoding: readonly string[];
  /**
   * The request messages, still enveloped and never decoded (pass-through).
   * Pulled lazily so a slow upstream slows the client (backpressure).
   */
  readonly messages: AsyncIterable<EnvelopedMessage>;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  /**
   * How the messages are encoded: `proto` passes through untouched (also
   * for gRPC's own codecs, which pods handle); `json` (Connect) is transcoded
   * to binary with the backend's schema before it goes upstream.
   */
  readonly codec: "proto" | "json";
  /** The client used Connect GET: only methods marked `NO_SIDE_EFFECTS` may be called. */
  readonly readOnly: boolean;
  /**
   * The client's protocol carries one message each way (Connect unary POST
   * and GET), so the method must answer with one: not server-streaming or
   * bidi. Checked where the schema is known (JSON, GET).
   */
  readonly unary: boolean;
}
