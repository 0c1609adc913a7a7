import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";

describe("createLogger", () => {
  const lines: string[] = [];
  const log = createLogger("info", (line) => lines.push(line), () => Date.UTC(2026, 10, 21, 9, 30));

  it("writes one JSON object per line with level, time and msg, and drops levels below the threshold", () => {
    log.debug("hidden");
    log.info("call", { path: "/a.B/C", code: "ok" });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toEqual({
      level: "info",
      time: "2026-11-21T09:30:00.000Z",
      msg: "call",
      path: "/a.B/C",
      code: "ok",
    });
  });

  it("reduces errors to their message and redacts secret headers, also inside headers", () => {
    lines.length = 0;
    log.warn("failed", { error: new Error("boom"), authorization: "Bearer s3cr3t", headers: { cookie: "sid=1", accept: "x" } });
    const entry = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    expect(entry).toMatchObject({ error: "boom", authorization: "[redacted]", headers: { cookie: "[redacted]", accept: "x" } });
    expect(lines[0]).not.toContain("s3cr3t");
  });
});
