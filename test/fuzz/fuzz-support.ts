import * as fc from "fast-check";
import { ConnectError } from "@connectrpc/connect";

/**
 * Shared settings of the property-based (fuzz) tests. Runs are reproducible:
 * every property uses the same fixed seed unless FUZZ_SEED overrides it, and
 * a failure prints the seed and path to replay it. FUZZ_SCALE multiplies the
 * number of runs (and the time limits) for a longer local session, e.g.
 * `FUZZ_SCALE=20 npx vitest run test/fuzz`; CI runs the default, which keeps
 * every fuzz file within a few seconds.
 */
export const fuzzSeed = Number(process.env.FUZZ_SEED ?? 42);
const scale = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1));

export interface FuzzRun {
  readonly numRuns: number;
  /** Stop generating new inputs after this long, or when the file's budget is spent (the runs done so far count). */
  readonly timeLimitMs?: number;
  /** A single async run taking longer than this fails the property: a hang. */
  readonly runTimeoutMs?: number;
}

const tried = new Map<string, number>();
let deadline = Number.POSITIVE_INFINITY;

/**
 * Bounds the time of the whole file: every property after this call stops
 * generating inputs once the budget is spent (each still gets a short
 * minimum), so a slow CI machine runs fewer inputs rather than longer.
 */
export function fuzzBudget(ms: number): void {
  deadline = performance.now() + ms * scale;
}

/**
 * Checks a property like `fc.assert` does, and counts the inputs it tried,
 * so each fuzz file can report how many hostile inputs it threw at the code.
 */
export async function checkProperty<Ts>(
  name: string,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  run: FuzzRun,
): Promise<void> {
  const plugins: fc.Plugin<Ts>[] = [];
  const left = Math.max(200, deadline - performance.now());
  const limit = Math.min(left, run.timeLimitMs === undefined ? Number.POSITIVE_INFINITY : run.timeLimitMs * scale);
  if (Number.isFinite(limit)) plugins.push(fc.interruptAfterTimeLimit(Math.round(limit)) as fc.Plugin<Ts>);
  const parameters: fc.Parameters<Ts> = {
    seed: fuzzSeed,
    numRuns: Math.round(run.numRuns * scale),
    plugins,
    ...(run.runTimeoutMs === undefined ? {} : { timeout: run.runTimeoutMs }),
  };
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, parameters);
  countInputs(name, details.numRuns);
  if (details.failed) {
    const cause = details.errorInstance === null ? "" : `\nError: ${describeThrown(details.errorInstance)}`;
    throw new Error(`${name}: ${fc.defaultReportMessage(details) ?? "failed"}${cause}`);
  }
}

/** Counts hostile inputs tried outside `checkProperty` (the network cases). */
export function countInputs(name: string, n: number): void {
  tried.set(name, (tried.get(name) ?? 0) + n);
}

/** Prints how many inputs each property tried, and the total: the figure the reliability notes quote. */
export function reportInputs(file: string, startedAt: number): void {
  const total = [...tried.values()].reduce((a, b) => a + b, 0);
  const width = Math.max(...[...tried.keys()].map((k) => k.length), 10);
  const lines = [...tried].map(([name, n]) => `  ${name.padEnd(width)} ${String(n).padStart(7)}`);
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  console.log(`fuzz ${file} (seed ${fuzzSeed}): ${total} hostile inputs in ${seconds}s\n${lines.join("\n")}`);
}

/** Every UTF-16 code unit, lone surrogates included: strings JavaScript can hold but UTF-8 cannot. */
export const anyCodeUnit: fc.Arbitrary<string> = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** Strings of arbitrary UTF-16 code units, including invalid UTF-16. */
export function anyUtf16(constraints: { maxLength?: number } = {}): fc.Arbitrary<string> {
  return fc.string({ unit: anyCodeUnit, maxLength: constraints.maxLength ?? 64 });
}

/** A value the code under test threw must be a ConnectError (never a TypeError, RangeError, URIError, ...). */
export function expectConnectError(thrown: unknown, allowedCodes?: readonly number[]): ConnectError {
  if (!(thrown instanceof ConnectError)) {
    throw new Error(`expected a ConnectError, got ${describeThrown(thrown)}`);
  }
  if (allowedCodes !== undefined && !allowedCodes.includes(thrown.code)) {
    throw new Error(`unexpected code ${thrown.code} (${thrown.message}); allowed: ${allowedCodes.join(", ")}`);
  }
  return thrown;
}

export function describeThrown(thrown: unknown): string {
  return thrown instanceof Error ? `${thrown.constructor.name}: ${thrown.message}` : String(thrown);
}

/** Splits bytes into chunks at the given cut points (sorted, deduplicated, clamped). */
export function chunk(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(0, c), bytes.byteLength)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

export async function* fromChunks(chunks: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* chunks;
}

export async function* fromItems<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

/** Drains an async iterable into an array, with an upper bound so a runaway source fails instead of hanging. */
export async function collect<T>(iterable: AsyncIterable<T>, max = 100_000): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length > max) throw new Error(`more than ${max} items: runaway iteration`);
  }
  return out;
}
