import { describe, expect, it } from "vitest";
import { ByteSink } from "./byte-sink.ts";

describe("ByteSink", () => {
  it("grows keeping what was written, and views it without copying", () => {
    const sink = new ByteSink(2);
    let bytes = sink.reserve(2);
    bytes[0] = 1;
    bytes[1] = 2;
    sink.length = 2;
    bytes = sink.reserve(5);
    expect(bytes.length).toBeGreaterThanOrEqual(7);
    bytes.set([3, 4, 5, 6, 7], 2);
    sink.length = 7;
    expect(Array.from(sink.view())).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(sink.view().buffer).toBe(sink.bytes.buffer);
  });

  it("keeps its storage across clear()", () => {
    const sink = new ByteSink(4);
    sink.reserve(100);
    const storage = sink.bytes;
    sink.length = 100;
    sink.clear();
    expect(sink.length).toBe(0);
    expect(sink.reserve(100)).toBe(storage);
  });
});
