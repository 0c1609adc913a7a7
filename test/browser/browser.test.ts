import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundlePage, CHROMIUM, chromiumUnavailable, type PageServer, servePage } from "../support/chromium.ts";
import { type Harness, startHarness } from "../support/harness.ts";
import type { PageResults, PageTransport } from "./page-results.ts";

// connect-web in a real browser (Debian's Chromium, driven by playwright-core),
// on a page served from another origin than the gateway's (another port), so
// every call goes through real CORS: preflights, the headers connect-web sends,
// the response headers the page may read. `.ci/run` installs Chromium.

const haveChromium = chromiumUnavailable() === undefined;
const TRANSPORTS: readonly PageTransport[] = ["connect-json", "connect-binary", "grpc-web"];
const POD_NAMES = ["pod-a", "pod-b", "pod-c"];

describe.skipIf(!haveChromium)(`connect-web in Chromium${haveChromium ? "" : ` (skipped: ${CHROMIUM} is not installed)`}`, () => {
  let allowedPage: PageServer;
  let otherPage: PageServer;
  let harness: Harness;
  let browser: Browser;

  beforeAll(async () => {
    const appJs = await bundlePage(fileURLToPath(new URL("app.ts", import.meta.url)));
    const title = "edgegate browser test";
    [allowedPage, otherPage] = await Promise.all([servePage(title, appJs), servePage(title, appJs)]);
    harness = await startHarness({
      config: {
        routes: [{ services: ["greet.v1."], backend: "pods", cors: { allowedOrigins: [allowedPage.origin] } }],
      },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    await Promise.all([allowedPage?.close(), otherPage?.close()]);
  });

  /** Opens the page from `page`'s origin, waits for every call to settle; also the console errors it logged. */
  async function runPage(page: PageServer): Promise<{ results: PageResults; consoleErrors: string[]; text: string }> {
    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      const consoleErrors: string[] = [];
      tab.on("console", (message) => {
        if (message.type() === "error") {
          consoleErrors.push(message.text());
        }
      });
      await tab.goto(`${page.origin}/?gateway=${encodeURIComponent(harness.baseUrl)}`);
      await tab.waitForFunction(() => window.results !== undefined, undefined, { timeout: 15_000 });
      const results = await tab.evaluate(() => window.results as PageResults);
      const text = await tab.locator("#results").innerText();
      return { results, consoleErrors, text };
    } finally {
      await context.close();
    }
  }

  it("calls over Connect JSON, Connect binary and gRPC-Web, unary and server streaming, balanced over every pod", async () => {
    const { results, text, consoleErrors } = await runPage(allowedPage);
    expect(consoleErrors).toEqual([]);
    expect(results.origin).toBe(allowedPage.origin);
    expect(results.origin).not.toBe(harness.baseUrl);
    expect(results.calls.filter((call) => !call.ok)).toEqual([]);
    for (const transport of TRANSPORTS) {
      const unary = results.calls.filter((call) => call.transport === transport && call.method === "Greet");
      expect(unary.length).toBeGreaterThanOrEqual(3);
      expect(unary.every((call) => call.pods.length === 1)).toBe(true);
      expect(new Set(unary.flatMap((call) => call.pods)), transport).toEqual(new Set(POD_NAMES));
      const streams = results.calls.filter((call) => call.transport === transport && call.method === "GreetStream");
      expect(streams).toHaveLength(1);
      const pods = streams[0]?.pods ?? [];
      expect(pods, transport).toHaveLength(3);
      expect(new Set(pods).size, transport).toBe(1);
      expect(POD_NAMES).toContain(pods[0]);
      // The page shows which pod answered each call.
      expect(text).toContain(`${transport} GreetStream → ${pods.join(", ")}`);
    }
  });

  it("fails every call from an origin the route does not allow (blocked by CORS in the browser)", async () => {
    const { results, consoleErrors } = await runPage(otherPage);
    expect(results.origin).toBe(otherPage.origin);
    expect(results.calls.length).toBeGreaterThan(0);
    for (const call of results.calls) {
      expect(call.ok, `${call.transport} ${call.method}`).toBe(false);
      expect(call.pods).toEqual([]);
      expect(call.error).toMatch(/Failed to fetch/);
    }
    expect(consoleErrors.some((line) => line.includes("blocked by CORS policy") && line.includes(otherPage.origin))).toBe(true);
  });
});
