import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { bundlePage, chromiumUnavailable, launchChromium, type PageServer, servePage } from "../../support/chromium.ts";
import type { PageCaseRequest, PageCaseResult, PageTransport } from "./connect-web-page.ts";
import type { CaseOutcome, InteropCase, InteropClient, InteropTarget } from "./interop-client.ts";

// connect-web in Debian's Chromium as an interop client: the page
// (connect-web-page.ts) is served from its own 127.0.0.1 port, another origin
// than the gateway's, so every call goes through real CORS (preflights, the
// request headers allowed, the response headers exposed). One Chromium for
// every transport and run, launched on first use; a fresh browser context
// per run (no preflight cache carried over).
//
// The route the page calls must allow its origin, with the echo headers of
// custom_metadata: `cors: await connectWebCors()` (or `connectWebPageOrigin()`
// and `connectWebCorsHeaders` for a config of one's own).
//
// A pod is no target for it: browsers speak neither h2c nor plain gRPC, and
// pods send no CORS headers; connect-web has no direct control.

export type ConnectWebTransport = PageTransport;

/**
 * What connect-web over fetch can express: unary and server-streaming calls.
 * Not here: client and bidi streams (client_streaming, ping_pong,
 * empty_stream, cancel_after_begin: fetch has no streaming request body);
 * compression (connect-web neither compresses requests nor accepts
 * compressed answers, so client_compressed_* cannot be sent and
 * server_compressed_* cannot be told from an uncompressed answer);
 * cancel_after_first_response (a bidi case; cancelling a server stream ends
 * in a CANCELLED that connect-web raises itself, whatever the gateway does).
 * custom_metadata and status_code_and_message take a server stream where the
 * interop description takes a bidi stream.
 */
export const connectWebCases: readonly InteropCase[] = [
  "empty_unary",
  "large_unary",
  "server_streaming",
  "custom_metadata",
  "status_code_and_message",
  "special_status_message",
  "unimplemented_method",
  "unimplemented_service",
  "timeout_on_sleeping_server",
  "error_details",
  "health",
];

/**
 * The headers custom_metadata needs through CORS beyond connect-es's lists
 * (which the gateway always allows and exposes): the two echo request headers,
 * and as readable response headers the initial echo, and the trailing one as
 * Connect unary sends it (`trailer-` prefixed) and as a Trailers-Only gRPC-Web
 * answer does (a plain header). gRPC-Web and Connect streaming trailers travel
 * in the body and need no exposure.
 */
export const connectWebCorsHeaders = {
  allowedHeaders: ["x-grpc-test-echo-initial", "x-grpc-test-echo-trailing-bin"],
  exposedHeaders: ["x-grpc-test-echo-initial", "x-grpc-test-echo-trailing-bin", "trailer-x-grpc-test-echo-trailing-bin"],
} as const;

/** The page's origin (`http://127.0.0.1:PORT`), stable until {@link closeConnectWebBrowser}; starts the page server. */
export async function connectWebPageOrigin(): Promise<string> {
  return (await pageServer()).origin;
}

/** The `cors` block of a gateway route that the connect-web page can call. */
export async function connectWebCors(): Promise<{
  allowedOrigins: string[];
  allowedHeaders: string[];
  exposedHeaders: string[];
}> {
  return {
    allowedOrigins: [await connectWebPageOrigin()],
    allowedHeaders: [...connectWebCorsHeaders.allowedHeaders],
    exposedHeaders: [...connectWebCorsHeaders.exposedHeaders],
  };
}

export function connectWebClient(transport: ConnectWebTransport): InteropClient {
  return {
    id: `connect-web/${transport}`,
    cases: connectWebCases,
    unavailable: chromiumUnavailable,
    run: (target, cases) => runCases(transport, target, cases),
  };
}

/** Closes the shared Chromium and the page server (afterAll); a later run starts them again, on a new origin. */
export async function closeConnectWebBrowser(): Promise<void> {
  const { browser, page } = shared;
  shared = {};
  await Promise.all([
    browser?.then((b) => b.close(), () => undefined),
    page?.then((p) => p.close(), () => undefined),
  ]);
}

/** Each case has 10 s in the page; past this the page itself is stuck and is replaced. */
const CASE_PATIENCE_MS = 15_000;

let shared: { browser?: Promise<Browser>; page?: Promise<PageServer> } = {};

function pageServer(): Promise<PageServer> {
  if (shared.page === undefined) {
    const page = bundlePage(fileURLToPath(new URL("connect-web-page.ts", import.meta.url))).then((js) =>
      servePage("edgegate interop: connect-web", js)
    );
    shared.page = page;
    // A failed start is tried again by the next run.
    page.catch(() => shared.page === page && delete shared.page);
  }
  return shared.page;
}

