/** What the browser test page (app.ts) leaves in `window.results` for the test to read. */

/** The client transports the page drives, all from connect-web. */
export type PageTransport = "connect-json" | "connect-binary" | "grpc-web";

export interface CallResult {
  readonly transport: PageTransport;
  readonly method: "Greet" | "GreetStream";
  readonly ok: boolean;
  /** The pod of every answer (one for a unary call, one per message of a stream). */
  readonly pods: readonly string[];
  /** The error, as `ConnectError.message`, when the call failed. */
  readonly error?: string;
}

export interface PageResults {
  /** The page's own origin, as the browser sends it in `Origin`. */
  readonly origin: string;
  readonly calls: readonly CallResult[];
}
