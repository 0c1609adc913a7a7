import type { DescFile, DescMethod, Registry } from "@bufbuild/protobuf";

/**
 * What the gateway knows about the protobuf schema a backend's pods serve:
 * enough to transcode JSON, tell which methods accept Connect GET, and answer
 * server reflection. Binary calls never need it (they pass through).
 */
export interface BackendSchema {
  /**
   * The method, or `undefined` when the schema lacks it. A miss refreshes the
   * schema once (rate-limited) before giving up, so a pod redeployed with a
   * new method is picked up on the first call that needs it.
   * @throws SchemaUnavailableError when no schema source is configured or
   *   none could be loaded (the message says how to configure one).
   */
  method(service: string, method: string): Promise<DescMethod | undefined>;
  /** Types known to the schema, for `google.protobuf.Any` and error details. */
  registry(): Registry;
  /** Every file the schema holds, for answering reflection; loads the schema if it has not been. */
  files(): Promise<readonly DescFile[]>;
  /** Stops refreshing. */
  close(): void;
}

/**
 * No schema for a backend: reflection is off and no descriptor set is
 * configured, or loading failed. `transient` says whether asking again later
 * may help (no pod to ask yet, a pod that could not be reached or did not
 * answer in time): the call that needed the schema is then Unavailable, as
 * any call is when its pods are out of reach, and not Unimplemented, which
 * says the configuration or the pods must change.
 */
export class SchemaUnavailableError extends Error {
  override readonly name = "SchemaUnavailableError";
  readonly transient: boolean;

  constructor(message: string, options: { readonly transient?: boolean } = {}) {
    super(message);
    this.transient = options.transient ?? false;
  }
}
