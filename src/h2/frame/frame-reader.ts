import { H2Error, H2ErrorCode } from "../h2-error.ts";
import { CLIENT_PREFACE } from "./client-preface.ts";
import type { FrameHandler } from "./frame-handler.ts";
import { FrameFlag, FrameType, frameHeaderLength, frameTypeName } from "./frame-type.ts";
import { defaultSettings, maxMaxFrameSize, minMaxFrameSize, noSettings, parseSettings } from "./settings.ts";

/** How a {@link FrameReader} is set up; {@link FrameReader}'s constructor fills the defaults. */
export interface FrameReaderOptions {
  /**
   * Our side of the connection. A "server" reads the 24-octet client
   * preface first (§3.4); a "client" does not. Both require the peer's
   * first frame to be SETTINGS (§3.4).
   */
  readonly role: "server" | "client";
  /** Our SETTINGS_MAX_FRAME_SIZE (§4.2): the largest payload accepted. Default 16,384; see {@link FrameReader.maxFrameSize}. */
  readonly maxFrameSize?: number;
  /**
   * The most octets of one encoded field block, over HEADERS and all its
   * CONTINUATION frames. Default 65,536. Dropping a block without decoding
   * it would desynchronise HPACK (§4.3), so a larger one is a connection
   * error, ENHANCE_YOUR_CALM.
   */
  readonly maxHeaderBlockBytes?: number;
  /**
   * The most CONTINUATION frames after one HEADERS frame; default 8, as
   * nghttp2 1.61 chose against the 2024 CONTINUATION flood (VU#421644),
   * where empty CONTINUATION frames cost the reader without growing the
   * block. More is a connection error, ENHANCE_YOUR_CALM.
   */
  readonly maxContinuationFrames?: number;
}

/** Reader state: no field block open. */
const noBlock = 0;
/** A DATA frame's PADDED flag, the same bit on HEADERS. */
const padded = FrameFlag.PADDED;

/**
 * Reads HTTP/2 frames (RFC 9113 §4, §6) from a byte connection, in chunks
 * of any size and boundary, validates them, and calls a {@link FrameHandler}
 * once per frame, and once per field block. Runtime-free: bytes in,
 * calls out, no I/O of its own.
 *
 * What it checks is what a frame alone can tell (§3.4, §4, §6); stream
 * states, flow-control accounting and HPACK are the connection's. In
 * particular: the preface; frame sizes against our SETTINGS_MAX_FRAME_SIZE
 * (§4.2) and the fixed lengths of §6; frames on stream 0 that need a stream
 * and the reverse; padding (§6.1, §6.2); priority self-dependency (§5.3.1);
 * zero WINDOW_UPDATE increments (§6.9); field blocks interrupted (§6.10);
 * PUSH_PROMISE, which we never allow (§6.6, §8.4); limits against
 * CONTINUATION floods. Extension frame types are ignored (§4.1, §5.5).
 *
 * Hot path: a frame that lies within one chunk is handed on as a view of
 * it; only a frame split across chunks is copied (into a buffer reused
 * for frames up to 4 KiB, so an idle connection keeps little), and a field
 * block spread over CONTINUATION frames is joined in one array.
 */
export class FrameReader {
  private readonly handler: FrameHandler;
  private readonly peer: "client" | "server";
  private readonly maxHeaderBlockBytes: number;
  private readonly maxContinuationFrames: number;
  private localMaxFrameSize: number;

  /** Octets of the client preface still to read (server role). */
  private prefaceLeft: number;
  /** Whether the peer's first frame, its SETTINGS, has arrived (§3.4). */
  private settingsSeen = false;

  /** A frame header split across chunks: its first `headerHave` octets. */
  private readonly header = new Uint8Array(frameHeaderLength);
  private headerHave = 0;
  /** The frame whose header was read and whose payload is still arriving; length -1 when none. */
  private frameLength = -1;
  private frameType = 0;
  private frameFlags = 0;
  private frameStreamId = 0;
  private payload: Uint8Array | null = null;
  private payloadHave = 0;

