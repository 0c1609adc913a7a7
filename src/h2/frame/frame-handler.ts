import type { SettingsUpdate } from "./settings.ts";

/**
 * What a {@link FrameReader} calls for each frame it read and validated: one
 * method call with plain arguments, no event object, closure or promise per
 * frame (the gateway's data plane reads hundreds of thousands of frames a
 * second). The connection layer implements it once per connection.
 *
 * Byte arguments are views, never copies: into the chunk the caller pushed
 * when the frame lay within it, else into a buffer of the reader's. They are
 * valid until the method returns; copy (`slice()`) what must live longer
 * (DATA waiting for flow-control credit, say).
 *
 * Codes received in RST_STREAM and GOAWAY are plain numbers: a peer may send
 * codes RFC 9113 §7 does not define, which must not trigger special behaviour.
 *
 * A method may throw. An {@link H2Error} with a stream id (a stream error)
 * leaves the reader ready to go on with the next frame; anything else ends
 * the reader (see {@link FrameReader.push}).
 */
export interface FrameHandler {
  /**
   * A DATA frame (§6.1), padding removed. `flowControlledLength` is the
   * frame's whole payload, Pad Length and padding included, which is what
   * counts against the flow-control windows (§6.9.1) even when `data` is empty.
   */
  onData(streamId: number, endStream: boolean, data: Uint8Array, flowControlledLength: number): void;
  /**
   * A complete field block (§4.3): the HEADERS frame's fragment and those of
   * its CONTINUATION frames, joined; padding and the deprecated priority
   * fields removed. Called once, when END_HEADERS arrives. Every block must
   * go through the HPACK decoder, even on a stream about to be reset, or the
   * decoder's dynamic table drifts from the peer's (§4.3).
   */
  onHeaders(streamId: number, endStream: boolean, block: Uint8Array): void;
  /**
   * A PRIORITY frame (§6.3): deprecated (§5.3.2), so the connection may
   * ignore it; a stream that depends on itself is already rejected.
   * `weight` is 1..256.
   */
  onPriority(streamId: number, dependency: number, exclusive: boolean, weight: number): void;
  /** A RST_STREAM frame (§6.4): the peer ended `streamId` with `code`. */
  onRstStream(streamId: number, code: number): void;
  /**
   * A SETTINGS frame (§6.5), parameters validated (§6.5.2). With `ack` the
   * peer acknowledges ours and `update` is empty; without, the connection
   * applies `update` and answers with a SETTINGS ACK (§6.5.3).
   */
  onSettings(ack: boolean, update: SettingsUpdate): void;
  /** A PING frame (§6.7): 8 opaque octets; without `ack` they must be echoed in a PING ACK. */
  onPing(ack: boolean, opaque: Uint8Array): void;
  /** A GOAWAY frame (§6.8): streams above `lastStreamId` were not processed and may be retried. */
  onGoaway(lastStreamId: number, code: number, debugData: Uint8Array): void;
  /** A WINDOW_UPDATE frame (§6.9); `increment` is 1..2^31-1, `streamId` 0 for the connection. */
  onWindowUpdate(streamId: number, increment: number): void;
}
