import { pino } from "pino";

/** Levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The levels `--log-level` accepts. */
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured logging: one JSON object per line, fields never contain message bodies or secrets. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Header names never logged, whatever a caller passes in fields. */
const SECRET_HEADERS = ["authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"];

/**
 * A JSON-lines logger on pino, writing through `write` (stdout in the CLI,
 * an array in tests): `{"level":"info","time":"…","msg":"…",…fields}`.
 * Errors are reduced to their message so stack traces with request data
 * never reach the log by accident, and fields named like secret headers
 * (also inside a `headers` field) are redacted.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void,
  now: () => number = Date.now,
  secretHeaders: readonly string[] = SECRET_HEADERS,
): Logger {
  const logger = pino(
    {
      level,
      base: undefined,
      messageKey: "msg",
      timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: secretHeaders.flatMap((name) => [`["${name}"]`, `headers["${name}"]`]), censor: "[redacted]" },
    },
    { write: (line: string) => write(line.endsWith("\n") ? line.slice(0, -1) : line) },
  );
  const log = (at: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (fields === undefined) {
      logger[at](message);
      return;
    }
    const entry: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(fields)) {
      entry[key] = value instanceof Error ? value.message : value;
    }
    logger[at](entry, message);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** Parses a `--log-level` value. */
export function parseLogLevel(value: string): LogLevel {
  if (value in order) {
    return value as LogLevel;
  }
  throw new Error(`invalid log level "${value}": expected one of ${Object.keys(order).join(", ")}`);
}
