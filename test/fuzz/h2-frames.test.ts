import * as fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { CLIENT_PREFACE } from "../../src/h2/frame/client-preface.ts";
import { type FrameEvent, FrameRecorder } from "../../src/h2/frame/frame-recorder.ts";
import { FrameReader, type FrameReaderOptions } from "../../src/h2/frame/frame-reader.ts";
import { FrameWriter } from "../../src/h2/frame/frame-writer.ts";
import type { SettingsUpdate } from "../../src/h2/frame/settings.ts";
import { checkProperty, chunk, fuzzBudget, reportInputs } from "./fuzz-support.ts";

const startedAt = performance.now();
fuzzBudget(9000);
afterAll(() => reportInputs("h2-frames", startedAt));

// ---------------------------------------------------------------------------
// Feeding a reader and comparing what it reported.

/** A client's connection start: the preface and an empty SETTINGS frame (RFC 9113 §3.4). */
const start = new Uint8Array([...CLIENT_PREFACE, 0, 0, 0, 0x4, 0, 0, 0, 0, 0]);

/**
 * Reads `chunks` as a server connection; every exception that is not an
 * H2Error fails the property (FrameRecorder.feed rethrows them). Each event
 * consumes at least one 9-octet frame header, so more events than that
 * would mean the reader reports without reading: a runaway.
 */
function read(chunks: readonly Uint8Array[], options: Partial<FrameReaderOptions> = {}): FrameEvent[] {
  const recorder = new FrameRecorder();
  recorder.feed(new FrameReader(recorder, { role: "server", ...options }), chunks);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  if (recorder.events.length > total / 9 + 1) throw new Error(`${recorder.events.length} events from ${total} octets`);
  return recorder.events;
}

/** Cut points anywhere in an input, whatever its length. */
const cuts = fc.array(fc.nat(), { maxLength: 8 });

function split(bytes: Uint8Array, at: readonly number[]): Uint8Array[] {
  return chunk(
    bytes,
    at.map((c) => c % (bytes.length + 1)),
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Events equal field by field; an error's message is for humans and may name chunk-dependent octets, so only its code and stream count. */
function sameEvents(a: readonly FrameEvent[], b: readonly FrameEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as unknown as Record<string, unknown>;
    const y = b[i] as unknown as Record<string, unknown>;
    for (const key of Object.keys(x)) {
      if (key === "message") continue;
      const u = x[key];
      const v = y[key];
      if (u instanceof Uint8Array) {
        if (!(v instanceof Uint8Array) || !sameBytes(u, v)) return false;
      } else if (typeof u === "object" && u !== null) {
        if (JSON.stringify(u) !== JSON.stringify(v)) return false;
      } else if (u !== v) return false;
    }
  }
  return true;
}

function expectSameEvents(actual: readonly FrameEvent[], expected: readonly FrameEvent[]): void {
  if (!sameEvents(actual, expected)) expect(actual).toEqual(expected);
}

// ---------------------------------------------------------------------------
// Arbitraries.

/** Reader limits small enough for short inputs to reach them. */
const readerOptions = fc.record({
  maxContinuationFrames: fc.integer({ min: 0, max: 4 }),
  maxHeaderBlockBytes: fc.integer({ min: 1, max: 128 }),
});

/** Frame-shaped input: known and unknown types, any flags, stream 0 and others, lengths that lie a little. */
const hostileFrame = fc.record({
  type: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
  flags: fc.oneof(fc.constantFrom(0, 0x1, 0x4, 0x5, 0x8, 0x9, 0x20, 0x24, 0x2d), fc.integer({ min: 0, max: 255 })),
  streamId: fc.oneof(fc.constantFrom(0, 1, 3), fc.integer({ min: 0, max: 0xffff_ffff })),
  payload: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 24 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 20_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)) },
  ),
  lie: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -4, max: 4 }) }),
});

function serialize(frames: readonly { type: number; flags: number; streamId: number; payload: Uint8Array; lie: number }[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + 9 + f.payload.length, 0));
  let at = 0;
  for (const { type, flags, streamId, payload, lie } of frames) {
    const length = Math.max(0, payload.length + lie);
    out.set([length >>> 16, (length >>> 8) & 0xff, length & 0xff, type, flags, streamId >>> 24, (streamId >>> 16) & 0xff, (streamId >>> 8) & 0xff, streamId & 0xff], at);
    out.set(payload, at + 9);
    at += 9 + payload.length;
  }
  return out;
}

