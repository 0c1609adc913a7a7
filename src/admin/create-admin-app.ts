import { Hono } from "hono";
import { ADMIN_PAGE_HTML } from "./admin-page.ts";
import type { AdminState } from "./admin-state.ts";

export interface AdminAppOptions {
  /** Whether the gateway should receive traffic (every backend discovered at least once). */
  readonly ready: () => boolean;
  /** The Prometheus exposition of the gateway's metrics. */
  readonly metrics?: () => Promise<string>;
  readonly metricsContentType?: string;
  /** The snapshot the admin page draws; the page at `/` and its JSON at `/api/state` are served when given. */
  readonly state?: () => AdminState;
}

/** The page runs only its own inline script and reads only its own origin. */
const PAGE_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'";

/**
 * The admin listener's app: liveness and readiness for Kubernetes probes,
 * Prometheus metrics at `/metrics`, and the admin page at `/` (its JSON at
 * `/api/state`): backends and endpoints with live calls per second, routes,
 * certificates, recent errors.
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
  const state = options.state;
  if (state !== undefined) {
    app.get("/", (c) => c.html(ADMIN_PAGE_HTML, 200, { "content-security-policy": PAGE_CSP, "cache-control": "no-store" }));
    app.get("/api/state", (c) => c.json(state(), 200, { "cache-control": "no-store" }));
  }
  return app;
}
