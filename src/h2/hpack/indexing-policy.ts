import { staticNames, staticTableLength } from "./static-table.ts";

// Which fields the encoder indexes (RFC 7541 §6.2, §7.1): the lists, and one
// lookup per field that answers everything the encoder asks about a name.

/**
 * Names whose values are secrets: always sent as never-indexed literals
 * (RFC 7541 §6.2.3), so no intermediary indexes them and no other stream on
 * the connection can probe for them through the dynamic table (§7.1).
 */
export const defaultSensitiveNames: readonly string[] = ["authorization", "proxy-authorization", "cookie", "set-cookie"];

/**
 * Names whose values are new on nearly every request (deadlines, trace and
 * request ids, lengths, validators): indexing them would only evict entries
 * that do repeat. Sent as literals without indexing (§6.2.2) that refer to
 * the name by index. A name in neither table is indexed once, with its
 * first value (one entry, ~60 octets), so that later values refer to the
 * name instead of spelling it: `grpc-timeout` costs 1 octet of name per
 * call instead of 10. nghttp2 leaves `content-length`, `age`,
 * `etag`, `if-modified-since` and `if-none-match` out of its table for the
 * same reason; unlike it we index `:path`, which for gRPC names the method
 * and repeats on every call.
 */
export const defaultUnindexedNames: readonly string[] = [
  "grpc-timeout",
  "grpc-trace-bin",
  "traceparent",
  "tracestate",
  "x-request-id",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "b3",
  "x-amzn-trace-id",
  "x-cloud-trace-context",
  "content-length",
  "age",
  "etag",
  "if-modified-since",
  "if-none-match",
];

/** In {@link namePolicy}: the name is in {@link defaultUnindexedNames}. */
export const unindexedName = 0x100;
/** In {@link namePolicy}: the name is in {@link defaultSensitiveNames}. */
export const sensitiveName = 0x200;

const policies = new Map<string, number>();
for (const name of defaultUnindexedNames) policies.set(name, unindexedName);
for (const name of defaultSensitiveNames) policies.set(name, sensitiveName);
for (let index = staticTableLength; index >= 1; index--) {
  const name = staticNames[index]!;
  policies.set(name, ((policies.get(name) ?? 0) & ~0xff) | index);
}

/**
 * What the encoder needs to know of a name, in one map lookup per field:
 * its lowest static index (bits 0-7, 0 when the static table lacks it, RFC
 * 7541 Appendix A), {@link unindexedName} and {@link sensitiveName}. The map
 * is shared by every encoder: no per-connection copy.
 *
 * @private the encoder's; the lists above are the policy's public face.
 */
export function namePolicy(name: string): number {
  return policies.get(name) ?? 0;
}
