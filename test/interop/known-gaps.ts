/**
 * Cases of the interop matrix that fail through the gateway, by name, with
 * the reason (issue 14). A case on a client that can call a pod directly
 * must fail directly too (the matrix checks it): the gateway may not break
 * what works without it. One that starts passing fails the matrix until it
 * is removed here, so this list cannot go stale.
 */
export interface KnownGap {
  readonly reason: string;
}

/** Keyed `stack × client × case`; `*` matches any stack or client. */
const gaps: ReadonlyArray<{ stack: string; client: string; case: string; reason: string }> = [];

export function knownGap(stack: string, client: string, name: string): KnownGap | undefined {
  const found = gaps.find(
    (g) => (g.stack === "*" || g.stack === stack) && (g.client === "*" || g.client === client) && g.case === name,
  );
  return found === undefined ? undefined : { reason: found.reason };
}
