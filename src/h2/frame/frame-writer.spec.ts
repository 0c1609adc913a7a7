import { describe, expect, it } from "vitest";
import { type FrameEvent, FrameRecorder } from "./frame-recorder.ts";
import { FrameReader } from "./frame-reader.ts";
import { FrameWriter } from "./frame-writer.ts";

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

/** §4.1's 9-octet header, by hand: Length (24) | Type (8) | Flags (8) | R (1) | Stream Identifier (31). */
function header(length: number, type: number, flags: number, streamId: number): number[] {
  return [length >>> 16, (length >>> 8) & 0xff, length & 0xff, type, flags, streamId >>> 24, (streamId >>> 16) & 0xff, (streamId >>> 8) & 0xff, streamId & 0xff];
}

function written(write: (writer: FrameWriter) => void): Uint8Array {
  const writer = new FrameWriter();
  write(writer);
  return writer.take();
}

/** Reads what a writer wrote, as a client's connection (preface first) would be read by a server. */
function readBack(chunk: Uint8Array, maxFrameSize = 16_384): FrameEvent[] {
  const recorder = new FrameRecorder();
  const reader = new FrameReader(recorder, { role: "server", maxFrameSize });
  expect(recorder.feed(reader, [chunk])).toBe(true);
  return recorder.events;
}

