import { describe, expect, it } from "vitest";
import { H2Error } from "../h2-error.ts";
import { applySettings, defaultSettings, parseSettings, serializeSettings, settingsPayloadLength } from "./settings.ts";

/** One §6.5.1 parameter by hand: Identifier (16) | Value (32). */
function param(id: number, value: number): number[] {
  return [id >>> 8, id & 0xff, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

const payload = (...params: number[][]): Uint8Array => new Uint8Array(params.flat());

function parseError(bytes: Uint8Array, sender: "client" | "server" = "client"): H2Error {
  try {
    parseSettings(bytes, sender);
  } catch (error) {
    if (error instanceof H2Error) return error;
    throw error;
  }
  throw new Error("expected an H2Error");
}

describe("defaultSettings", () => {
  it("holds the initial values of RFC 9113 §6.5.2", () => {
    expect(defaultSettings).toEqual({
      headerTableSize: 4096,
      enablePush: true,
      maxConcurrentStreams: Infinity,
      initialWindowSize: 65_535,
      maxFrameSize: 16_384,
      maxHeaderListSize: Infinity,
    });
    expect(Object.isFrozen(defaultSettings)).toBe(true);
  });
});

describe("parseSettings()", () => {
  it("reads every parameter of §6.5.2 by its identifier", () => {
    const bytes = payload(param(1, 0), param(2, 0), param(3, 100), param(4, 2 ** 31 - 1), param(5, 2 ** 24 - 1), param(6, 0xffff_ffff));
    expect(parseSettings(bytes, "client")).toEqual({
      headerTableSize: 0,
      enablePush: false,
      maxConcurrentStreams: 100,
      initialWindowSize: 2 ** 31 - 1,
      maxFrameSize: 2 ** 24 - 1,
      maxHeaderListSize: 0xffff_ffff,
    });
  });

  it("reads an empty payload as no change", () => {
    expect(parseSettings(new Uint8Array(0), "server")).toEqual({});
  });

  it("ignores unknown identifiers (§6.5.2), RFC 8441's ENABLE_CONNECT_PROTOCOL included", () => {
    expect(parseSettings(payload(param(0, 1), param(8, 1), param(0x0a0a, 5), param(0xffff, 7), param(3, 1)), "client")).toEqual({ maxConcurrentStreams: 1 });
  });

  it("lets the last occurrence of a parameter win (§6.5.3: processed in order)", () => {
    expect(parseSettings(payload(param(4, 10), param(4, 20)), "client")).toEqual({ initialWindowSize: 20 });
  });

  it("a length that is not a multiple of 6 is a connection error, FRAME_SIZE_ERROR (§6.5)", () => {
    expect(parseError(new Uint8Array(7))).toMatchObject({ code: 0x6, streamId: 0 });
    expect(parseError(new Uint8Array(5))).toMatchObject({ code: 0x6, streamId: 0 });
  });

  it("ENABLE_PUSH other than 0 or 1 is a PROTOCOL_ERROR", () => {
    expect(parseError(payload(param(2, 2)))).toMatchObject({ code: 0x1, streamId: 0 });
  });

  it("ENABLE_PUSH 1 from a server is a PROTOCOL_ERROR; from a client it is allowed", () => {
    expect(parseError(payload(param(2, 1)), "server")).toMatchObject({ code: 0x1, streamId: 0 });
    expect(parseSettings(payload(param(2, 1)), "client")).toEqual({ enablePush: true });
    expect(parseSettings(payload(param(2, 0)), "server")).toEqual({ enablePush: false });
  });

  it("INITIAL_WINDOW_SIZE above 2^31-1 is a FLOW_CONTROL_ERROR", () => {
    expect(parseError(payload(param(4, 2 ** 31)))).toMatchObject({ code: 0x3, streamId: 0 });
    expect(parseError(payload(param(4, 0xffff_ffff)))).toMatchObject({ code: 0x3, streamId: 0 });
  });

  it("MAX_FRAME_SIZE outside 2^14..2^24-1 is a PROTOCOL_ERROR", () => {
    expect(parseError(payload(param(5, 16_383)))).toMatchObject({ code: 0x1, streamId: 0 });
    expect(parseError(payload(param(5, 2 ** 24)))).toMatchObject({ code: 0x1, streamId: 0 });
    expect(parseError(payload(param(5, 0)))).toMatchObject({ code: 0x1, streamId: 0 });
    expect(parseSettings(payload(param(5, 16_384)), "client")).toEqual({ maxFrameSize: 16_384 });
  });

  it("rejects the whole frame when one parameter is invalid, whatever came before it", () => {
    expect(parseError(payload(param(3, 5), param(5, 1)))).toMatchObject({ code: 0x1 });
  });

  it("says in the message what was wrong", () => {
    expect(parseError(payload(param(4, 2 ** 31))).message).toMatch(/SETTINGS_INITIAL_WINDOW_SIZE 2147483648.*§6\.5\.2/);
  });
});

describe("serializeSettings()", () => {
  it("writes 6 octets per parameter, in identifier order (§6.5.1)", () => {
    const update = { maxHeaderListSize: 8192, enablePush: false, headerTableSize: 4096, maxConcurrentStreams: 0, initialWindowSize: 1, maxFrameSize: 16_777_215 };
    expect(serializeSettings(update)).toEqual(payload(param(1, 4096), param(2, 0), param(3, 0), param(4, 1), param(5, 16_777_215), param(6, 8192)));
    expect(settingsPayloadLength(update)).toBe(36);
  });

  it("round-trips through parseSettings()", () => {
    const update = { enablePush: true, initialWindowSize: 2 ** 31 - 1, maxConcurrentStreams: 0xffff_ffff };
    expect(parseSettings(serializeSettings(update), "client")).toEqual(update);
  });

  it("writes nothing for an empty update", () => {
    expect(serializeSettings({})).toEqual(new Uint8Array(0));
  });

  it("refuses values §6.5.2 does not allow, and 'unlimited', with a RangeError: they are our bugs", () => {
    expect(() => serializeSettings({ initialWindowSize: 2 ** 31 })).toThrow(RangeError);
    expect(() => serializeSettings({ maxFrameSize: 1000 })).toThrow(RangeError);
    expect(() => serializeSettings({ maxConcurrentStreams: Infinity })).toThrow(RangeError);
    expect(() => serializeSettings({ headerTableSize: -1 })).toThrow(RangeError);
    expect(() => serializeSettings({ maxHeaderListSize: 1.5 })).toThrow(RangeError);
  });
});

describe("applySettings()", () => {
  it("replaces the parameters an update carries and keeps the others", () => {
    expect(applySettings(defaultSettings, { initialWindowSize: 0, enablePush: false })).toEqual({
      ...defaultSettings,
      initialWindowSize: 0,
      enablePush: false,
    });
  });
});