function browser(): Promise<Browser> {
  if (shared.browser === undefined) {
    const launched = launchChromium();
    shared.browser = launched;
    launched.catch(() => shared.browser === launched && delete shared.browser);
  }
  return shared.browser;
}

async function runCases(
  transport: ConnectWebTransport,
  target: InteropTarget,
  cases: readonly InteropCase[],
): Promise<CaseOutcome[]> {
  const unavailable = chromiumUnavailable();
  if (unavailable !== undefined) {
    return cases.map((c) => ({ case: c, ok: false, detail: `connect-web cannot run: ${unavailable}` }));
  }
  const { host, port } = splitAddress(target.address);
  let baseUrl = `http://${target.address}`;
  if (target.tls !== undefined) {
    if (host !== "127.0.0.1") {
      return cases.map((c) => ({
        case: c,
        ok: false,
        detail: `connect-web over TLS reaches 127.0.0.1 only (names resolve there), not ${host}`,
      }));
    }
    // Chromium is not given the CA (it trusts the system store only); Node checks the
    // chain and name instead, with the CA as the only anchor, and Chromium skips its own
    // check for this run's context. The page calls the listener by the certificate's name.
    const refused = await verifyCertificate(host, port, target.tls.caFile, target.tls.serverName);
    if (refused !== undefined) {
      return cases.map((c) => ({ case: c, ok: false, detail: refused }));
    }
    const name = target.tls.serverName;
    baseUrl = `https://${isIP(name) === 6 ? `[${name}]` : name}:${port}`;
  }
  let origin: string;
  let chromium: Browser;
  let tab: Tab;
  try {
    origin = (await pageServer()).origin;
    chromium = await browser();
    tab = await openTab(chromium, origin, target.tls !== undefined);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    return cases.map((c) => ({ case: c, ok: false, detail: `connect-web's page did not open in Chromium: ${reason}` }));
  }
  const outcomes: CaseOutcome[] = [];
  try {
    for (const c of cases) {
      if (!connectWebCases.includes(c)) {
        outcomes.push({ case: c, ok: false, detail: `connect-web cannot express ${c} (see connectWebCases)` });
        continue;
      }
      const logged = tab.consoleErrors.length;
      const request: PageCaseRequest = { baseUrl, transport, case: c };
      const result = await withPatience(
        tab.page.evaluate((req) => {
          const run = window.interopCase;
          if (run === undefined) throw new Error("the page has no interopCase");
          return run(req);
        }, request),
      ).catch((e: unknown): PageCaseResult | "stuck" =>
        e === stuck ? "stuck" : { ok: false, detail: `the page failed: ${e instanceof Error ? e.message : String(e)}` }
      );
      if (result === "stuck") {
        outcomes.push({ case: c, ok: false, detail: `the page gave no result within ${CASE_PATIENCE_MS} ms` });
        await tab.context.close().catch(() => undefined);
        tab = await openTab(chromium, origin, target.tls !== undefined);
        continue;
      }
      const errors = tab.consoleErrors.slice(logged);
      const detail = result.ok || errors.length === 0 ? result.detail : `${result.detail}; console: ${errors.join(" | ")}`;
      outcomes.push({ case: c, ok: result.ok, detail });
    }
  } finally {
    await tab.context.close().catch(() => undefined);
  }
  return outcomes;
}

interface Tab {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught page errors, in order (CORS refusals show here). */
  readonly consoleErrors: string[];
}

async function openTab(chromium: Browser, origin: string, ignoreHTTPSErrors: boolean): Promise<Tab> {
  const context = await chromium.newContext({ ignoreHTTPSErrors });
  try {
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.interopReady === true, undefined, { timeout: 10_000 });
    return { context, page, consoleErrors };
  } catch (e) {
    await context.close().catch(() => undefined);
    throw e;
  }
}

const stuck = Symbol("stuck");

function withPatience<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(stuck), CASE_PATIENCE_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(address.slice(colon + 1)) };
}

/**
 * Whether the listener's certificate chains to `caFile` and carries
 * `serverName` (the check Chromium would make if it trusted the CA), sending
 * SNI as Chromium will; a reason when it does not.
 */
async function verifyCertificate(host: string, port: number, caFile: string, serverName: string): Promise<string | undefined> {
  const ca = await readFile(caFile, "utf8");
  return new Promise((resolve) => {
    const socket = tls.connect({
      host,
      port,
      ca,
      ...(isIP(serverName) === 0 ? { servername: serverName } : {}),
      ALPNProtocols: ["h2", "http/1.1"],
      checkServerIdentity: (_, cert) => tls.checkServerIdentity(serverName, cert),
      timeout: 5_000,
    });
    const done = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.once("secureConnect", () => done(undefined));
    socket.once("timeout", () => done(`TLS to ${host}:${port}: no handshake within 5 s`));
    socket.once("error", (e) => done(`TLS to ${host}:${port} as ${serverName} with ${caFile} as the CA: ${e.message}`));
  });
}
