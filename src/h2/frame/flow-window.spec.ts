import { describe, expect, it } from "vitest";
import { H2Error } from "../h2-error.ts";
import { FlowWindow } from "./flow-window.ts";

const max = 2 ** 31 - 1;

function thrown(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("FlowWindow", () => {
  it("consume() takes octets from the window, down to 0 (§6.9.1)", () => {
    const window = new FlowWindow(1, 100);
    window.consume(60);
    window.consume(40);
    expect(window.size).toBe(0);
    window.consume(0);
  });

  it("consuming more than the window is FLOW_CONTROL_ERROR: a stream error on a stream, a connection error on 0", () => {
    const stream = new FlowWindow(5, 10);
    expect(thrown(() => stream.consume(11))).toMatchObject({ code: 0x3, streamId: 5 });
    expect(stream.size).toBe(10);
    const connection = new FlowWindow(0, 65_535);
    expect(thrown(() => connection.consume(65_536))).toMatchObject({ code: 0x3, streamId: 0 });
  });

  it("increase() adds credit up to exactly 2^31-1", () => {
    const window = new FlowWindow(1, 65_535);
    window.increase(max - 65_535);
    expect(window.size).toBe(max);
  });

  it("an increase past 2^31-1 is FLOW_CONTROL_ERROR on the window's stream, and leaves it unchanged (§6.9.1)", () => {
    const stream = new FlowWindow(3, max);
    const error = thrown(() => stream.increase(1));
    expect(error).toBeInstanceOf(H2Error);
    expect(error).toMatchObject({ code: 0x3, streamId: 3 });
    expect(stream.size).toBe(max);
    const connection = new FlowWindow(0, 65_535);
    expect(thrown(() => connection.increase(max))).toMatchObject({ code: 0x3, streamId: 0 });
  });

  it("adjust() applies a SETTINGS_INITIAL_WINDOW_SIZE change, and the window may go negative (§6.9.2)", () => {
    const window = new FlowWindow(1, 65_535);
    window.consume(60_000);
    window.adjust(16_384 - 65_535);
    expect(window.size).toBe(5_535 - 49_151);
    expect(thrown(() => window.consume(1))).toMatchObject({ code: 0x3, streamId: 1 });
    window.increase(50_000);
    expect(window.size).toBe(5_535 - 49_151 + 50_000);
    window.adjust(100);
    expect(window.size).toBe(6_484);
  });

  it("an adjustment past 2^31-1 is a connection error, FLOW_CONTROL_ERROR (§6.9.2), even on a stream", () => {
    const window = new FlowWindow(7, 65_535);
    window.increase(max - 65_535 - 10);
    expect(thrown(() => window.adjust(11))).toMatchObject({ code: 0x3, streamId: 0 });
    expect(window.size).toBe(max - 10);
  });

  it("refuses to adjust the connection window, which SETTINGS never changes, and bad initial sizes", () => {
    expect(() => new FlowWindow(0, 65_535).adjust(1)).toThrow(RangeError);
    expect(() => new FlowWindow(1, -1)).toThrow(RangeError);
    expect(() => new FlowWindow(1, 2 ** 31)).toThrow(RangeError);
  });
});
