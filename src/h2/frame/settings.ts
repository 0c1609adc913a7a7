import { H2Error, H2ErrorCode } from "../h2-error.ts";
import { maxInt31 } from "./frame-type.ts";

/**
 * The identifiers of the SETTINGS parameters RFC 9113 §6.5.2 defines, as
 * they appear on the wire. Other identifiers (extensions such as RFC 8441's
 * ENABLE_CONNECT_PROTOCOL, or GREASE values) are ignored on receipt, as
 * §6.5.2 requires.
 */
export const SettingsId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** One of the SETTINGS identifiers RFC 9113 §6.5.2 defines. */
export type SettingsId = (typeof SettingsId)[keyof typeof SettingsId];

/**
 * The parameters one endpoint announced (RFC 9113 §6.5.2), all of them:
 * what a connection keeps for itself and for its peer. "Unlimited" is
 * `Infinity`, which is what the RFC's initial values for
 * MAX_CONCURRENT_STREAMS and MAX_HEADER_LIST_SIZE mean.
 */
export interface Settings {
  /** The HPACK dynamic table size the sender's decoder allows (RFC 7541 §4.2). */
  readonly headerTableSize: number;
  /** Whether the sender accepts server push; we always send false (§8.4). */
  readonly enablePush: boolean;
  /** The most streams the sender lets its peer open at once (§5.1.2). */
  readonly maxConcurrentStreams: number;
  /** The initial flow-control window of every stream (§6.9.2); at most 2^31-1. */
  readonly initialWindowSize: number;
  /** The largest frame payload the sender reads, 2^14..2^24-1 (§4.2). */
  readonly maxFrameSize: number;
  /** Advisory: the largest decoded field section the sender accepts (§10.5.1). */
  readonly maxHeaderListSize: number;
}

/**
 * What one SETTINGS frame changed: the parameters it carried, the last
 * occurrence winning (§6.5.3 processes them in order). The connection layer
 * applies it with {@link applySettings}; it needs the old value of
 * `initialWindowSize` to adjust stream windows (§6.9.2).
 */
export type SettingsUpdate = { -readonly [K in keyof Settings]?: Settings[K] };

/** The initial values every endpoint assumes until the peer's SETTINGS arrive (§6.5.2). */
export const defaultSettings: Settings = Object.freeze({
  headerTableSize: 4096,
  enablePush: true,
  maxConcurrentStreams: Number.POSITIVE_INFINITY,
  initialWindowSize: 65_535,
  maxFrameSize: 16_384,
  maxHeaderListSize: Number.POSITIVE_INFINITY,
});

/** The smallest SETTINGS_MAX_FRAME_SIZE an endpoint may announce (§4.2, §6.5.2). */
export const minMaxFrameSize = 16_384;
/** The largest SETTINGS_MAX_FRAME_SIZE an endpoint may announce: 2^24-1 (§6.5.2). */
export const maxMaxFrameSize = 16_777_215;

/** The settings a SETTINGS frame with the ACK flag carries: none (§6.5). Shared and frozen. */
export const noSettings: SettingsUpdate = Object.freeze({});

/**
 * Reads the payload of a SETTINGS frame without the ACK flag (§6.5.1) and
 * validates each parameter (§6.5.2); a violation is a connection error, so
 * the whole frame is rejected before anything is applied.
 *
 * `sender` is the peer's role: a server may not announce ENABLE_PUSH 1
 * (§6.5.2, "A client MUST treat receipt of a SETTINGS frame with
 * SETTINGS_ENABLE_PUSH set to 1 as a connection error").
 *
 * @throws H2Error FRAME_SIZE_ERROR when the length is not a multiple of 6
 *   (§6.5); PROTOCOL_ERROR for ENABLE_PUSH other than 0 or 1, or 1 from a
 *   server, and for MAX_FRAME_SIZE outside 2^14..2^24-1; FLOW_CONTROL_ERROR
 *   for INITIAL_WINDOW_SIZE above 2^31-1.
 */