const streamId = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const smallOrLarge = fc.oneof(
  { weight: 12, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 1, arbitrary: fc.integer({ min: 16_000, max: 40_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)) },
);
const settingsUpdate: fc.Arbitrary<SettingsUpdate> = fc.record(
  {
    headerTableSize: fc.integer({ min: 0, max: 0xffff_ffff }),
    enablePush: fc.boolean(),
    maxConcurrentStreams: fc.integer({ min: 0, max: 0xffff_ffff }),
    initialWindowSize: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxFrameSize: fc.integer({ min: 16_384, max: 2 ** 24 - 1 }),
    maxHeaderListSize: fc.integer({ min: 0, max: 0xffff_ffff }),
  },
  { requiredKeys: [] },
);

/** One call on a FrameWriter, and the events a reader must report for it. */
type Op =
  | { op: "headers"; streamId: number; block: Uint8Array; endStream: boolean }
  | { op: "data"; streamId: number; payload: Uint8Array; endStream: boolean }
  | { op: "settings"; update: SettingsUpdate }
  | { op: "settingsAck" }
  | { op: "ping"; ack: boolean; opaque: Uint8Array }
  | { op: "goaway"; lastStreamId: number; code: number; debug: Uint8Array }
  | { op: "rstStream"; streamId: number; code: number }
  | { op: "windowUpdate"; streamId: number; increment: number };

const code = fc.oneof(fc.integer({ min: 0, max: 0xd }), fc.integer({ min: 0, max: 0xffff_ffff }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("headers" as const), streamId, block: smallOrLarge, endStream: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("data" as const), streamId, payload: smallOrLarge, endStream: fc.boolean() }) },
  fc.record({ op: fc.constant("settings" as const), update: settingsUpdate }),
  fc.constant({ op: "settingsAck" as const }),
  fc.record({ op: fc.constant("ping" as const), ack: fc.boolean(), opaque: fc.uint8Array({ minLength: 8, maxLength: 8 }) }),
  fc.record({ op: fc.constant("goaway" as const), lastStreamId: fc.integer({ min: 0, max: 2 ** 31 - 1 }), code, debug: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ op: fc.constant("rstStream" as const), streamId, code }),
  fc.record({ op: fc.constant("windowUpdate" as const), streamId: fc.oneof(fc.constant(0), streamId), increment: fc.integer({ min: 1, max: 2 ** 31 - 1 }) }),
);

function write(writer: FrameWriter, o: Op): void {
  switch (o.op) {
    case "headers":
      return writer.headers(o.streamId, o.block, o.endStream);
    case "data":
      return writer.data(o.streamId, o.payload, o.endStream);
    case "settings":
      return writer.settings(o.update);
    case "settingsAck":
      return writer.settingsAck();
    case "ping":
      return writer.ping(o.ack, o.opaque);
    case "goaway":
      return writer.goaway(o.lastStreamId, o.code, o.debug);
    case "rstStream":
      return writer.rstStream(o.streamId, o.code);
    case "windowUpdate":
      return writer.windowUpdate(o.streamId, o.increment);
  }
}

/** What RFC 9113 says a reader sees for one writer call: DATA split at the max frame size, a field block whole. */
function expected(o: Op, maxFrameSize: number): FrameEvent[] {
  switch (o.op) {
    case "headers":
      return [{ kind: "headers", streamId: o.streamId, endStream: o.endStream, block: o.block }];
    case "data": {
      const events: FrameEvent[] = [];
      let at = 0;
      do {
        const data = o.payload.subarray(at, at + maxFrameSize);
        at += data.length;
        const last = at === o.payload.length;
        events.push({ kind: "data", streamId: o.streamId, endStream: last && o.endStream, data, flowControlledLength: data.length });
      } while (at < o.payload.length);
      return events;
    }
    case "settings":
      return [{ kind: "settings", ack: false, update: o.update }];
    case "settingsAck":
      return [{ kind: "settings", ack: true, update: {} }];
    case "ping":
      return [{ kind: "ping", ack: o.ack, opaque: o.opaque }];
    case "goaway":
      return [{ kind: "goaway", lastStreamId: o.lastStreamId, code: o.code, debugData: o.debug }];
    case "rstStream":
      return [{ kind: "rst-stream", streamId: o.streamId, code: o.code }];
    case "windowUpdate":
      return [{ kind: "window-update", streamId: o.streamId, increment: o.increment }];
  }
}

