import { H2Error } from "../h2-error.ts";
import type { FrameHandler } from "./frame-handler.ts";
import type { FrameReader } from "./frame-reader.ts";
import type { SettingsUpdate } from "./settings.ts";

/** One call a {@link FrameReader} made, or one H2Error it threw, as a plain value. */
export type FrameEvent =
  | { kind: "data"; streamId: number; endStream: boolean; data: Uint8Array; flowControlledLength: number }
  | { kind: "headers"; streamId: number; endStream: boolean; block: Uint8Array }
  | { kind: "priority"; streamId: number; dependency: number; exclusive: boolean; weight: number }
  | { kind: "rst-stream"; streamId: number; code: number }
  | { kind: "settings"; ack: boolean; update: SettingsUpdate }
  | { kind: "ping"; ack: boolean; opaque: Uint8Array }
  | { kind: "goaway"; lastStreamId: number; code: number; debugData: Uint8Array }
  | { kind: "window-update"; streamId: number; increment: number }
  | { kind: "error"; streamId: number; code: number; message: string };

/**
 * A {@link FrameHandler} that records every call as a plain value, bytes
 * copied: what the specs and the fuzz suite compare, and a way to see what
 * a peer sent when debugging (`feed` its bytes, print `events`). Not for
 * the data path: it allocates per frame.
 */
export class FrameRecorder implements FrameHandler {
  readonly events: FrameEvent[] = [];

  onData(streamId: number, endStream: boolean, data: Uint8Array, flowControlledLength: number): void {
    this.events.push({ kind: "data", streamId, endStream, data: data.slice(), flowControlledLength });
  }

  onHeaders(streamId: number, endStream: boolean, block: Uint8Array): void {
    this.events.push({ kind: "headers", streamId, endStream, block: block.slice() });
  }

  onPriority(streamId: number, dependency: number, exclusive: boolean, weight: number): void {
    this.events.push({ kind: "priority", streamId, dependency, exclusive, weight });
  }

  onRstStream(streamId: number, code: number): void {
    this.events.push({ kind: "rst-stream", streamId, code });
  }

  onSettings(ack: boolean, update: SettingsUpdate): void {
    this.events.push({ kind: "settings", ack, update: { ...update } });
  }

  onPing(ack: boolean, opaque: Uint8Array): void {
    this.events.push({ kind: "ping", ack, opaque: opaque.slice() });
  }

  onGoaway(lastStreamId: number, code: number, debugData: Uint8Array): void {
    this.events.push({ kind: "goaway", lastStreamId, code, debugData: debugData.slice() });
  }

  onWindowUpdate(streamId: number, increment: number): void {
    this.events.push({ kind: "window-update", streamId, increment });
  }

  /**
   * Pushes `chunks` into `reader` (made with this recorder as its handler)
   * the way a connection would: an H2Error is recorded as an "error" event;
   * after a stream error reading goes on, after a connection error it stops.
   * Returns false when a connection error ended the reader. Exceptions that
   * are not H2Errors propagate: they are bugs.
   */
  feed(reader: FrameReader, chunks: Iterable<Uint8Array>): boolean {
    for (const chunk of chunks) {
      let next = chunk;
      for (;;) {
        try {
          reader.push(next);
          break;
        } catch (error) {
          if (!(error instanceof H2Error)) throw error;
          this.events.push({ kind: "error", streamId: error.streamId, code: error.code, message: error.message });
          if (error.isConnectionError) return false;
          next = new Uint8Array(0);
        }
      }
    }
    return true;
  }
}
