import { describe, expect, it } from "vitest";
import { H2Error } from "../h2-error.ts";
import type { FrameHandler } from "./frame-handler.ts";
import { type FrameEvent, FrameRecorder } from "./frame-recorder.ts";
import { FrameReader, type FrameReaderOptions } from "./frame-reader.ts";

// Frames are built by hand from RFC 9113's layouts, not with the writer, so
// these specs check the reader against the RFC rather than against our writer.

// §7 error codes, as numbers.
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const FRAME_SIZE_ERROR = 0x6;
const ENHANCE_YOUR_CALM = 0xb;

// §6 frame types and flags.
const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;

/** §4.1: Length (24) | Type (8) | Flags (8) | R (1) | Stream Identifier (31) | Frame Payload. */
function frame(type: number, flags: number, streamId: number, payload: ArrayLike<number> = [], length = payload.length): Uint8Array {
  return new Uint8Array([
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
    type,
    flags,
    (streamId >>> 24) & 0xff,
    (streamId >>> 16) & 0xff,
    (streamId >>> 8) & 0xff,
    streamId & 0xff,
    ...Array.from(payload),
  ]);
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const preface = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** The client's side of a connection start: preface and an empty SETTINGS frame (§3.4). */
const start = concat(preface, frame(SETTINGS, 0, 0));

interface Read {
  events: FrameEvent[];
  alive: boolean;
}

/** Reads a server connection's bytes (after the preface and the client's SETTINGS) and returns what the reader reported. */
function read(after: Uint8Array | Uint8Array[], options: Partial<FrameReaderOptions> = {}): Read {
  const recorder = new FrameRecorder();
  const reader = new FrameReader(recorder, { role: "server", ...options });
  const alive = recorder.feed(reader, [start, ...(Array.isArray(after) ? after : [after])]);
  expect(recorder.events[0]).toEqual({ kind: "settings", ack: false, update: {} });
  return { events: recorder.events.slice(1), alive };
}

/** The error a read ended with, if it was one; the rest is what came before. */
function expectError(result: Read, code: number, streamId: number): FrameEvent[] {
  const last = result.events.at(-1);
  expect(last).toMatchObject({ kind: "error", code, streamId });
  expect(result.alive).toBe(streamId !== 0);
  return result.events.slice(0, -1);
}

describe("FrameReader: the connection preface (§3.4)", () => {
  it("server role: reads the 24-octet client preface, then the client's SETTINGS", () => {
    expect(read([]).events).toEqual([]);
  });

  it("reads the preface and frames split one octet at a time", () => {
    const recorder = new FrameRecorder();
    const reader = new FrameReader(recorder, { role: "server" });
    const all = concat(start, frame(PING, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]));
    for (let i = 0; i < all.length; i++) reader.push(all.subarray(i, i + 1));
    expect(recorder.events.map((e) => e.kind)).toEqual(["settings", "ping"]);
  });

  it("server role: anything else than the preface is a PROTOCOL_ERROR, found at the first octet that differs", () => {
    const reader = new FrameReader(new FrameRecorder(), { role: "server" });
    const error = catchError(() => reader.push(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    expect(error).toMatchObject({ code: PROTOCOL_ERROR, streamId: 0 });
    expect(error.message).toContain("HTTP/1.x request");

    const early = new FrameReader(new FrameRecorder(), { role: "server" });
    early.push(preface.subarray(0, 10));
    expect(catchError(() => early.push(bytes(0x00)))).toMatchObject({ code: PROTOCOL_ERROR, streamId: 0 });
  });

  it("client role: no preface is read, the server's first frame is its SETTINGS", () => {
    const recorder = new FrameRecorder();
    const reader = new FrameReader(recorder, { role: "client" });
    reader.push(concat(frame(SETTINGS, 0, 0, [0, 3, ...u32(100)]), frame(SETTINGS, ACK, 0)));
    expect(recorder.events).toEqual([
      { kind: "settings", ack: false, update: { maxConcurrentStreams: 100 } },
      { kind: "settings", ack: true, update: {} },
    ]);
  });

  it("a first frame other than SETTINGS is a PROTOCOL_ERROR, in both roles", () => {
    const server = new FrameReader(new FrameRecorder(), { role: "server" });
    expect(catchError(() => server.push(concat(preface, frame(HEADERS, END_HEADERS, 1))))).toMatchObject({ code: PROTOCOL_ERROR, streamId: 0 });
    const client = new FrameReader(new FrameRecorder(), { role: "client" });
    expect(catchError(() => client.push(frame(PING, 0, 0, new Uint8Array(8))))).toMatchObject({ code: PROTOCOL_ERROR, streamId: 0 });
  });

  it("a SETTINGS ACK is not the preface's SETTINGS: PROTOCOL_ERROR", () => {
    const client = new FrameReader(new FrameRecorder(), { role: "client" });
    expect(catchError(() => client.push(frame(SETTINGS, ACK, 0)))).toMatchObject({ code: PROTOCOL_ERROR, streamId: 0 });
  });
});

describe("FrameReader: frame sizes (§4.2)", () => {
  it("a frame longer than our SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR, found from its header alone", () => {
    const header = frame(DATA, 0, 1, [], 16_385);
    expectError(read(header), FRAME_SIZE_ERROR, 0);
  });

  it("a frame of exactly SETTINGS_MAX_FRAME_SIZE is read, and a larger limit admits larger frames", () => {
    const payload = new Uint8Array(16_384).fill(7);
    expect(read(frame(DATA, 0, 1, payload)).events).toMatchObject([{ kind: "data", flowControlledLength: 16_384 }]);
    const big = new Uint8Array(20_000).fill(8);
    expect(read(frame(DATA, 0, 1, big), { maxFrameSize: 20_000 }).events).toMatchObject([{ kind: "data", flowControlledLength: 20_000 }]);
  });

  it("maxFrameSize can be changed between chunks, and only to a value §6.5.2 allows", () => {
    const recorder = new FrameRecorder();
    const reader = new FrameReader(recorder, { role: "server" });
    reader.push(start);
    reader.maxFrameSize = 32_768;
    reader.push(frame(DATA, 0, 1, new Uint8Array(30_000)));
    expect(recorder.events.at(-1)).toMatchObject({ kind: "data", flowControlledLength: 30_000 });
    expect(() => {
      reader.maxFrameSize = 16_383;
    }).toThrow(RangeError);
    expect(() => {
      reader.maxFrameSize = 2 ** 24;
    }).toThrow(RangeError);
  });

  it("PRIORITY other than 5 octets is a stream error, FRAME_SIZE_ERROR (§6.3), and reading goes on", () => {
    const result = read(concat(frame(PRIORITY, 0, 3, [0, 0, 0, 1]), frame(WINDOW_UPDATE, 0, 0, u32(10))));
    expect(result.events).toMatchObject([
      { kind: "error", code: FRAME_SIZE_ERROR, streamId: 3 },
      { kind: "window-update", streamId: 0, increment: 10 },
    ]);
    expect(result.alive).toBe(true);
  });

  it.each([3, 5])("RST_STREAM of %i octets is a FRAME_SIZE_ERROR (§6.4)", (length) => {
    expectError(read(frame(RST_STREAM, 0, 1, new Uint8Array(length))), FRAME_SIZE_ERROR, 0);
  });

  it.each([0, 7, 9])("PING of %i octets is a FRAME_SIZE_ERROR (§6.7)", (length) => {
    expectError(read(frame(PING, 0, 0, new Uint8Array(length))), FRAME_SIZE_ERROR, 0);
  });

  it.each([0, 1])("WINDOW_UPDATE of 5 octets on stream %i is a connection error, FRAME_SIZE_ERROR (§6.9)", (streamId) => {
    expectError(read(frame(WINDOW_UPDATE, 0, streamId, [0, 0, 0, 1, 0])), FRAME_SIZE_ERROR, 0);
  });

  it("a SETTINGS ACK with a payload is a FRAME_SIZE_ERROR (§6.5)", () => {
    expectError(read(frame(SETTINGS, ACK, 0, [0, 3, ...u32(1)])), FRAME_SIZE_ERROR, 0);
  });

  it("SETTINGS whose length is not a multiple of 6 is a FRAME_SIZE_ERROR (§6.5)", () => {
    expectError(read(frame(SETTINGS, 0, 0, [0, 3, 0, 0, 1])), FRAME_SIZE_ERROR, 0);
  });

  it("GOAWAY shorter than 8 octets is a FRAME_SIZE_ERROR (§6.8)", () => {
    expectError(read(frame(GOAWAY, 0, 0, [0, 0, 0, 1, 0, 0, 0])), FRAME_SIZE_ERROR, 0);
  });
});

describe("FrameReader: stream identifiers (§6)", () => {
  it.each([
    ["DATA", DATA, []],
    ["HEADERS", HEADERS, []],
    ["PRIORITY", PRIORITY, [0, 0, 0, 1, 15]],
    ["RST_STREAM", RST_STREAM, u32(0)],
  ])("%s on stream 0 is a connection error, PROTOCOL_ERROR", (_name, type, payload) => {
    expectError(read(frame(type, END_HEADERS, 0, payload)), PROTOCOL_ERROR, 0);
  });

  it("CONTINUATION on stream 0 is a PROTOCOL_ERROR (§6.10), also right after a HEADERS frame", () => {
    expectError(read(frame(CONTINUATION, END_HEADERS, 0)), PROTOCOL_ERROR, 0);
    expectError(read(concat(frame(HEADERS, 0, 1, [0x82]), frame(CONTINUATION, END_HEADERS, 0))), PROTOCOL_ERROR, 0);
  });

  it.each([
    ["SETTINGS", SETTINGS, []],
    ["PING", PING, new Uint8Array(8)],
    ["GOAWAY", GOAWAY, new Uint8Array(8)],
  ])("%s on a stream is a connection error, PROTOCOL_ERROR", (_name, type, payload) => {
    expectError(read(frame(type, 0, 1, payload)), PROTOCOL_ERROR, 0);
  });

  it("ignores the reserved bit of the stream identifier (§4.1)", () => {
    expect(read(frame(RST_STREAM, 0, 0x8000_0005, u32(8))).events).toEqual([{ kind: "rst-stream", streamId: 5, code: 8 }]);
  });
});

describe("FrameReader: DATA (§6.1)", () => {
  it("hands the payload on as a view of the pushed chunk, with END_STREAM", () => {
    const data = new Uint8Array([0, 0, 0, 0, 2, 0xca, 0xfe]);
    const chunk = frame(DATA, END_STREAM, 1, data);
    let view: Uint8Array | undefined;
    const reader = new FrameReader({ ...ignore, onData: (_s, _e, d) => void (view = d) }, { role: "client" });
    reader.push(concat(frame(SETTINGS, 0, 0)));
    reader.push(chunk);
    expect(view?.buffer).toBe(chunk.buffer);
    expect(view?.byteOffset).toBe(9);
    expect(read(chunk).events).toEqual([{ kind: "data", streamId: 1, endStream: true, data, flowControlledLength: 7 }]);
  });

  it("removes padding; the flow-controlled length is the whole payload (§6.9.1)", () => {
    expect(read(frame(DATA, PADDED, 1, [3, 0xaa, 0xbb, 0, 0, 0])).events).toEqual([
      { kind: "data", streamId: 1, endStream: false, data: bytes(0xaa, 0xbb), flowControlledLength: 6 },
    ]);
    expect(read(frame(DATA, PADDED | END_STREAM, 1, [2, 0, 0])).events).toEqual([
      { kind: "data", streamId: 1, endStream: true, data: bytes(), flowControlledLength: 3 },
    ]);
  });

  it("padding as long as the payload or longer is a PROTOCOL_ERROR", () => {
    expectError(read(frame(DATA, PADDED, 1, [3, 0, 0])), PROTOCOL_ERROR, 0);
    expectError(read(frame(DATA, PADDED, 1, [1])), PROTOCOL_ERROR, 0);
  });

  it("PADDED without a Pad Length octet is a FRAME_SIZE_ERROR (§4.2)", () => {
    expectError(read(frame(DATA, PADDED, 1)), FRAME_SIZE_ERROR, 0);
  });

  it("an empty DATA frame is an event (a stream's end, or an empty-DATA flood the connection counts)", () => {
    expect(read(frame(DATA, 0, 1)).events).toEqual([{ kind: "data", streamId: 1, endStream: false, data: bytes(), flowControlledLength: 0 }]);
  });
});

describe("FrameReader: HEADERS and CONTINUATION (§6.2, §6.10)", () => {
  it("hands a block in one HEADERS frame on at once, with END_STREAM", () => {
    expect(read(frame(HEADERS, END_HEADERS | END_STREAM, 1, [0x82, 0x86])).events).toEqual([
      { kind: "headers", streamId: 1, endStream: true, block: bytes(0x82, 0x86) },
    ]);
  });

  it("removes padding and the priority fields", () => {
    const payload = [2, ...u32(0x8000_0003), 41, 0x82, 0x84, 0, 0];
    expect(read(frame(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, 5, payload)).events).toEqual([
      { kind: "headers", streamId: 5, endStream: false, block: bytes(0x82, 0x84) },
    ]);
  });

  it("padding longer than what is left for the fragment is a PROTOCOL_ERROR", () => {
    expectError(read(frame(HEADERS, END_HEADERS | PADDED, 1, [2, 0x82])), PROTOCOL_ERROR, 0);
    expectError(read(frame(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, 1, [1, ...u32(3), 15])), PROTOCOL_ERROR, 0);
    expect(read(frame(HEADERS, END_HEADERS | PADDED, 1, [1, 0])).events).toMatchObject([{ kind: "headers", block: bytes() }]);
  });

  it("PRIORITY flag without room for its 5 octets, or PADDED without a Pad Length, is a FRAME_SIZE_ERROR", () => {
    expectError(read(frame(HEADERS, END_HEADERS | PRIORITY_FLAG, 1, [0, 0, 0, 3])), FRAME_SIZE_ERROR, 0);
    expectError(read(frame(HEADERS, END_HEADERS | PADDED, 1)), FRAME_SIZE_ERROR, 0);
  });

  it("a HEADERS frame depending on its own stream is a PROTOCOL_ERROR, of the connection (§5.3.1; HPACK stays in sync)", () => {
    expectError(read(frame(HEADERS, END_HEADERS | PRIORITY_FLAG, 3, [...u32(3), 15, 0x82])), PROTOCOL_ERROR, 0);
  });

  it("joins HEADERS and CONTINUATION fragments into one block, delivered once at END_HEADERS", () => {
    const result = read(
      concat(
        frame(HEADERS, END_STREAM | PADDED, 1, [1, 0x82, 0x86, 0]),
        frame(CONTINUATION, 0, 1, [0x84]),
        frame(CONTINUATION, 0, 1, []),
        frame(CONTINUATION, END_HEADERS, 1, [0x41, 0x01, 0x61]),
      ),
    );
    expect(result.events).toEqual([{ kind: "headers", streamId: 1, endStream: true, block: bytes(0x82, 0x86, 0x84, 0x41, 0x01, 0x61) }]);
  });

  it.each([
    ["DATA on the same stream", frame(DATA, 0, 1, [1])],
    ["HEADERS on another stream", frame(HEADERS, END_HEADERS, 3, [0x82])],
    ["PING on the connection", frame(PING, 0, 0, new Uint8Array(8))],
    ["an extension frame", frame(0xbb, 0, 0, [1, 2])],
    ["CONTINUATION on another stream", frame(CONTINUATION, END_HEADERS, 3, [0x82])],
  ])("%s while a field block is open is a PROTOCOL_ERROR", (_name, interruption) => {
    expectError(read(concat(frame(HEADERS, 0, 1, [0x82]), interruption)), PROTOCOL_ERROR, 0);
  });

  it("CONTINUATION without an open field block is a PROTOCOL_ERROR", () => {
    expectError(read(frame(CONTINUATION, END_HEADERS, 1, [0x82])), PROTOCOL_ERROR, 0);
    expectError(read(concat(frame(HEADERS, END_HEADERS, 1, [0x82]), frame(CONTINUATION, END_HEADERS, 1, [0x82]))), PROTOCOL_ERROR, 0);
  });

  it("CONTINUATION flood: more than maxContinuationFrames in one block is ENHANCE_YOUR_CALM, even empty ones", () => {
    const block = (n: number): Uint8Array =>
      concat(frame(HEADERS, 0, 1, [0x82]), ...Array.from({ length: n }, (_, i) => frame(CONTINUATION, i === n - 1 ? END_HEADERS : 0, 1)));
    expect(read(block(8)).events).toMatchObject([{ kind: "headers" }]);
    expectError(read(block(9)), ENHANCE_YOUR_CALM, 0);
    expectError(read(block(3), { maxContinuationFrames: 2 }), ENHANCE_YOUR_CALM, 0);
  });

  it("a block over maxHeaderBlockBytes is ENHANCE_YOUR_CALM, in one frame or across CONTINUATION frames", () => {
    const options = { maxHeaderBlockBytes: 100 };
    expect(read(frame(HEADERS, END_HEADERS, 1, new Uint8Array(100)), options).events).toMatchObject([{ kind: "headers" }]);
    expectError(read(frame(HEADERS, END_HEADERS, 1, new Uint8Array(101)), options), ENHANCE_YOUR_CALM, 0);
    const split = concat(frame(HEADERS, 0, 1, new Uint8Array(60)), frame(CONTINUATION, END_HEADERS, 1, new Uint8Array(41)));
    expectError(read(split, options), ENHANCE_YOUR_CALM, 0);
  });

  it("the limits count each block afresh", () => {
    const block = (streamId: number): Uint8Array =>
      concat(
        frame(HEADERS, 0, streamId, new Uint8Array(30)),
        ...Array.from({ length: 8 }, (_, i) => frame(CONTINUATION, i === 7 ? END_HEADERS : 0, streamId, new Uint8Array(5))),
      );
    const result = read(concat(block(1), block(3), block(5)), { maxHeaderBlockBytes: 70 });
    expect(result.events).toMatchObject([
      { kind: "headers", streamId: 1, block: new Uint8Array(70) },
      { kind: "headers", streamId: 3, block: new Uint8Array(70) },
      { kind: "headers", streamId: 5, block: new Uint8Array(70) },
    ]);
  });

  it("the block limit is found from the CONTINUATION frame's header, before its payload arrives", () => {
    const options = { maxHeaderBlockBytes: 100 };
    const open = frame(HEADERS, 0, 1, new Uint8Array(60));
    const header = frame(CONTINUATION, END_HEADERS, 1, [], 41);
    expectError(read([open, header], options), ENHANCE_YOUR_CALM, 0);
  });
});

describe("FrameReader: PRIORITY (§6.3)", () => {
  it("reads the dependency, the exclusive bit and the weight (1..256)", () => {
    expect(read(frame(PRIORITY, 0, 5, [...u32(0x8000_0003), 255])).events).toEqual([
      { kind: "priority", streamId: 5, dependency: 3, exclusive: true, weight: 256 },
    ]);
  });

  it("a stream depending on itself is a stream error, PROTOCOL_ERROR (§5.3.1), and reading goes on", () => {
    const result = read(concat(frame(PRIORITY, 0, 5, [...u32(5), 0]), frame(PRIORITY, 0, 7, [...u32(5), 0])));
    expect(result.events).toMatchObject([
      { kind: "error", code: PROTOCOL_ERROR, streamId: 5 },
      { kind: "priority", streamId: 7, dependency: 5 },
    ]);
  });
});

describe("FrameReader: RST_STREAM, SETTINGS, PING, GOAWAY (§6.4–§6.8)", () => {
  it("RST_STREAM: hands on any code, §7's or not", () => {
    expect(read(frame(RST_STREAM, 0, 1, u32(0xdead_beef))).events).toEqual([{ kind: "rst-stream", streamId: 1, code: 0xdead_beef }]);
  });

  it("SETTINGS: parameters as an update; an ACK with an empty one", () => {
    const payload = [0, 1, ...u32(0), 0, 4, ...u32(1_000_000), 0, 0x99, ...u32(7)];
    expect(read(concat(frame(SETTINGS, 0, 0, payload), frame(SETTINGS, ACK, 0))).events).toEqual([
      { kind: "settings", ack: false, update: { headerTableSize: 0, initialWindowSize: 1_000_000 } },
      { kind: "settings", ack: true, update: {} },
    ]);
  });

  it("SETTINGS: invalid values are connection errors with §6.5.2's codes", () => {
    expectError(read(frame(SETTINGS, 0, 0, [0, 2, ...u32(2)])), PROTOCOL_ERROR, 0);
    expectError(read(frame(SETTINGS, 0, 0, [0, 4, ...u32(2 ** 31)])), FLOW_CONTROL_ERROR, 0);
    expectError(read(frame(SETTINGS, 0, 0, [0, 5, ...u32(16_383)])), PROTOCOL_ERROR, 0);
  });

  it("SETTINGS: a server announcing ENABLE_PUSH 1 is a PROTOCOL_ERROR for a client reader; a client may", () => {
    const client = new FrameReader(new FrameRecorder(), { role: "client" });
    expect(catchError(() => client.push(frame(SETTINGS, 0, 0, [0, 2, ...u32(1)])))).toMatchObject({ code: PROTOCOL_ERROR, streamId: 0 });
    expect(read(frame(SETTINGS, 0, 0, [0, 2, ...u32(1)])).events).toEqual([{ kind: "settings", ack: false, update: { enablePush: true } }]);
  });

  it("PING: the 8 opaque octets and the ACK flag", () => {
    expect(read(concat(frame(PING, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]), frame(PING, ACK, 0, [8, 7, 6, 5, 4, 3, 2, 1]))).events).toEqual([
      { kind: "ping", ack: false, opaque: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
      { kind: "ping", ack: true, opaque: bytes(8, 7, 6, 5, 4, 3, 2, 1) },
    ]);
  });

  it("GOAWAY: last stream id (reserved bit ignored), code and debug data", () => {
    const payload = [...u32(0x8000_0007), ...u32(0xb), 0x68, 0x69];
    expect(read(frame(GOAWAY, 0, 0, payload)).events).toEqual([{ kind: "goaway", lastStreamId: 7, code: 0xb, debugData: bytes(0x68, 0x69) }]);
  });
});

describe("FrameReader: WINDOW_UPDATE (§6.9)", () => {
  it("reads the increment, reserved bit ignored, on a stream and on the connection", () => {
    expect(read(concat(frame(WINDOW_UPDATE, 0, 1, u32(0xffff_ffff)), frame(WINDOW_UPDATE, 0, 0, u32(1)))).events).toEqual([
      { kind: "window-update", streamId: 1, increment: 2 ** 31 - 1 },
      { kind: "window-update", streamId: 0, increment: 1 },
    ]);
  });

  it("an increment of 0 on a stream is a stream error, PROTOCOL_ERROR, and reading goes on", () => {
    const result = read(concat(frame(WINDOW_UPDATE, 0, 3, u32(0x8000_0000)), frame(RST_STREAM, 0, 3, u32(0))));
    expect(result.events).toMatchObject([
      { kind: "error", code: PROTOCOL_ERROR, streamId: 3 },
      { kind: "rst-stream", streamId: 3 },
    ]);
  });

  it("an increment of 0 on the connection is a connection error, PROTOCOL_ERROR", () => {
    expectError(read(frame(WINDOW_UPDATE, 0, 0, u32(0))), PROTOCOL_ERROR, 0);
  });
});

describe("FrameReader: PUSH_PROMISE and extension frames (§4.1, §5.5, §6.6, §8.4)", () => {
  it("PUSH_PROMISE is a PROTOCOL_ERROR for a server (clients cannot push) and a client (we disable push)", () => {
    expectError(read(frame(PUSH_PROMISE, END_HEADERS, 1, [...u32(2), 0x82])), PROTOCOL_ERROR, 0);
    const client = new FrameReader(new FrameRecorder(), { role: "client" });
    client.push(frame(SETTINGS, 0, 0));
    expect(catchError(() => client.push(frame(PUSH_PROMISE, END_HEADERS, 1, [...u32(2), 0x82])))).toMatchObject({
      code: PROTOCOL_ERROR,
      streamId: 0,
    });
  });

  it("ignores frames of unknown types, on any stream, with any flags and payload", () => {
    const result = read(concat(frame(0x0a, 0xff, 0, [1, 2, 3]), frame(0xff, 0, 7), frame(0x10, 0x1, 1, new Uint8Array(100)), frame(PING, 0, 0, new Uint8Array(8))));
    expect(result.events).toMatchObject([{ kind: "ping" }]);
  });

  it("ignores unknown flags (§4.1)", () => {
    expect(read(frame(DATA, 0xf6, 1, [9])).events).toEqual([{ kind: "data", streamId: 1, endStream: false, data: bytes(9), flowControlledLength: 1 }]);
  });
});

describe("FrameReader: errors and recovery", () => {
  it("after a connection error every push throws the same error", () => {
    const reader = new FrameReader(new FrameRecorder(), { role: "server" });
    reader.push(start);
    const error = catchError(() => reader.push(frame(DATA, 0, 0)));
    expect(catchError(() => reader.push(frame(PING, 0, 0, new Uint8Array(8))))).toBe(error);
  });

  it("after a stream error the frames left in the chunk are read on the next push, before the new chunk", () => {
    const recorder = new FrameRecorder();
    const reader = new FrameReader(recorder, { role: "server" });
    reader.push(start);
    const error = catchError(() =>
      reader.push(concat(frame(WINDOW_UPDATE, 0, 1, u32(0)), frame(RST_STREAM, 0, 1, u32(1)), frame(RST_STREAM, 0, 3, u32(2)).subarray(0, 5))),
    );
    expect(error).toMatchObject({ code: PROTOCOL_ERROR, streamId: 1 });
    reader.push(frame(RST_STREAM, 0, 3, u32(2)).subarray(5));
    expect(recorder.events.slice(1)).toEqual([
      { kind: "rst-stream", streamId: 1, code: 1 },
      { kind: "rst-stream", streamId: 3, code: 2 },
    ]);
  });

  it("a stream error thrown by the handler leaves the reader reading; any other exception ends it", () => {
    const seen: number[] = [];
    const handler: FrameHandler = {
      ...ignore,
      onRstStream: (streamId) => {
        seen.push(streamId);
        if (streamId === 1) throw new H2Error(0x5, 1, "closed");
        if (streamId === 5) throw new TypeError("a bug");
      },
    };
    const reader = new FrameReader(handler, { role: "server" });
    reader.push(start);
    const frames = concat(frame(RST_STREAM, 0, 1, u32(0)), frame(RST_STREAM, 0, 3, u32(0)), frame(RST_STREAM, 0, 5, u32(0)), frame(RST_STREAM, 0, 7, u32(0)));
    expect(catchError(() => reader.push(frames))).toMatchObject({ streamId: 1 });
    expect(catchError(() => reader.push(new Uint8Array(0)))).toBeInstanceOf(TypeError);
    expect(catchError(() => reader.push(new Uint8Array(0)))).toBeInstanceOf(TypeError);
    expect(seen).toEqual([1, 3, 5]);
  });

  it("rejects options that make no sense", () => {
    expect(() => new FrameReader(ignore, { role: "server", maxHeaderBlockBytes: 0 })).toThrow(RangeError);
    expect(() => new FrameReader(ignore, { role: "server", maxContinuationFrames: -1 })).toThrow(RangeError);
    expect(() => new FrameReader(ignore, { role: "server", maxFrameSize: 1000 })).toThrow(RangeError);
  });
});

describe("FrameReader: chunking", () => {
  // Every frame type, padding, a joined block, a frame larger than 4 KiB, and a stream error.
  const stream = concat(
    start,
    frame(SETTINGS, 0, 0, [0, 3, ...u32(100), 0, 4, ...u32(1 << 20)]),
    frame(SETTINGS, ACK, 0),
    frame(HEADERS, PADDED | PRIORITY_FLAG, 1, [2, ...u32(0), 15, 0x82, 0x86, 0, 0]),
    frame(CONTINUATION, 0, 1, [0x84, 0x41]),
    frame(CONTINUATION, END_HEADERS, 1, [0x01, 0x61]),
    frame(DATA, PADDED, 1, [4, 0, 0, 0, 0, 1, 0xff, 0, 0, 0, 0]),
    frame(DATA, 0, 1, new Uint8Array(5000).map((_, i) => i)),
    frame(WINDOW_UPDATE, 0, 1, u32(0)),
    frame(PRIORITY, 0, 3, [...u32(1), 7]),
    frame(0x20, 0, 0, [1, 2, 3]),
    frame(DATA, END_STREAM, 1),
    frame(PING, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]),
    frame(WINDOW_UPDATE, 0, 0, u32(1000)),
    frame(RST_STREAM, 0, 3, u32(8)),
    frame(HEADERS, END_HEADERS | END_STREAM, 3, [0x88]),
    frame(GOAWAY, 0, 0, [...u32(3), ...u32(0), 0x62, 0x79, 0x65]),
  );

  function events(chunks: Uint8Array[]): FrameEvent[] {
    const recorder = new FrameRecorder();
    expect(recorder.feed(new FrameReader(recorder, { role: "server" }), chunks)).toBe(true);
    return recorder.events;
  }

  const whole = events([stream]);

  it("reads the reference stream as expected", () => {
    expect(whole.map((e) => e.kind)).toEqual([
      "settings",
      "settings",
      "settings",
      "headers",
      "data",
      "data",
      "error",
      "priority",
      "data",
      "ping",
      "window-update",
      "rst-stream",
      "headers",
      "goaway",
    ]);
  });

  it("gives the same events when the stream is cut in two at every offset", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(events([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(whole);
    }
  });

  it("gives the same events one octet at a time, and in chunks of every size up to 64", () => {
    expect(events(Array.from(stream, (b) => bytes(b)))).toEqual(whole);
    for (let size = 2; size <= 64; size++) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < stream.length; at += size) chunks.push(stream.subarray(at, at + size));
      expect(events(chunks)).toEqual(whole);
    }
  });
});

/** A handler that ignores everything, for specs that override one method. */
const ignore: FrameHandler = {
  onData() {},
  onHeaders() {},
  onPriority() {},
  onRstStream() {},
  onSettings() {},
  onPing() {},
  onGoaway() {},
  onWindowUpdate() {},
};

function catchError(run: () => void): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an exception");
}