  /** The field block being joined from HEADERS and CONTINUATION frames; `blockStreamId` 0 when none. */
  private blockStreamId = noBlock;
  private blockEndStream = false;
  private block: Uint8Array | null = null;
  private blockLength = 0;
  private blockFrames = 0;

  /** Octets left after a stream error, read before the next chunk. */
  private rest: Uint8Array | null = null;
  /** What ended the reader: every later push throws it again. */
  private failure: unknown = null;

  constructor(handler: FrameHandler, options: FrameReaderOptions) {
    this.handler = handler;
    this.peer = options.role === "server" ? "client" : "server";
    this.prefaceLeft = options.role === "server" ? CLIENT_PREFACE.length : 0;
    this.localMaxFrameSize = defaultSettings.maxFrameSize;
    this.maxFrameSize = options.maxFrameSize ?? defaultSettings.maxFrameSize;
    this.maxHeaderBlockBytes = positiveInteger("maxHeaderBlockBytes", options.maxHeaderBlockBytes ?? 65_536);
    this.maxContinuationFrames = positiveInteger("maxContinuationFrames", options.maxContinuationFrames ?? 8, 0);
  }

  /**
   * Our SETTINGS_MAX_FRAME_SIZE (§4.2, §6.5.2): frames with a longer payload
   * are a connection error, FRAME_SIZE_ERROR (the reader never buffers them).
   * The connection raises it when it announces a larger value (accepting
   * larger frames early is harmless) and lowers it only once the peer
   * acknowledged the SETTINGS that lowered it (§6.5.3).
   */
  get maxFrameSize(): number {
    return this.localMaxFrameSize;
  }

  set maxFrameSize(size: number) {
    if (!Number.isInteger(size) || size < minMaxFrameSize || size > maxMaxFrameSize) {
      throw new RangeError(`maxFrameSize ${size} is outside 16384..16777215 (RFC 9113 §4.2)`);
    }
    this.localMaxFrameSize = size;
  }

  /** Whether a field block is open: HEADERS came without END_HEADERS and CONTINUATION frames are due (§6.10). */
  get inHeaderBlock(): boolean {
    return this.blockStreamId !== noBlock;
  }

