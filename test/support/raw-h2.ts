import * as net from "node:net";
import { gzipSync } from "node:zlib";

/**
 * Just enough of HTTP/2 on a bare socket to misbehave on purpose, which no
 * real client library will: open more streams than the server allows before
 * acknowledging its SETTINGS, or connect and never send a request. Header
 * blocks are HPACK literals without indexing or Huffman coding; frames are
 * read, never decoded beyond their header.
 */

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const FrameType = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7 } as const;
export const Flags = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const ErrorCode = { NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, REFUSED_STREAM: 0x7, CANCEL: 0x8, ENHANCE_YOUR_CALM: 0xb } as const;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.byteLength, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInteger(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    return [firstByte | value];
  }
  const bytes = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** A header block of literal fields without indexing, new names, no Huffman. */
export function headerBlock(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const string = (text: string) => {
    const bytes = Buffer.from(text, "latin1");
    return Buffer.concat([Buffer.from(hpackInteger(bytes.length, 7, 0)), bytes]);
  };
  for (const [name, value] of Object.entries(headers)) {
    parts.push(Buffer.from([0x00]), string(name), string(value));
  }
  return Buffer.concat(parts);
}

/** A gRPC message in its five-byte envelope. */
export function grpcEnvelope(message: Uint8Array): Buffer {
  const envelope = Buffer.alloc(5 + message.byteLength);
  envelope.writeUInt32BE(message.byteLength, 1);
  envelope.set(message, 5);
  return envelope;
}

/** A gRPC message gzip-compressed in its envelope (compressed flag set), for a request with `grpc-encoding: gzip`. */
export function gzipEnvelope(message: Uint8Array): Buffer {
  const envelope = grpcEnvelope(gzipSync(message));
  envelope[0] = 1;
  return envelope;
}

/** A raw HTTP/2 connection: what it received, frame by frame, and whether it is closed. */
export interface RawH2Connection {
  readonly socket: net.Socket;
  readonly frames: Frame[];
  /** Resolves when the socket has closed, with the time it took since connecting. */
  readonly closed: Promise<number>;
  /** Resolves with the first received frame that satisfies `test`. */
  waitFor(test: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  write(bytes: Uint8Array): void;
  destroy(): void;
}

/** Opens a TCP connection and reads whatever HTTP/2 frames come back. Sends nothing by itself. */
export async function connectRaw(port: number, host = "127.0.0.1"): Promise<RawH2Connection> {
  const socket = net.connect(port, host);
  socket.on("error", () => {});
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  let buffered = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      frames.push({
        type: buffered[3] ?? 0,
        flags: buffered[4] ?? 0,
        streamId: buffered.readUInt32BE(5) & 0x7fffffff,
        payload: buffered.subarray(9, 9 + length),
      });
      buffered = buffered.subarray(9 + length);
    }
    for (const wake of waiters) wake();
  });
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - started)));
  return {
    socket,
    frames,
    closed,
    waitFor(test, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = frames.find(test);
          if (found !== undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such frame within ${timeoutMs} ms; got ${frames.map((f) => `${f.type}@${f.streamId}`).join(" ")}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    write: (bytes) => socket.write(bytes),
    destroy: () => socket.destroy(),
  };
}

/** The frames of one stream as they came, with when each came (ms since the call started). */
export interface RawStreamFrames {
  readonly frames: Frame[];
  readonly at: number[];
}

/**
 * One gRPC call on a fresh raw connection (stream 1, one request message,
 * END_STREAM with it), read until the stream's END_STREAM: every frame of
 * the stream in order, with its arrival time, so a test can assert the
 * framing itself (a Trailers-Only answer is ONE HEADERS frame with
 * END_STREAM; headers before a slow first message), which no client library
 * shows.
 */
export async function rawGrpcCall(
  address: string,
  path: string,
  message: Uint8Array,
  headers: Record<string, string> = {},
  timeoutMs = 5_000,
  options: { readonly gzip?: boolean } = {},
): Promise<RawStreamFrames> {
  const [host = "127.0.0.1", port = "0"] = address.split(":");
  const raw = await connectRaw(Number(port), host);
  try {
    const started = Date.now();
    const at: number[] = [];
    // The connection parses frames in its own 'data' listener, which runs before this one.
    const stamp = () => {
      while (at.length < raw.frames.length) {
        at.push(Date.now() - started);
      }
    };
    raw.socket.on("data", stamp);
    // Windows large enough for any answer a test asks for: this client never sends WINDOW_UPDATE later.
    const window = 16 * 1024 * 1024;
    const initialWindow = Buffer.alloc(6);
    initialWindow.writeUInt16BE(0x4 /* SETTINGS_INITIAL_WINDOW_SIZE */, 0);
    initialWindow.writeUInt32BE(window, 2);
    const connectionWindow = Buffer.alloc(4);
    connectionWindow.writeUInt32BE(window - 65_535, 0);
    raw.write(
      Buffer.concat([
        PREFACE,
        frame(FrameType.SETTINGS, 0, 0, initialWindow),
        frame(0x8 /* WINDOW_UPDATE */, 0, 0, connectionWindow),
        frame(
          FrameType.HEADERS,
          Flags.END_HEADERS,
          1,
          headerBlock({
            ":method": "POST",
            ":scheme": "http",
            ":path": path,
            ":authority": address,
            "content-type": "application/grpc",
            te: "trailers",
            ...headers,
          }),
        ),
        frame(FrameType.DATA, Flags.END_STREAM, 1, options.gzip === true ? gzipEnvelope(message) : grpcEnvelope(message)),
      ]),
    );
    // A server's SETTINGS wants an ACK, else some (grpcio) wait before answering.
    await raw.waitFor((f) => f.type === FrameType.SETTINGS && (f.flags & Flags.ACK) === 0, timeoutMs);
    raw.write(frame(FrameType.SETTINGS, Flags.ACK, 0));
    await raw.waitFor((f) => f.streamId === 1 && (f.flags & Flags.END_STREAM) !== 0, timeoutMs);
    stamp();
    const mine = raw.frames.map((f, i) => ({ f, t: at[i] ?? 0 })).filter((x) => x.f.streamId === 1);
    return { frames: mine.map((x) => x.f), at: mine.map((x) => x.t) };
  } finally {
    raw.destroy();
  }
}
