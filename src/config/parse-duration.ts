const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * The longest duration a config may give, 2^31-1 ms (about 24.8 days, 596h):
 * the most a timer can wait. A longer one (or one too long to be a number at
 * all) would fire at once, turning "practically never" into "immediately".
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Parses a duration as config files write it, `500ms`, `5s`, `1.5s`, `2m`,
 * `1h`, into milliseconds. A bare number is refused: `5` could mean seconds
 * or milliseconds, and a config must mean one thing.
 *
 * @throws Error saying what a duration looks like, or that it is too long.
 */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new Error(`"${text}" is not a duration (like 500ms, 5s, 2m or 1h)`);
  }
  const ms = Math.round(Number(match[1]) * (UNITS[match[2]] as number));
  if (!(ms <= MAX_DURATION_MS)) {
    throw new Error(`"${text}" is too long: at most 596h (about 24.8 days)`);
  }
  return ms;
}
