/**
 * A step into the configuration tree: a map key or an array index. Kept as
 * segments (not only as a string) so the YAML loader can find the offending
 * node again and report its line.
 */
export type ConfigPath = readonly (string | number)[];

/** Where in a file an error was found; `line` and `column` are 1-based. */
export interface ConfigErrorLocation {
  readonly source: string;
  readonly line?: number | undefined;
  readonly column?: number | undefined;
  readonly cause?: unknown;
}

/**
 * Renders `["backends", 0, "discovery"]` as `backends[0].discovery`, the way
 * users would write the key by hand. Keys that are not plain identifiers are
 * quoted (`limits["max bytes"]`) so the path stays unambiguous.
 */
export function formatConfigPath(path: ConfigPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/**
 * The one error the loader throws for anything wrong with a configuration.
 *
 * It names the offending key path so an operator can fix the file without
 * reading code, and it is a distinct class so the CLI can print it without a
 * stack trace while still crashing loudly on real bugs. The message is
 * `<path>: <problem>`, prefixed by `<file>:<line>:<column>: ` once the loader
 * knows where the key is; an empty path (a problem with the whole document)
 * leaves only the problem.
 */
export class ConfigError extends Error {
  /** The offending key as text, e.g. `backends[0].discovery.static.endpoints[2]`; `""` for the whole document. */
  readonly path: string;
  /** The same path as segments, for locating the node in the source. */
  readonly keyPath: ConfigPath;
  /** What is wrong, without the path, e.g. `expected a number, got string`. */
  readonly problem: string;
  /** The file (or other source name) the configuration came from, when known. */
  readonly source: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(keyPath: ConfigPath, problem: string, location?: ConfigErrorLocation) {
    const path = formatConfigPath(keyPath);
    let where = "";
    if (location !== undefined) {
      where = location.source;
      if (location.line !== undefined) where += `:${location.line}`;
      if (location.line !== undefined && location.column !== undefined) where += `:${location.column}`;
      where += ": ";
    }
    super(`${where}${path === "" ? "" : `${path}: `}${problem}`, location?.cause === undefined ? undefined : { cause: location.cause });
    this.name = "ConfigError";
    this.path = path;
    this.keyPath = keyPath;
    this.problem = problem;
    this.source = location?.source;
    this.line = location?.line;
    this.column = location?.column;
  }

  /** The same error, attributed to a place in a file; used by the loader, which knows the file, unlike the validator. */
  withLocation(location: ConfigErrorLocation): ConfigError {
    return new ConfigError(this.keyPath, this.problem, { ...location, cause: location.cause ?? this.cause });
  }
}
