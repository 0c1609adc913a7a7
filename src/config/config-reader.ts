import { ConfigError, type ConfigPath } from "./config-error.ts";

/**
 * Turns an untrusted value found at `path` into a checked `T`, or throws a
 * {@link ConfigError} naming `path`. Readers compose: `readArray(readString)`
 * is a reader too, so each config section is declared, not hand-checked.
 */
export type Reader<T> = (value: unknown, path: ConfigPath) => T;

/**
 * One key of an object read by {@link readObject}: how to read it when
 * present and what it becomes when absent (an error, `undefined` or a default).
 */
export interface Field<T> {
  readonly read: Reader<T>;
  readonly absent: (path: ConfigPath) => T;
}

/** The checked type a field produces. */
export type FieldValue<F> = F extends Field<infer T> ? T : never;

/** Throws a {@link ConfigError} for `path`; a helper so readers read as one-liners. */
export function fail(path: ConfigPath, problem: string): never {
  throw new ConfigError(path, problem);
}

/** `string`, `number`, `null`, `array`, `object`, …: the YAML-level type named in "expected X, got Y" messages. */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** A key that must be present. */
export function required<T>(read: Reader<T>): Field<T> {
  return { read, absent: (path) => fail(path, "missing required key") };
}

/** A key that may be absent; absent means `undefined` (the type says so, nothing downstream guesses). */
export function optional<T>(read: Reader<T>): Field<T | undefined> {
  return { read, absent: () => undefined };
}

/** A key with a default: downstream code never sees it missing. */
export function withDefault<T>(read: Reader<T>, fallback: T): Field<T> {
  return { read, absent: () => fallback };
}

/**
 * A nested object that may be absent as a whole: absent reads as `{}`, so the
 * defaults of its own fields apply and live in one place (e.g. `limits`).
 */
export function defaultsOnly<T>(read: Reader<T>): Field<T> {
  return { read, absent: (path) => read({}, path) };
}

/**
 * Checks that `value` is an object with only the keys of `fields`, then reads
 * every field in declaration order. The declaration is also the list of keys
 * shown in "unknown key (expected one of: …)", so adding a key to the config
 * is adding one line to a `fields` object.
 */
export function readObject<S extends Readonly<Record<string, Field<unknown>>>>(
  value: unknown,
  path: ConfigPath,
  fields: S,
): { -readonly [K in keyof S]: FieldValue<S[K]> } {
  const object = expectObject(value, path, Object.keys(fields));
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    const keyPath = [...path, key];
    result[key] = Object.hasOwn(object, key) ? field.read(object[key], keyPath) : field.absent(keyPath);
  }
  // The loop above assigned every key of `fields` with its field's value.
  return result as { -readonly [K in keyof S]: FieldValue<S[K]> };
}

/** Checks that `value` is a plain object whose keys are all in `allowedKeys`. */
export function expectObject(
  value: unknown,
  path: ConfigPath,
  allowedKeys: readonly string[],
): Readonly<Record<string, unknown>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(path, `expected an object, got ${describeType(value)}`);
  }
  const object = value as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(object)) {
    if (!allowedKeys.includes(key)) {
      fail([...path, key], `unknown key (expected one of: ${allowedKeys.join(", ")})`);
    }
  }
  return object;
}

/** Reads a string. */
export const readString: Reader<string> = (value, path) =>
  typeof value === "string" ? value : fail(path, `expected a string, got ${describeType(value)}`);

/** Reads an integer within `min`..`max` (inclusive, defaults: any safe integer). */
export function readInteger(bounds: { readonly min?: number; readonly max?: number } = {}): Reader<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = bounds;
  return (value, path) => {
    if (typeof value !== "number") return fail(path, `expected a number, got ${describeType(value)}`);
    if (!Number.isInteger(value)) return fail(path, `expected an integer, got ${value}`);
    if (value < min) return fail(path, `must be at least ${min}, got ${value}`);
    if (value > max) return fail(path, `must be at most ${max}, got ${value}`);
    return value;
  };
}

/** Reads one of a fixed set of strings, e.g. a balancer name. */
export function readOneOf<const T extends string>(allowed: readonly T[]): Reader<T> {
  return (value, path) => {
    const text = readString(value, path);
    const match = allowed.find((candidate) => candidate === text);
    return match ?? fail(path, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(text)}`);
  };
}

/** Reads an array, each item with `readItem` at `path[i]`; `nonEmpty` rejects `[]`. */
export function readArray<T>(readItem: Reader<T>, options: { readonly nonEmpty?: boolean } = {}): Reader<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) return fail(path, `expected an array, got ${describeType(value)}`);
    if (options.nonEmpty === true && value.length === 0) return fail(path, "must not be empty");
    return value.map((item: unknown, index) => readItem(item, [...path, index]));
  };
}

/**
 * Reads a string and converts it with `parse`, which reports problems by
 * throwing an `Error` (like `parseHostPort`); its message becomes the problem
 * at `path`, so parsers stay free of config paths.
 */
export function readParsed<T>(parse: (text: string) => T): Reader<T> {
  return (value, path) => {
    const text = readString(value, path);
    try {
      return parse(text);
    } catch (error) {
      return fail(path, error instanceof Error ? error.message : String(error));
    }
  };
}
