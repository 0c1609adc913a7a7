import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AdminState } from "../../src/admin/admin-state.ts";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { callError } from "../support/call-error.ts";
import { createTransport, type Harness, startHarness } from "../support/harness.ts";
import { createTestPki } from "../support/test-pki.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = new URL("../../docs/admin-page.png", import.meta.url).pathname;

// What an operator sees at the admin listener: the pods with live calls per
// second, routes, certificates and the latest errors, refreshed every second.
describe("the admin page", () => {
  let harness: Harness;
  let adminUrl: string;
  let dir: string;
  const endpoints = () => harness.pods.map((p) => `${p.address.host}:${p.address.port}`);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgegate-admin-"));
    const pki = await createTestPki();
    const files = await pki.writeFiles(dir, "api", await pki.issue(["api.example.test"], { days: 90 }));
    harness = await startHarness({
      config: {
        listeners: [{ address: "127.0.0.1:0" }, { address: "127.0.0.1:0", tls: { certificates: [files] } }],
        routes: [
          { hosts: ["api.example.test"], services: ["greet.v1.GreetService"], backend: "pods" },
          { services: ["greet.v1.", "probe.v1.ProbeService"], backend: "pods" },
        ],
      },
    });
    adminUrl = `http://127.0.0.1:${harness.gateway.admin?.port}`;
    const greet = createClient(GreetService, createTransport("grpc", harness.baseUrl));
    for (let i = 0; i < 30; i++) await greet.greet({ name: "admin" });
    const probe = createClient(ProbeService, createTransport("connect-h1", harness.baseUrl));
    for (let i = 0; i < 3; i++) await callError(probe.probe({ failCode: Code.NotFound, failMessage: "no such thing" }));
  });
  afterAll(async () => {
    await harness?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("binds the admin listener where configured (loopback in tests, the demo and the docs)", () => {
    expect(harness.gateway.admin?.host).toBe("127.0.0.1");
  });

  it("serves the state as JSON: endpoints with rates, routes, certificates, errors without bodies", async () => {
    const res = await fetch(`${adminUrl}/api/state`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const state = (await res.json()) as AdminState;
    expect(state.ready).toBe(true);
    expect(state.windowSeconds).toBe(10);
    expect(typeof state.now).toBe("number");
    expect(state.backends.map((b) => b.name)).toEqual(["pods"]);
    const pods = state.backends[0];
    expect(pods).toMatchObject({ balancer: "round_robin", discovery: "static", synced: true });
    expect(pods?.endpoints.map((e) => e.address).sort()).toEqual(endpoints().sort());
    for (const endpoint of pods?.endpoints ?? []) {
      expect(endpoint.state).toBe("healthy");
      expect(endpoint.inFlight).toBe(0);
      expect(endpoint.callsPerSecond).toBeGreaterThan(0);
    }
    // 33 calls in the window, spread evenly: about 1.1 per second in all.
    const total = (pods?.endpoints ?? []).reduce((sum, e) => sum + e.callsPerSecond, 0);
    expect(total).toBeCloseTo(3.3, 1);
    expect(state.routes).toEqual([
      { source: "routes[0]", hosts: ["api.example.test"], services: ["greet.v1.GreetService"], backend: "pods" },
      { source: "routes[1]", services: ["greet.v1.", "probe.v1.ProbeService"], backend: "pods" },
    ]);
    expect(state.certificates).toHaveLength(1);
    expect(state.certificates[0]).toMatchObject({ names: ["api.example.test"], daysLeft: 89 });
    expect(JSON.stringify(state.certificates)).not.toContain("PRIVATE KEY");
    expect(state.errors).toHaveLength(3);
    expect(state.errors[0]).toEqual({
      at: expect.any(Number),
      host: "127.0.0.1",
      path: "/probe.v1.ProbeService/Probe",
      code: "not_found",
      backend: "pods",
      endpoint: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(JSON.stringify(state.errors)).not.toContain("no such thing");
  });

  it("serves a self-contained page", async () => {
    const res = await fetch(`${adminUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain("api/state");
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
  });

  it.skipIf(!existsSync(CHROMIUM))("renders in Chromium: the pods with live rates, routes, certificates and errors", async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      // Only the admin listener may be reached: the page must work offline.
      const outside: string[] = [];
      page.on("request", (request) => {
        if (!request.url().startsWith(adminUrl)) outside.push(request.url());
      });
      await page.goto(`${adminUrl}/`);
      // Keep calls coming while the page refreshes, as live traffic would.
      const greet = createClient(GreetService, createTransport("grpc", harness.baseUrl));
      for (let i = 0; i < 12; i++) await greet.greet({ name: "live" });
      await page.waitForFunction(
        (count) => {
          const rates = [...document.querySelectorAll("[data-backend='pods'] .rate")];
          return rates.length === count && rates.every((r) => Number(r.getAttribute("data-rate")) > 0);
        },
        harness.pods.length,
        { timeout: 10_000 },
      );
      expect(await page.locator(".backend-name").allTextContents()).toEqual(["pods"]);
      expect((await page.locator("[data-backend='pods'] .address").allTextContents()).sort()).toEqual(endpoints().sort());
      expect(await page.locator("[data-backend='pods'] .state").allTextContents()).toEqual(["healthy", "healthy", "healthy"]);
      const widths = await page.locator("[data-backend='pods'] .fill").evaluateAll((bars) =>
        bars.map((bar) => bar.getBoundingClientRect().width),
      );
      expect(widths.every((w) => w > 0)).toBe(true);
      const errorRow = page.locator("#errors .error-row").first();
      expect(await errorRow.textContent()).toContain("/probe.v1.ProbeService/Probe");
      expect(await errorRow.textContent()).toContain("not_found");
      expect(await page.locator("#routes").textContent()).toContain("api.example.test");
      expect(await page.locator("#certificates").textContent()).toContain("89 d");
      expect(await page.locator("#ready").textContent()).toBe("ready");
      expect(outside).toEqual([]);

      const path = process.env.UPDATE_SCREENSHOT === "1" ? SCREENSHOT : join(dir, "admin-page.png");
      await page.screenshot({ path, fullPage: true });
      expect((await stat(path)).size).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  });
});