describe("FrameWriter: frame layouts (RFC 9113 §6)", () => {
  it("DATA (§6.1): header, then the payload; END_STREAM when asked", () => {
    expect(written((w) => w.data(1, bytes(0xca, 0xfe), true))).toEqual(bytes(...header(2, 0x0, 0x1, 1), 0xca, 0xfe));
  });

  it("HEADERS (§6.2): END_HEADERS on a block that fits one frame", () => {
    expect(written((w) => w.headers(3, bytes(0x82, 0x86), false))).toEqual(bytes(...header(2, 0x1, 0x4, 3), 0x82, 0x86));
    expect(written((w) => w.headers(3, bytes(0x88), true))).toEqual(bytes(...header(1, 0x1, 0x5, 3), 0x88));
  });

  it("RST_STREAM (§6.4): a 32-bit code", () => {
    expect(written((w) => w.rstStream(0x7fff_ffff, 0x8))).toEqual(bytes(...header(4, 0x3, 0, 0x7fff_ffff), 0, 0, 0, 8));
  });

  it("SETTINGS (§6.5.1): 6 octets per parameter, in identifier order; an ACK is empty", () => {
    expect(written((w) => w.settings({ initialWindowSize: 0x10000, enablePush: false }))).toEqual(
      bytes(...header(12, 0x4, 0, 0), 0, 2, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0),
    );
    expect(written((w) => w.settingsAck())).toEqual(bytes(...header(0, 0x4, 0x1, 0)));
  });

  it("PING (§6.7): 8 opaque octets, ACK when asked; anything but 8 octets is refused", () => {
    const opaque = bytes(1, 2, 3, 4, 5, 6, 7, 8);
    expect(written((w) => w.ping(true, opaque))).toEqual(bytes(...header(8, 0x6, 0x1, 0), ...opaque));
    expect(() => new FrameWriter().ping(false, bytes(1))).toThrow(RangeError);
  });

  it("GOAWAY (§6.8): last stream id, code, debug data", () => {
    expect(written((w) => w.goaway(5, 0xb, bytes(0x68)))).toEqual(bytes(...header(9, 0x7, 0, 0), 0, 0, 0, 5, 0, 0, 0, 0xb, 0x68));
    expect(written((w) => w.goaway(0, 0))).toEqual(bytes(...header(8, 0x7, 0, 0), 0, 0, 0, 0, 0, 0, 0, 0));
  });

  it("WINDOW_UPDATE (§6.9): a 31-bit increment; 0 and 2^31 are refused", () => {
    expect(written((w) => w.windowUpdate(0, 0x7fff_ffff))).toEqual(bytes(...header(4, 0x8, 0, 0), 0x7f, 0xff, 0xff, 0xff));
    expect(() => new FrameWriter().windowUpdate(1, 0)).toThrow(RangeError);
    expect(() => new FrameWriter().windowUpdate(1, 2 ** 31)).toThrow(RangeError);
  });

  it("the client preface (§3.4)", () => {
    expect(new TextDecoder().decode(written((w) => w.preface()))).toBe("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  });

  it("refuses stream ids outside the frame's range (§5.1.1)", () => {
    const writer = new FrameWriter();
    expect(() => writer.data(0, bytes(), true)).toThrow(RangeError);
    expect(() => writer.headers(2 ** 31, bytes(), true)).toThrow(RangeError);
    expect(() => writer.rstStream(0, 0)).toThrow(RangeError);
    expect(() => writer.goaway(-1, 0)).toThrow(RangeError);
    expect(writer.pending()).toBe(0);
  });
});

describe("FrameWriter: splitting at the peer's SETTINGS_MAX_FRAME_SIZE", () => {
  it("HEADERS then CONTINUATION frames (§6.10), END_HEADERS only on the last, END_STREAM only on HEADERS", () => {
    const block = new Uint8Array(16_384 * 2 + 10).map((_, i) => i & 0xff);
    const out = written((w) => w.headers(1, block, true));
    expect(out.length).toBe(block.length + 3 * 9);
    expect(Array.from(out.subarray(0, 9))).toEqual(header(16_384, 0x1, 0x1, 1));
    expect(Array.from(out.subarray(16_393, 16_402))).toEqual(header(16_384, 0x9, 0, 1));
    expect(Array.from(out.subarray(32_786, 32_795))).toEqual(header(10, 0x9, 0x4, 1));
  });

  it("DATA frames, END_STREAM only on the last", () => {
    const writer = new FrameWriter();
    writer.maxFrameSize = 20_000;
    writer.data(7, new Uint8Array(45_000), true);
    const out = writer.take();
    expect(Array.from(out.subarray(0, 9))).toEqual(header(20_000, 0, 0, 7));
    expect(Array.from(out.subarray(20_009, 20_018))).toEqual(header(20_000, 0, 0, 7));
    expect(Array.from(out.subarray(40_018, 40_027))).toEqual(header(5_000, 0, 0x1, 7));
    expect(out.length).toBe(45_000 + 27);
  });

  it("an empty block or payload is one empty frame", () => {
    expect(written((w) => w.headers(1, bytes(), true))).toEqual(bytes(...header(0, 0x1, 0x5, 1)));
    expect(written((w) => w.data(1, bytes(), true))).toEqual(bytes(...header(0, 0x0, 0x1, 1)));
  });

  it("maxFrameSize only takes values §6.5.2 allows", () => {
    const writer = new FrameWriter();
    expect(() => {
      writer.maxFrameSize = 16_383;
    }).toThrow(RangeError);
    expect(writer.maxFrameSize).toBe(16_384);
  });
});

describe("FrameWriter: the staging buffer", () => {
  it("hands everything written since the last take() as one chunk", () => {
    const writer = new FrameWriter();
    writer.settingsAck();
    writer.ping(false, new Uint8Array(8));
    writer.windowUpdate(0, 1);
    expect(writer.pending()).toBe(9 + 17 + 13);
    expect(writer.take().length).toBe(39);
    expect(writer.pending()).toBe(0);
    expect(writer.take().length).toBe(0);
  });

  it("never writes again into octets it handed out: a socket may hold them", () => {
    const writer = new FrameWriter({ slabSize: 64 });
    writer.data(1, bytes(1, 2, 3), false);
    const first = writer.take();
    const copy = first.slice();
    for (let i = 0; i < 20; i++) writer.data(1, new Uint8Array(30).fill(9), false);
    writer.take();
    expect(first).toEqual(copy);
  });

  it("keeps writing into the same slab while it has room, and keeps the pending octets when it grows", () => {
    const writer = new FrameWriter();
    writer.settingsAck();
    const a = writer.take();
    writer.settingsAck();
    const b = writer.take();
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(9);
    writer.ping(false, bytes(1, 2, 3, 4, 5, 6, 7, 8));
    writer.data(1, new Uint8Array(40_000).fill(5), true);
    const c = writer.take();
    expect(c.length).toBe(17 + 40_000 + 27);
    expect(Array.from(c.subarray(9, 17))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("grows geometrically while frames pile up in one turn (copying stays linear: 100,000 frames on 64-octet slabs)", () => {
    const writer = new FrameWriter({ slabSize: 64 });
    for (let i = 0; i < 100_000; i++) writer.windowUpdate(1, i + 1);
    const out = writer.take();
    expect(out.length).toBe(1_300_000);
    expect(out.buffer.byteLength).toBeLessThan(2 * 1_300_000 + 64);
    expect(Array.from(out.subarray(out.length - 4))).toEqual([0, 1, 0x86, 0xa0]);
  });

  it("release() lets an idle connection drop its slab", () => {
    const writer = new FrameWriter();
    writer.settingsAck();
    writer.release();
    expect(writer.pending()).toBe(9); // something pending: kept
    const a = writer.take();
    writer.release();
    writer.settingsAck();
    expect(writer.take().buffer).not.toBe(a.buffer);
  });
});

describe("FrameWriter → FrameReader round trips", () => {
  it("every frame type the writer writes reads back as what was written", () => {
    const writer = new FrameWriter();
    const block = new Uint8Array(40_000).map((_, i) => (i * 7) & 0xff);
    const payload = new Uint8Array(40_000).map((_, i) => (i * 3) & 0xff);
    writer.preface();
    writer.settings({ headerTableSize: 0, enablePush: false, maxConcurrentStreams: 100, initialWindowSize: 1 << 20, maxFrameSize: 16_384, maxHeaderListSize: 16_384 });
    writer.settingsAck();
    writer.headers(1, bytes(0x82, 0x86), false);
    writer.headers(3, block, true);
    writer.data(1, payload, false);
    writer.data(1, bytes(), true);
    writer.ping(true, bytes(1, 2, 3, 4, 5, 6, 7, 8));
    writer.windowUpdate(0, 12_345);
    writer.windowUpdate(1, 2 ** 31 - 1);
    writer.rstStream(3, 0x8);
    writer.goaway(3, 0x0, new TextEncoder().encode("bye"));
    const events = readBack(writer.take());
    expect(events).toEqual([
      {
        kind: "settings",
        ack: false,
        update: { headerTableSize: 0, enablePush: false, maxConcurrentStreams: 100, initialWindowSize: 1 << 20, maxFrameSize: 16_384, maxHeaderListSize: 16_384 },
      },
      { kind: "settings", ack: true, update: {} },
      { kind: "headers", streamId: 1, endStream: false, block: bytes(0x82, 0x86) },
      { kind: "headers", streamId: 3, endStream: true, block },
      { kind: "data", streamId: 1, endStream: false, data: payload.subarray(0, 16_384), flowControlledLength: 16_384 },
      { kind: "data", streamId: 1, endStream: false, data: payload.subarray(16_384, 32_768), flowControlledLength: 16_384 },
      { kind: "data", streamId: 1, endStream: false, data: payload.subarray(32_768), flowControlledLength: 40_000 - 32_768 },
      { kind: "data", streamId: 1, endStream: true, data: bytes(), flowControlledLength: 0 },
      { kind: "ping", ack: true, opaque: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
      { kind: "window-update", streamId: 0, increment: 12_345 },
      { kind: "window-update", streamId: 1, increment: 2 ** 31 - 1 },
      { kind: "rst-stream", streamId: 3, code: 8 },
      { kind: "goaway", lastStreamId: 3, code: 0, debugData: new TextEncoder().encode("bye") },
    ]);
  });

  it("frames split at a larger max frame size read back whole by a reader that allows it", () => {
    const writer = new FrameWriter();
    writer.maxFrameSize = 65_536;
    writer.preface();
    writer.settings({});
    writer.data(1, new Uint8Array(65_536).fill(1), true);
    expect(readBack(writer.take(), 65_536).slice(1)).toMatchObject([{ kind: "data", flowControlledLength: 65_536, endStream: true }]);
  });

  it("GOAWAY debug data is cut to fit one frame", () => {
    const writer = new FrameWriter();
    writer.preface();
    writer.settings({});
    writer.goaway(1, 0x2, new Uint8Array(20_000));
    expect(readBack(writer.take()).at(-1)).toMatchObject({ kind: "goaway", debugData: new Uint8Array(16_384 - 8) });
  });
});
