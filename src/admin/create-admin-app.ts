import { Hono } from "hono";

export interface AdminAppOptions {
  /** Whether the gateway should receive traffic (every backend discovered at least once). */
  readonly ready: () => boolean;
  /** The Prometheus exposition of the gateway's metrics. */
  readonly metrics?: () => Promise<string>;
  readonly metricsContentType?: string;
}

/**
 * The admin listener's app: liveness and readiness for Kubernetes probes,
 * and Prometheus metrics at `/metrics`.
 * `/healthz` answers while the process serves at all; `/readyz` only once
 * every backend's discovery has synced, and no longer while shutting down.
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/readyz", (c) => (options.ready() ? c.text("ready\n") : c.text("not ready\n", 503)));
  const metrics = options.metrics;
  if (metrics !== undefined) {
    app.get("/metrics", async (c) =>
      c.body(await metrics(), 200, { "content-type": options.metricsContentType ?? "text/plain; version=0.0.4" }),
    );
  }
  return app;
}
