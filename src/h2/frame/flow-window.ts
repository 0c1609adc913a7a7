import { H2Error, H2ErrorCode } from "../h2-error.ts";
import { maxInt31 } from "./frame-type.ts";

/**
 * One HTTP/2 flow-control window (RFC 9113 §5.2, §6.9): the octets of DATA
 * one side may still send on a stream, or on the whole connection when
 * `streamId` is 0. Every connection keeps two per stream and two for itself:
 * a send window (credit the peer gave us: WINDOW_UPDATE increases it, DATA
 * we send consumes it) and a receive window (credit we gave the peer: DATA
 * it sends consumes it, WINDOW_UPDATE we send increases it).
 *
 * Violations are H2Errors carrying the window's stream id, so the same
 * class yields a stream error (RST_STREAM) for a stream window and a
 * connection error (GOAWAY) for the connection's (§6.9.1), except for the
 * SETTINGS_INITIAL_WINDOW_SIZE adjustment, which §6.9.2 makes a connection
 * error on any window.
 *
 * A plain object with one number: cheap enough to keep two per stream, and
 * monomorphic on the data path.
 */
export class FlowWindow {
  /** The stream this window belongs to; 0 is the connection's window. */
  readonly streamId: number;
  private available: number;

  /**
   * @param initialSize the starting size: 65,535 for the connection (§6.9.2,
   *   never changed by SETTINGS), SETTINGS_INITIAL_WINDOW_SIZE for a stream.
   */
  constructor(streamId: number, initialSize: number) {
    if (!Number.isInteger(initialSize) || initialSize < 0 || initialSize > maxInt31) {
      throw new RangeError(`initial window size ${initialSize} is outside 0..2^31-1 (RFC 9113 §6.9.2)`);
    }
    this.streamId = streamId;
    this.available = initialSize;
  }

  /**
   * The octets that may still be sent; negative after a SETTINGS_INITIAL_WINDOW_SIZE
   * decrease (§6.9.2), in which case nothing may be sent until WINDOW_UPDATEs bring it above 0.
   */
  get size(): number {
    return this.available;
  }

  /**
   * Takes `length` octets of flow-controlled payload from the window: the
   * whole DATA frame payload, padding included (§6.9.1).
   *
   * @throws H2Error FLOW_CONTROL_ERROR when `length` exceeds the window:
   *   on a receive window, the peer sent more than we allowed (§6.9.1); on a
   *   send window it is a bug of ours, which the same error makes loud.
   */
  consume(length: number): void {
    if (length > this.available) {
      throw new H2Error(
        H2ErrorCode.FLOW_CONTROL_ERROR,
        this.streamId,
        `${length} octets of DATA exceed the flow-control window of ${this.available} (RFC 9113 §6.9.1)`,
      );
    }
    this.available -= length;
  }

  /**
   * Adds a WINDOW_UPDATE's increment (1..2^31-1, checked by the frame reader).
   *
   * @throws H2Error FLOW_CONTROL_ERROR when the window would exceed 2^31-1
   *   (§6.9.1: "the sender sends a RST_STREAM ... for the connection, a
   *   GOAWAY"); the window is left as it was.
   */
  increase(increment: number): void {
    if (this.available + increment > maxInt31) {
      throw new H2Error(
        H2ErrorCode.FLOW_CONTROL_ERROR,
        this.streamId,
        `WINDOW_UPDATE of ${increment} on a window of ${this.available} exceeds 2^31-1 (RFC 9113 §6.9.1)`,
      );
    }
    this.available += increment;
  }

  /**
   * Applies the difference between a new and the old SETTINGS_INITIAL_WINDOW_SIZE
   * to a stream's window (§6.9.2). The result may be negative: the peer
   * shrank the window below what was already sent.
   *
   * @throws H2Error FLOW_CONTROL_ERROR, a connection error (stream id 0),
   *   when the window would exceed 2^31-1 (§6.9.2); RangeError on the
   *   connection's own window, which SETTINGS never changes.
   */
  adjust(delta: number): void {
    if (this.streamId === 0) {
      throw new RangeError("SETTINGS_INITIAL_WINDOW_SIZE does not change the connection window (RFC 9113 §6.9.2)");
    }
    if (this.available + delta > maxInt31) {
      throw new H2Error(
        H2ErrorCode.FLOW_CONTROL_ERROR,
        0,
        `a SETTINGS_INITIAL_WINDOW_SIZE change of ${delta} takes the window of stream ${this.streamId} (${this.available}) past 2^31-1 (RFC 9113 §6.9.2)`,
      );
    }
    this.available += delta;
  }
}
