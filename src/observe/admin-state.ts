import { Code } from "@connectrpc/connect";
import type { CallObserver } from "./call-observer.ts";

/** A call that ended with an error, as the admin page lists it: never bodies or headers. */
export interface RecentError {
  /** When it ended, epoch ms. */
  readonly at: number;
  readonly host: string;
  /** `/greet.v1.GreetService/Greet` */
  readonly path: string;
  /** The gRPC code's name in the Connect spelling (`not_found`, `unavailable`). */
  readonly code: string;
  readonly backend: string | undefined;
  /** The endpoint that answered (the last one tried), if any was picked. */
  readonly endpoint: string | undefined;
}

/** The admin page's live counters: calls per second by endpoint, and the latest errors. */
export interface AdminStateObserver extends CallObserver {
  /** Calls per second that ended at `endpoint` of `backend`, over the sliding window. */
  callsPerSecond(backend: string, endpoint: string): number;
  /** The latest errors, newest first. */
  recentErrors(): readonly RecentError[];
  /** Length of the window the rates are averaged over. */
  readonly windowMs: number;
}

export interface AdminStateOptions {
  readonly now: () => number;
  /** Default 10 s. */
  readonly windowMs?: number;
  /** Default 50. */
  readonly maxErrors?: number;
}

const BUCKET_MS = 1_000;

/** Counts per one-second bucket, in a ring as long as the window. */
interface Ring {
  readonly counts: number[];
  /** The bucket number (`floor(now / BUCKET_MS)`) each slot holds. */
  readonly stamps: number[];
}

/**
 * A call observer keeping, per endpoint, the calls that ended over the last
 * `windowMs` (in one-second buckets), and the last `maxErrors` errors. Cheap
 * on the call's path: an array slot per call, an entry per error.
 */
export function createAdminStateObserver(options: AdminStateOptions): AdminStateObserver {
  const windowMs = options.windowMs ?? 10_000;
  const maxErrors = options.maxErrors ?? 50;
  const slots = Math.max(1, Math.ceil(windowMs / BUCKET_MS));
  const rings = new Map<string, Ring>();
  const errors: RecentError[] = [];
  const keyOf = (backend: string, endpoint: string) => `${backend}\u0000${endpoint}`;

  const sum = (ring: Ring, bucket: number) => {
    let total = 0;
    for (let i = 0; i < slots; i++) {
      const stamp = ring.stamps[i] ?? -1;
      if (stamp > bucket - slots && stamp <= bucket) total += ring.counts[i] ?? 0;
    }
    return total;
  };

  return {
    windowMs: slots * BUCKET_MS,
    started() {},
    ended(info, outcome) {
      const now = options.now();
      if (info.backend !== undefined && outcome.endpoint !== undefined) {
        const key = keyOf(info.backend, outcome.endpoint);
        let ring = rings.get(key);
        if (ring === undefined) {
          // Endpoints come and go with pods: forget the ones quiet for a whole window.
          const bucketNow = Math.floor(now / BUCKET_MS);
          for (const [k, r] of rings) if (sum(r, bucketNow) === 0) rings.delete(k);
          ring = { counts: new Array<number>(slots).fill(0), stamps: new Array<number>(slots).fill(-1) };
          rings.set(key, ring);
        }
        const bucket = Math.floor(now / BUCKET_MS);
        const slot = bucket % slots;
        if (ring.stamps[slot] !== bucket) {
          ring.stamps[slot] = bucket;
          ring.counts[slot] = 0;
        }
        ring.counts[slot] = (ring.counts[slot] ?? 0) + 1;
      }
      if (outcome.code !== undefined) {
        errors.unshift({
          at: now,
          host: info.host,
          path: info.path,
          code: codeName(outcome.code),
          backend: info.backend,
          endpoint: outcome.endpoint,
        });
        if (errors.length > maxErrors) errors.length = maxErrors;
      }
    },
    callsPerSecond(backend, endpoint) {
      const ring = rings.get(keyOf(backend, endpoint));
      if (ring === undefined) return 0;
      return sum(ring, Math.floor(options.now() / BUCKET_MS)) / (slots * BUCKET_MS / 1_000);
    },
    recentErrors: () => [...errors],
  };
}

/** `Code.NotFound` → `not_found`, as Connect spells codes on the wire. */
function codeName(code: Code): string {
  const name = Code[code] as string | undefined;
  return name === undefined ? String(code) : name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
}
