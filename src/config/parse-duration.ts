const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration as config files write it, `500ms`, `5s`, `1.5s`, `2m`,
 * `1h`, into milliseconds. A bare number is refused: `5` could mean seconds
 * or milliseconds, and a config must mean one thing.
 *
 * @throws Error saying what a duration looks like.
 */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new Error(`"${text}" is not a duration (like 500ms, 5s, 2m or 1h)`);
  }
  return Math.round(Number(match[1]) * (UNITS[match[2]] as number));
}
