import { describe, expect, it } from "vitest";
import { parseDuration } from "./parse-duration.ts";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["5s", 5_000],
    ["1.5s", 1_500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["0s", 0],
  ])("reads %s as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["5", "", "5 s", "-1s", "1d", "s", "1e3ms", "five seconds"])("refuses %j", (text) => {
    expect(() => parseDuration(text)).toThrow("is not a duration (like 500ms, 5s, 2m or 1h)");
  });

  it("reads up to 596h, the longest a timer can wait", () => {
    expect(parseDuration("596h")).toBe(2_145_600_000);
    expect(parseDuration("2147483647ms")).toBe(2 ** 31 - 1);
  });

  it.each(["597h", "2147483648ms", "99999999999999999999999h", `${"9".repeat(400)}s`])("refuses %j as too long", (text) => {
    expect(() => parseDuration(text)).toThrow("is too long: at most 596h");
  });
});
