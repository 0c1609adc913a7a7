import { describe, expect, it } from "vitest";
import { FrameFlag, FrameType, frameHeaderLength, frameTypeName, maxInt31 } from "./frame-type.ts";

describe("FrameType and FrameFlag", () => {
  it("hold the type codes of RFC 9113 §6 (registry: §11.2)", () => {
    expect(FrameType).toEqual({
      DATA: 0x0,
      HEADERS: 0x1,
      PRIORITY: 0x2,
      RST_STREAM: 0x3,
      SETTINGS: 0x4,
      PUSH_PROMISE: 0x5,
      PING: 0x6,
      GOAWAY: 0x7,
      WINDOW_UPDATE: 0x8,
      CONTINUATION: 0x9,
    });
  });

  it("hold the flag bits of §6", () => {
    expect(FrameFlag).toEqual({ END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 });
    expect(frameHeaderLength).toBe(9);
    expect(maxInt31).toBe(2 ** 31 - 1);
  });
});

describe("frameTypeName()", () => {
  it("names the types of §6 and calls the rest extension frames", () => {
    expect(frameTypeName(0x8)).toBe("WINDOW_UPDATE");
    expect(frameTypeName(0x10)).toBe("extension 0x10");
  });
});
