import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.ts";

/** A serving status, or `hang`: Check answers nothing until the caller gives up (a stuck pod). */
export type PodHealthStatus = HealthCheckResponse_ServingStatus | "hang";

/**
 * The health of one pod's services, as its `grpc.health.v1.Health` service
 * reports it. The server as a whole (service "") starts SERVING, as gRPC's
 * own health servers do; other services are unknown until set.
 */
export interface PodHealth {
  /** Sets the status of `service` ("" by default: the server as a whole). */
  set(status: PodHealthStatus, service?: string): void;
  /** The status of `service`; `undefined` when it is unknown. */
  get(service: string): PodHealthStatus | undefined;
  /** Calls `listener` on every change of any service; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

export function createPodHealth(initial: PodHealthStatus = HealthCheckResponse_ServingStatus.SERVING): PodHealth {
  const statuses = new Map<string, PodHealthStatus>([["", initial]]);
  const listeners = new Set<() => void>();
  return {
    set(status, service = "") {
      statuses.set(service, status);
      for (const listener of [...listeners]) {
        listener();
      }
    },
    get: (service) => statuses.get(service),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Routes serving `grpc.health.v1.Health` for a pod, as gRPC specifies it
 * (grpc/grpc doc/health-checking.md): Check answers the status, NOT_FOUND for
 * an unknown service; Watch sends the status at once (SERVICE_UNKNOWN for an
 * unknown service) and again on every change. A `hang` status makes Check
 * wait until the call is cancelled and Watch send nothing until it changes.
 */
export function healthRoutes(health: PodHealth = createPodHealth()): (router: ConnectRouter) => void {
  return (router) =>
    router.service(Health, {
      async check(req, ctx) {
        const status = health.get(req.service);
        if (status === undefined) {
          throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
        }
        if (status === "hang") {
          await aborted(ctx.signal);
          throw ConnectError.from(ctx.signal.reason);
        }
        return response(status);
      },
      async *watch(req, ctx) {
        let wake: (() => void) | undefined;
        const unsubscribe = health.subscribe(() => wake?.());
        const cancelled = aborted(ctx.signal);
        let sent: PodHealthStatus | undefined;
        try {
          while (!ctx.signal.aborted) {
            const status = health.get(req.service) ?? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
            const changed = new Promise<void>((resolve) => {
              wake = resolve;
            });
            if (status !== sent && status !== "hang") {
              yield response(status);
            }
            sent = status;
            await Promise.race([changed, cancelled]);
          }
        } finally {
          unsubscribe();
        }
      },
    });
}

function response(status: HealthCheckResponse_ServingStatus): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status });
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
    } else {
      signal.addEventListener("abort", () => resolve(), { once: true });
    }
  });
}
