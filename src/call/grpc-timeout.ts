/**
 * Formats a timeout for the `grpc-timeout` header: at most 8 digits and a
 * unit, the finest unit that fits (gRPC over HTTP/2, "Timeout"). Values are
 * rounded up to whole units; that a pod may learn its deadline a fraction
 * late is harmless because the gateway enforces the call's deadline itself.
 */
export function formatGrpcTimeout(timeoutMs: number): string {
  const ms = Math.max(0, Math.ceil(timeoutMs));
  const max = 99_999_999;
  if (ms <= max) {
    return `${ms}m`;
  }
  const units: readonly [string, number][] = [
    ["S", 1_000],
    ["M", 60_000],
    ["H", 3_600_000],
  ];
  for (const [unit, size] of units) {
    const value = Math.ceil(ms / size);
    if (value <= max) {
      return `${value}${unit}`;
    }
  }
  return `${max}H`;
}

/**
 * The longest timeout the gateway honours, about 24.8 days: the most a
 * Node.js timer can wait (a longer one fires at once, which would turn a
 * generous deadline into an immediate DeadlineExceeded), in whole seconds so
 * that the `grpc-timeout` sent upstream stays within it too.
 */
export const maxTimeoutMs = 2_147_483_000;

/** A client's timeout as the gateway enforces it: longer ones are capped at {@link maxTimeoutMs}. */
export function capTimeout(timeoutMs: number | undefined): number | undefined {
  return timeoutMs === undefined ? undefined : Math.min(timeoutMs, maxTimeoutMs);
}
