/** Levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured logging: one JSON object per line, fields never contain message bodies or secrets. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * A JSON-lines logger writing through `write` (stdout in the CLI, an array
 * in tests). Errors are reduced to their message so stack traces with
 * request data never reach the log by accident.
 */
export function createLogger(level: LogLevel, write: (line: string) => void, now: () => number = Date.now): Logger {
  const threshold = order[level];
  function log(at: LogLevel, message: string, fields?: Record<string, unknown>): void {
    if (order[at] < threshold) {
      return;
    }
    const entry: Record<string, unknown> = { time: new Date(now()).toISOString(), level: at, msg: message };
    for (const [key, value] of Object.entries(fields ?? {})) {
      entry[key] = value instanceof Error ? value.message : value;
    }
    write(JSON.stringify(entry));
  }
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
  };
}

/** Parses a `--log-level` value. */
export function parseLogLevel(value: string): LogLevel {
  if (value in order) {
    return value as LogLevel;
  }
  throw new Error(`invalid log level "${value}": expected one of ${Object.keys(order).join(", ")}`);
}