export function parseSettings(payload: Uint8Array, sender: "client" | "server"): SettingsUpdate {
  const length = payload.length;
  if (length % 6 !== 0) {
    throw new H2Error(
      H2ErrorCode.FRAME_SIZE_ERROR,
      0,
      `SETTINGS frame of ${length} octets: the payload must be a multiple of 6 (RFC 9113 §6.5)`,
    );
  }
  const update: SettingsUpdate = {};
  for (let i = 0; i < length; i += 6) {
    const id = (payload[i]! << 8) | payload[i + 1]!;
    const value = ((payload[i + 2]! << 24) | (payload[i + 3]! << 16) | (payload[i + 4]! << 8) | payload[i + 5]!) >>> 0;
    switch (id) {
      case SettingsId.HEADER_TABLE_SIZE:
        update.headerTableSize = value;
        break;
      case SettingsId.ENABLE_PUSH:
        if (value > 1) {
          throw new H2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `SETTINGS_ENABLE_PUSH ${value}: only 0 and 1 are allowed (RFC 9113 §6.5.2)`);
        }
        if (value === 1 && sender === "server") {
          throw new H2Error(H2ErrorCode.PROTOCOL_ERROR, 0, "a server sent SETTINGS_ENABLE_PUSH 1, which only clients may (RFC 9113 §6.5.2)");
        }
        update.enablePush = value === 1;
        break;
      case SettingsId.MAX_CONCURRENT_STREAMS:
        update.maxConcurrentStreams = value;
        break;
      case SettingsId.INITIAL_WINDOW_SIZE:
        if (value > maxInt31) {
          throw new H2Error(
            H2ErrorCode.FLOW_CONTROL_ERROR,
            0,
            `SETTINGS_INITIAL_WINDOW_SIZE ${value} is above the maximum window size 2^31-1 (RFC 9113 §6.5.2)`,
          );
        }
        update.initialWindowSize = value;
        break;
      case SettingsId.MAX_FRAME_SIZE:
        if (value < minMaxFrameSize || value > maxMaxFrameSize) {
          throw new H2Error(
            H2ErrorCode.PROTOCOL_ERROR,
            0,
            `SETTINGS_MAX_FRAME_SIZE ${value} is outside 16384..16777215 (RFC 9113 §6.5.2)`,
          );
        }
        update.maxFrameSize = value;
        break;
      case SettingsId.MAX_HEADER_LIST_SIZE:
        update.maxHeaderListSize = value;
        break;
      default:
      // Unknown or unsupported identifiers are ignored (§6.5.2).
    }
  }
  return update;
}

/** The settings in force after `update` (§6.5.3: each parameter replaces the previous value). */
export function applySettings(current: Settings, update: SettingsUpdate): Settings {
  return {
    headerTableSize: update.headerTableSize ?? current.headerTableSize,
    enablePush: update.enablePush ?? current.enablePush,
    maxConcurrentStreams: update.maxConcurrentStreams ?? current.maxConcurrentStreams,
    initialWindowSize: update.initialWindowSize ?? current.initialWindowSize,
    maxFrameSize: update.maxFrameSize ?? current.maxFrameSize,
    maxHeaderListSize: update.maxHeaderListSize ?? current.maxHeaderListSize,
  };
}

/** The parameters of an update as (identifier, value) pairs, in identifier order; validates what we are about to send. */
function entries(update: SettingsUpdate): [SettingsId, number][] {
  const out: [SettingsId, number][] = [];
  const add = (id: SettingsId, value: number | undefined, max: number, min = 0): void => {
    if (value === undefined) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`SETTINGS parameter 0x${id.toString(16)}: ${value} is outside ${min}..${max} (RFC 9113 §6.5.2)`);
    }
    out.push([id, value]);
  };
  add(SettingsId.HEADER_TABLE_SIZE, update.headerTableSize, 0xffff_ffff);
  add(SettingsId.ENABLE_PUSH, update.enablePush === undefined ? undefined : update.enablePush ? 1 : 0, 1);
  add(SettingsId.MAX_CONCURRENT_STREAMS, update.maxConcurrentStreams, 0xffff_ffff);
  add(SettingsId.INITIAL_WINDOW_SIZE, update.initialWindowSize, maxInt31);
  add(SettingsId.MAX_FRAME_SIZE, update.maxFrameSize, maxMaxFrameSize, minMaxFrameSize);
  add(SettingsId.MAX_HEADER_LIST_SIZE, update.maxHeaderListSize, 0xffff_ffff);
  return out;
}

/**
 * Writes the payload of a SETTINGS frame (§6.5.1) for `update` into `target`
 * at `offset` and returns the offset after it; the frame writer's way to
 * serialize into its staging buffer without an intermediate array. Use
 * {@link settingsPayloadLength} to reserve room.
 *
 * @throws RangeError for a value §6.5.2 does not allow (a bug of ours,
 *   not the peer's); `Infinity` ("unlimited") cannot be sent, leave it out.
 */
export function writeSettingsPayload(target: Uint8Array, offset: number, update: SettingsUpdate): number {
  let at = offset;
  for (const [id, value] of entries(update)) {
    target[at] = id >>> 8;
    target[at + 1] = id & 0xff;
    target[at + 2] = value >>> 24;
    target[at + 3] = (value >>> 16) & 0xff;
    target[at + 4] = (value >>> 8) & 0xff;
    target[at + 5] = value & 0xff;
    at += 6;
  }
  return at;
}

/** The length of the SETTINGS payload {@link writeSettingsPayload} writes for `update`: 6 octets a parameter (§6.5.1). */
export function settingsPayloadLength(update: SettingsUpdate): number {
  return entries(update).length * 6;
}

/**
 * A SETTINGS payload (§6.5.1) as its own array: what the HTTP2-Settings
 * header of an HTTP/1.1 Upgrade carries (base64url, RFC 7540 §3.2.1), and a
 * convenience for tests.
 */
export function serializeSettings(update: SettingsUpdate): Uint8Array {
  const out = new Uint8Array(settingsPayloadLength(update));
  writeSettingsPayload(out, 0, update);
  return out;
}
