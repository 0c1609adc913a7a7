import type { Logger } from "../log/logger.ts";
import type { CallObserver } from "./call-observer.ts";
import { codeName } from "./code-name.ts";

export interface AccessLogOptions {
  /** Share of calls logged, 0..1 (errors are always logged). */
  readonly sampleRate: number;
  readonly random?: () => number;
}

/**
 * One JSON line per call, the `kubectl logs` view of the traffic spread:
 * host, protocol, RPC path, code, the endpoint that answered, duration,
 * bytes, trace id. Never message bodies, never headers (so no secrets).
 */
export function createAccessLog(log: Logger, options: AccessLogOptions): CallObserver {
  const random = options.random ?? Math.random;
  return {
    started() {},
    ended(info, outcome) {
      if (outcome.code === undefined && options.sampleRate < 1 && random() >= options.sampleRate) {
        return;
      }
      log.info("call", {
        host: info.host,
        protocol: info.protocol,
        path: info.path,
        code: codeName(outcome.code),
        route: info.route,
        backend: info.backend,
        endpoint: outcome.endpoint,
        durationMs: Math.round(outcome.durationMs * 1000) / 1000,
        bytesIn: outcome.bytesIn,
        bytesOut: outcome.bytesOut,
        traceId: info.traceId,
      });
    },
  };
}
