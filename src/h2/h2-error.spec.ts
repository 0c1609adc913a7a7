import { describe, expect, it } from "vitest";
import { H2Error, H2ErrorCode, h2ErrorCodeName } from "./h2-error.ts";

describe("H2ErrorCode", () => {
  it("holds the codes of RFC 9113 §7", () => {
    expect(H2ErrorCode).toEqual({
      NO_ERROR: 0x0,
      PROTOCOL_ERROR: 0x1,
      INTERNAL_ERROR: 0x2,
      FLOW_CONTROL_ERROR: 0x3,
      SETTINGS_TIMEOUT: 0x4,
      STREAM_CLOSED: 0x5,
      FRAME_SIZE_ERROR: 0x6,
      REFUSED_STREAM: 0x7,
      CANCEL: 0x8,
      COMPRESSION_ERROR: 0x9,
      CONNECT_ERROR: 0xa,
      ENHANCE_YOUR_CALM: 0xb,
      INADEQUATE_SECURITY: 0xc,
      HTTP_1_1_REQUIRED: 0xd,
    });
  });
});

describe("h2ErrorCodeName()", () => {
  it("names every code of §7, and shows others in hexadecimal", () => {
    for (const [name, code] of Object.entries(H2ErrorCode)) expect(h2ErrorCodeName(code)).toBe(name);
    expect(h2ErrorCodeName(0xe)).toBe("0xe");
    expect(h2ErrorCodeName(0xdead_beef)).toBe("0xdeadbeef");
  });
});

describe("H2Error", () => {
  it("on stream 0 is a connection error (GOAWAY, §5.4.1)", () => {
    const error = new H2Error(H2ErrorCode.FRAME_SIZE_ERROR, 0, "PING frame of 7 octets");
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("H2Error");
    expect(error.code).toBe(0x6);
    expect(error.streamId).toBe(0);
    expect(error.isConnectionError).toBe(true);
    expect(error.message).toBe("FRAME_SIZE_ERROR (connection): PING frame of 7 octets");
  });

  it("on a stream is a stream error (RST_STREAM, §5.4.2)", () => {
    const error = new H2Error(H2ErrorCode.FLOW_CONTROL_ERROR, 5, "window overflow");
    expect(error.isConnectionError).toBe(false);
    expect(error.message).toBe("FLOW_CONTROL_ERROR (stream 5): window overflow");
  });
});
