import { parseTimeout } from "@connectrpc/connect/protocol-grpc";
import { describe, expect, it } from "vitest";
import { formatGrpcTimeout } from "./grpc-timeout.ts";

describe("formatGrpcTimeout()", () => {
  it("uses milliseconds while they fit in 8 digits", () => {
    expect(formatGrpcTimeout(1500)).toBe("1500m");
    expect(formatGrpcTimeout(99_999_999)).toBe("99999999m");
  });

  it("rounds fractions up and never goes negative", () => {
    expect(formatGrpcTimeout(0.2)).toBe("1m");
    expect(formatGrpcTimeout(-5)).toBe("0m");
  });

  it("moves to the finest coarser unit that fits", () => {
    expect(formatGrpcTimeout(100_000_000)).toBe("100000S");
    expect(formatGrpcTimeout(99_999_999_001)).toBe("1666667M");
    expect(formatGrpcTimeout(Number.MAX_SAFE_INTEGER)).toBe("99999999H"); // capped: 11,000 years
  });

  it("round-trips through the gRPC parser", () => {
    for (const ms of [1, 999, 123_456, 100_000_000]) {
      const parsed = parseTimeout(formatGrpcTimeout(ms), Number.MAX_SAFE_INTEGER);
      expect(parsed.error).toBeUndefined();
      expect(parsed.timeoutMs).toBeGreaterThanOrEqual(ms);
    }
  });
});
