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