/** Settings keys in the order parseSettings fills them, so JSON comparison does not depend on the generator's key order. */
function canonical(events: FrameEvent[]): FrameEvent[] {
  return events.map((e) =>
    e.kind === "settings"
      ? {
          ...e,
          update: Object.fromEntries(
            ["headerTableSize", "enablePush", "maxConcurrentStreams", "initialWindowSize", "maxFrameSize", "maxHeaderListSize"]
              .filter((k) => k in e.update)
              .map((k) => [k, e.update[k as keyof SettingsUpdate]]),
          ),
        }
      : e,
  );
}

// ---------------------------------------------------------------------------

describe("h2 frame reader under hostile input", () => {
  it("arbitrary octets after a valid preface: events or an H2Error, the same however they are chunked", async () => {
    await checkProperty(
      "arbitrary octets after the preface",
      fc.property(fc.uint8Array({ maxLength: 200 }), cuts, (bytes, at) => {
        const whole = read([start, bytes]);
        expectSameEvents(read([start, ...split(bytes, at)]), whole);
      }),
      { numRuns: 35_000, timeLimitMs: 2500 },
    );
  });

  it("octets instead of the preface: a PROTOCOL_ERROR at once, and nothing else", async () => {
    const nearPreface = fc.tuple(fc.nat({ max: 24 }), fc.uint8Array({ maxLength: 40 })).map(([keep, rest]) => {
      const out = new Uint8Array(keep + rest.length);
      out.set(CLIENT_PREFACE.subarray(0, keep));
      out.set(rest, keep);
      return out;
    });
    await checkProperty(
      "octets instead of the preface",
      fc.property(fc.oneof(nearPreface, fc.uint8Array({ maxLength: 40 })), cuts, (bytes, at) => {
        const whole = read([bytes]);
        expectSameEvents(read(split(bytes, at)), whole);
        const prefix = CLIENT_PREFACE.subarray(0, Math.min(24, bytes.length));
        if (!sameBytes(bytes.subarray(0, prefix.length), prefix)) {
          expect(whole).toMatchObject([{ kind: "error", code: 0x1, streamId: 0 }]);
        } else if (bytes.length <= 24) {
          expect(whole).toEqual([]);
        }
      }),
      { numRuns: 15_000, timeLimitMs: 1000 },
    );
  });

  it("frame-shaped hostile sequences with small limits: events or H2Errors, the same however they are chunked", async () => {
    await checkProperty(
      "frame-shaped hostile sequences",
      fc.property(fc.array(hostileFrame, { maxLength: 10 }), cuts, readerOptions, (frames, at, options) => {
        const bytes = serialize(frames);
        const whole = read([start, bytes], options);
        expectSameEvents(read([start, ...split(bytes, at)], options), whole);
      }),
      { numRuns: 40_000, timeLimitMs: 3500 },
    );
  });
});

describe("h2 frame writer → reader", () => {
  it("any sequence of frames the writer writes reads back as written, however it is chunked", async () => {
    await checkProperty(
      "writer sequences, randomly chunked",
      fc.property(fc.array(op, { maxLength: 8 }), fc.constantFrom(16_384, 20_000), cuts, (ops, maxFrameSize, at) => {
        const writer = new FrameWriter({ slabSize: 256 });
        writer.maxFrameSize = maxFrameSize;
        writer.preface();
        writer.settings({});
        const chunks: Uint8Array[] = [];
        for (const o of ops) {
          write(writer, o);
          // Take at random moments too: a chunk per event-loop turn.
          if (o.op === "settingsAck") chunks.push(writer.take());
        }
        chunks.push(writer.take());
        const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        chunks.reduce((offset, c) => (bytes.set(c, offset), offset + c.length), 0);
        const want = canonical([{ kind: "settings", ack: false, update: {} }, ...ops.flatMap((o) => expected(o, maxFrameSize))]);
        expectSameEvents(canonical(read(split(bytes, at), { maxFrameSize, maxHeaderBlockBytes: 1 << 20 })), want);
        expectSameEvents(canonical(read(chunks, { maxFrameSize, maxHeaderBlockBytes: 1 << 20 })), want);
      }),
      { numRuns: 20_000, timeLimitMs: 2500 },
    );
  });
});
