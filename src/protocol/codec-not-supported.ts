import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The answer to a JSON-encoded call until schema-aware transcoding lands:
 * edgegate passes binary protobuf through without decoding it, and most gRPC
 * pods cannot read JSON, so relabelling it (as Envoy's bridge does) would
 * only move the failure to the pod. The message says what to do instead.
 */
export function codecNotSupported(contentType: string): ConnectError {
  return new ConnectError(
    `edgegate does not transcode JSON yet (content-type ${contentType}): ` +
      "send binary protobuf (connect-es: useBinaryFormat: true; buf curl: the default)",
    Code.Unimplemented,
  );
}
