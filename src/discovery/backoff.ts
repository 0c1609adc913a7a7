/** Delays between retries of a failing watch or lookup. */
export interface Backoff {
  /** The delay before the next attempt; each call doubles the ceiling up to the cap. */
  next(): number;
  /** Called after a success: the next failure starts from the initial delay again. */
  reset(): void;
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly random?: () => number;
}

/**
 * Capped exponential backoff with "equal jitter": half the ceiling plus a
 * random half. The jitter keeps many gateways that lost the API server at
 * once from coming back in lockstep; the fixed half keeps a retry from
 * firing at once in a tight loop.
 */
export function createBackoff(options: BackoffOptions): Backoff {
  const random = options.random ?? Math.random;
  let ceiling = options.initialMs;
  return {
    next() {
      const delay = ceiling / 2 + random() * (ceiling / 2);
      ceiling = Math.min(ceiling * 2, options.maxMs);
      return Math.round(delay);
    },
    reset() {
      ceiling = options.initialMs;
    },
  };
}