  /**
   * Reads the next chunk of the connection and calls the handler for every
   * frame it completes. The reader keeps views of `chunk` while a frame is
   * incomplete, so the caller must not modify it afterwards.
   *
   * @throws H2Error for a violation of RFC 9113. With `streamId` 0 it is a
   *   connection error: answer GOAWAY and close; the reader is finished and
   *   every later call throws the same error. With another stream id it is a
   *   stream error: answer RST_STREAM on that stream and call `push` again
   *   (an empty chunk will do) to read on; the frames after the faulty one
   *   were kept. An exception from the handler propagates the same way.
   */
  push(chunk: Uint8Array): void {
    if (this.failure !== null) throw this.failure;
    let bytes = chunk;
    if (this.rest !== null) {
      bytes = join(this.rest, chunk);
      this.rest = null;
    }
    const end = bytes.length;
    let pos = 0;
    try {
      if (this.prefaceLeft > 0) {
        pos = this.readPreface(bytes);
        if (this.prefaceLeft > 0) return;
      }
      if (this.headerHave > 0) {
        const n = Math.min(frameHeaderLength - this.headerHave, end - pos);
        this.header.set(bytes.subarray(pos, pos + n), this.headerHave);
        this.headerHave += n;
        pos += n;
        if (this.headerHave < frameHeaderLength) return;
        this.headerHave = 0;
        this.readHeader(this.header, 0);
      }
      if (this.frameLength >= 0) {
        const length = this.frameLength;
        const missing = length - this.payloadHave;
        if (this.payloadHave === 0 && end - pos >= length) {
          // Only the header was split off: the payload is whole in this chunk.
          const start = pos;
          pos += length;
          this.frameLength = -1;
          this.frame(this.frameType, this.frameFlags, this.frameStreamId, bytes, start, length);
        } else if (end - pos < missing) {
          this.stash(bytes, pos, end);
          return;
        } else {
          this.stash(bytes, pos, pos + missing);
          pos += missing;
          this.frameLength = -1;
          this.payloadHave = 0;
          const payload = this.payload as Uint8Array;
          if (payload.length > 4096) this.payload = null;
          this.frame(this.frameType, this.frameFlags, this.frameStreamId, payload, 0, length);
        }
      }
      while (end - pos >= frameHeaderLength) {
        const length = (bytes[pos]! << 16) | (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
        const type = bytes[pos + 3]!;
        const flags = bytes[pos + 4]!;
        const streamId = ((bytes[pos + 5]! & 0x7f) << 24) | (bytes[pos + 6]! << 16) | (bytes[pos + 7]! << 8) | bytes[pos + 8]!;
        this.check(length, type, flags, streamId);
        const start = pos + frameHeaderLength;
        if (end - start < length) {
          this.frameLength = length;
          this.frameType = type;
          this.frameFlags = flags;
          this.frameStreamId = streamId;
          this.payloadHave = 0;
          pos = end;
          if (start < end) this.stash(bytes, start, end);
          return;
        }
        pos = start + length;
        this.frame(type, flags, streamId, bytes, start, length);
      }
      if (pos < end) {
        this.header.set(bytes.subarray(pos, end), 0);
        this.headerHave = end - pos;
        pos = end;
      }
    } catch (error) {
      if (error instanceof H2Error && error.streamId !== 0 && this.frameLength < 0 && this.headerHave === 0) {
        // A stream error: the faulty frame was read whole; keep what follows it.
        if (pos < end) this.rest = bytes.subarray(pos);
      } else {
        this.failure = error;
      }
      throw error;
    }
  }

  /** Matches the client preface octet by octet, so an HTTP/1.1 request fails at its first byte (§3.4). */
  private readPreface(bytes: Uint8Array): number {
    const from = CLIENT_PREFACE.length - this.prefaceLeft;
    const n = Math.min(this.prefaceLeft, bytes.length);
    for (let i = 0; i < n; i++) {
      if (bytes[i] !== CLIENT_PREFACE[from + i]) {
        const seen = new TextDecoder("latin1").decode(bytes.subarray(0, Math.min(bytes.length, 24)));
        throw new H2Error(
          H2ErrorCode.PROTOCOL_ERROR,
          0,
          `the client did not send the HTTP/2 connection preface (RFC 9113 §3.4): its octet ${from + i} differs; received ${JSON.stringify(seen)}${seen.includes("HTTP/1.") ? ", an HTTP/1.x request" : ""}`,
        );
      }
    }
    this.prefaceLeft -= n;
    return n;
  }

  /** Reads a frame header the reader buffered, and prepares for its payload. */
  private readHeader(h: Uint8Array, at: number): void {
    const length = (h[at]! << 16) | (h[at + 1]! << 8) | h[at + 2]!;
    const streamId = ((h[at + 5]! & 0x7f) << 24) | (h[at + 6]! << 16) | (h[at + 7]! << 8) | h[at + 8]!;
    this.check(length, h[at + 3]!, h[at + 4]!, streamId);
    this.frameLength = length;
    this.frameType = h[at + 3]!;
    this.frameFlags = h[at + 4]!;
    this.frameStreamId = streamId;
    this.payloadHave = 0;
  }

  /** Copies payload octets of a frame split across chunks into the reader's buffer. */
  private stash(bytes: Uint8Array, from: number, to: number): void {
    if (this.payloadHave === 0 && (this.payload === null || this.payload.length < this.frameLength)) {
      this.payload = new Uint8Array(Math.max(this.frameLength, 256));
    }
    (this.payload as Uint8Array).set(bytes.subarray(from, to), this.payloadHave);
    this.payloadHave += to - from;
  }

  /**
   * The checks a frame header alone allows, made before its payload is
   * buffered: the size limit (§4.2), the preface's SETTINGS (§3.4), field
   * blocks (§6.10) and their limits, PUSH_PROMISE (§8.4). All connection errors.
   */
  private check(length: number, type: number, flags: number, streamId: number): void {
    if (length > this.localMaxFrameSize) {
      throw connectionError(
        H2ErrorCode.FRAME_SIZE_ERROR,
        `${frameTypeName(type)} frame of ${length} octets on stream ${streamId} exceeds our SETTINGS_MAX_FRAME_SIZE ${this.localMaxFrameSize} (RFC 9113 §4.2)`,
      );
    }
    if (this.blockStreamId !== noBlock) {
      if (type !== FrameType.CONTINUATION || streamId !== this.blockStreamId) {
        throw connectionError(
          H2ErrorCode.PROTOCOL_ERROR,
          `${frameTypeName(type)} frame on stream ${streamId} interrupted the field block of stream ${this.blockStreamId}: only its CONTINUATION frames may follow (RFC 9113 §6.10)`,
        );
      }
      if (++this.blockFrames > this.maxContinuationFrames) {
        throw connectionError(
          H2ErrorCode.ENHANCE_YOUR_CALM,
          `more than ${this.maxContinuationFrames} CONTINUATION frames in the field block of stream ${streamId} (CONTINUATION flood; the limit is maxContinuationFrames)`,
        );
      }
      if (this.blockLength + length > this.maxHeaderBlockBytes) {
        throw blockTooLarge(streamId, this.blockLength + length, this.maxHeaderBlockBytes);
      }
    } else if (type === FrameType.CONTINUATION) {
      throw connectionError(
        H2ErrorCode.PROTOCOL_ERROR,
        `CONTINUATION frame on stream ${streamId} without an open field block: it must follow HEADERS without END_HEADERS (RFC 9113 §6.10)`,
      );
    }
    if (!this.settingsSeen) {
      if (type !== FrameType.SETTINGS || (flags & FrameFlag.ACK) !== 0) {
        throw connectionError(
          H2ErrorCode.PROTOCOL_ERROR,
          `the ${this.peer}'s connection preface must end with a SETTINGS frame, not ${(flags & FrameFlag.ACK) !== 0 && type === FrameType.SETTINGS ? "a SETTINGS ACK" : frameTypeName(type)} (RFC 9113 §3.4)`,
        );
      }
      this.settingsSeen = true;
    }
    if (type === FrameType.PUSH_PROMISE) {
      throw connectionError(
        H2ErrorCode.PROTOCOL_ERROR,
        this.peer === "client"
          ? `PUSH_PROMISE frame on stream ${streamId}: a client cannot push (RFC 9113 §8.4)`
          : `PUSH_PROMISE frame on stream ${streamId}: we announced SETTINGS_ENABLE_PUSH 0 (RFC 9113 §6.6, §8.4)`,
      );
    }
  }

  /** Validates one complete frame and calls the handler; the payload is `bytes[start, start + length)`. */
  private frame(type: number, flags: number, streamId: number, bytes: Uint8Array, start: number, length: number): void {
    switch (type) {
      case FrameType.DATA: {
        if (streamId === 0) throw onStreamZero("DATA", "§6.1");
        let from = start;
        let to = start + length;
        if ((flags & padded) !== 0) {
          if (length === 0) throw tooShortForPadding("DATA", streamId);
          const padding = bytes[from++]!;
          if (padding >= length) throw paddingTooLong("DATA", streamId, padding, length, "§6.1");
          to -= padding;
        }
        this.handler.onData(streamId, (flags & FrameFlag.END_STREAM) !== 0, bytes.subarray(from, to), length);
        return;
      }
      case FrameType.HEADERS: {
        if (streamId === 0) throw onStreamZero("HEADERS", "§6.2");
        let from = start;
        let to = start + length;
        let padding = 0;
        if ((flags & padded) !== 0) {
          if (length === 0) throw tooShortForPadding("HEADERS", streamId);
          padding = bytes[from++]!;
        }
        if ((flags & FrameFlag.PRIORITY) !== 0) {
          if (to - from < 5) {
            throw connectionError(
              H2ErrorCode.FRAME_SIZE_ERROR,
              `HEADERS frame of ${length} octets on stream ${streamId} is too short for its priority fields (RFC 9113 §4.2, §6.2)`,
            );
          }
          const dependency = read31(bytes, from);
          if (dependency === streamId) {
            // A stream error by §5.3.1, made a connection error (§5.4.1) so the
            // unread field block cannot desynchronise HPACK; nghttp2 does the same.
            throw connectionError(
              H2ErrorCode.PROTOCOL_ERROR,
              `HEADERS frame on stream ${streamId} makes the stream depend on itself (RFC 9113 §5.3.1)`,
            );
          }
          from += 5;
        }
        if (padding > to - from) throw paddingTooLong("HEADERS", streamId, padding, length, "§6.2");
        to -= padding;
        const endStream = (flags & FrameFlag.END_STREAM) !== 0;
        if (to - from > this.maxHeaderBlockBytes) throw blockTooLarge(streamId, to - from, this.maxHeaderBlockBytes);
        if ((flags & FrameFlag.END_HEADERS) !== 0) {
          this.handler.onHeaders(streamId, endStream, bytes.subarray(from, to));
          return;
        }
        this.blockStreamId = streamId;
        this.blockEndStream = endStream;
        this.blockFrames = 0;
        this.blockLength = 0;
        this.appendBlock(bytes, from, to);
        return;
      }
      case FrameType.CONTINUATION: {
        // check() made sure a block is open on this stream.
        this.appendBlock(bytes, start, start + length);
        if ((flags & FrameFlag.END_HEADERS) !== 0) {
          const block = (this.block as Uint8Array).subarray(0, this.blockLength);
          const endStream = this.blockEndStream;
          this.block = null;
          this.blockStreamId = noBlock;
          this.handler.onHeaders(streamId, endStream, block);
        }
        return;
      }
      case FrameType.PRIORITY: {
        if (streamId === 0) throw onStreamZero("PRIORITY", "§6.3");
        if (length !== 5) {
          throw new H2Error(
            H2ErrorCode.FRAME_SIZE_ERROR,
            streamId,
            `PRIORITY frame of ${length} octets on stream ${streamId}: it must be 5 (RFC 9113 §6.3)`,
          );
        }
        const dependency = read31(bytes, start);
        if (dependency === streamId) {
          throw new H2Error(
            H2ErrorCode.PROTOCOL_ERROR,
            streamId,
            `PRIORITY frame on stream ${streamId} makes the stream depend on itself (RFC 9113 §5.3.1)`,
          );
        }
        this.handler.onPriority(streamId, dependency, (bytes[start]! & 0x80) !== 0, bytes[start + 4]! + 1);
        return;
      }
      case FrameType.RST_STREAM:
        if (streamId === 0) throw onStreamZero("RST_STREAM", "§6.4");
        if (length !== 4) throw wrongLength("RST_STREAM", length, "exactly 4", "§6.4");
        this.handler.onRstStream(streamId, read32(bytes, start));
        return;
      case FrameType.SETTINGS:
        if (streamId !== 0) throw onStream("SETTINGS", streamId, "§6.5");
        if ((flags & FrameFlag.ACK) !== 0) {
          if (length !== 0) throw wrongLength("SETTINGS ACK", length, "empty", "§6.5");
          this.handler.onSettings(true, noSettings);
          return;
        }
        this.handler.onSettings(false, parseSettings(bytes.subarray(start, start + length), this.peer));
        return;
      case FrameType.PING:
        if (streamId !== 0) throw onStream("PING", streamId, "§6.7");
        if (length !== 8) throw wrongLength("PING", length, "exactly 8", "§6.7");
        this.handler.onPing((flags & FrameFlag.ACK) !== 0, bytes.subarray(start, start + 8));
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw onStream("GOAWAY", streamId, "§6.8");
        if (length < 8) throw wrongLength("GOAWAY", length, "at least 8", "§6.8");
        this.handler.onGoaway(read31(bytes, start), read32(bytes, start + 4), bytes.subarray(start + 8, start + length));
        return;
      case FrameType.WINDOW_UPDATE: {
        if (length !== 4) throw wrongLength("WINDOW_UPDATE", length, "exactly 4", "§6.9");
        const increment = read31(bytes, start);
        if (increment === 0) {
          throw new H2Error(
            H2ErrorCode.PROTOCOL_ERROR,
            streamId,
            `WINDOW_UPDATE frame on ${streamId === 0 ? "the connection" : `stream ${streamId}`} with an increment of 0 (RFC 9113 §6.9)`,
          );
        }
        this.handler.onWindowUpdate(streamId, increment);
        return;
      }
      default:
      // Extension frames, PUSH_PROMISE excepted (refused by check()), are ignored (§4.1, §5.5).
    }
  }

  /** Adds a fragment to the field block being joined; check() bounded its size. */
  private appendBlock(bytes: Uint8Array, from: number, to: number): void {
    const needed = this.blockLength + (to - from);
    let block = this.block;
    if (block === null || block.length < needed) {
      const grown = new Uint8Array(Math.min(this.maxHeaderBlockBytes, Math.max(needed * 2, 1024)));
      if (block !== null) grown.set(block.subarray(0, this.blockLength));
      this.block = block = grown;
    }
    block.set(bytes.subarray(from, to), this.blockLength);
    this.blockLength = needed;
  }
}

function positiveInteger(name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} ${value} must be an integer of at least ${min}`);
  return value;
}

/** The first chunk followed by the second: only after a stream error, which is rare. */
function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function read31(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! & 0x7f) << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
}

function read32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function connectionError(code: H2ErrorCode, message: string): H2Error {
  return new H2Error(code, 0, message);
}

function onStreamZero(type: string, section: string): H2Error {
  return connectionError(H2ErrorCode.PROTOCOL_ERROR, `${type} frame on stream 0: it must belong to a stream (RFC 9113 ${section})`);
}

function onStream(type: string, streamId: number, section: string): H2Error {
  return connectionError(
    H2ErrorCode.PROTOCOL_ERROR,
    `${type} frame on stream ${streamId}: it applies to the connection and must be on stream 0 (RFC 9113 ${section})`,
  );
}

function wrongLength(type: string, length: number, expected: string, section: string): H2Error {
  return connectionError(H2ErrorCode.FRAME_SIZE_ERROR, `${type} frame of ${length} octets: it must be ${expected} (RFC 9113 ${section})`);
}

function tooShortForPadding(type: string, streamId: number): H2Error {
  return connectionError(
    H2ErrorCode.FRAME_SIZE_ERROR,
    `${type} frame on stream ${streamId} has the PADDED flag but no Pad Length octet (RFC 9113 §4.2)`,
  );
}

function paddingTooLong(type: string, streamId: number, padding: number, length: number, section: string): H2Error {
  return connectionError(
    H2ErrorCode.PROTOCOL_ERROR,
    `${type} frame on stream ${streamId}: ${padding} octets of padding do not fit its ${length}-octet payload (RFC 9113 ${section})`,
  );
}

function blockTooLarge(streamId: number, size: number, limit: number): H2Error {
  return connectionError(
    H2ErrorCode.ENHANCE_YOUR_CALM,
    `the field block of stream ${streamId} reached ${size} octets, over the limit of ${limit} (maxHeaderBlockBytes)`,
  );
}
