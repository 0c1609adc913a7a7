import { existsSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";

// Debian's Chromium driven by playwright-core (test/browser and the interop
// matrix's connect-web client), and a page server on a loopback port of its
// own, so the page's origin is never the gateway's and every call from it
// goes through real CORS.

/** Debian's Chromium (`apt-get install -y chromium`; `.ci/run` installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/** Why Chromium cannot run here, or `undefined`. */
export function chromiumUnavailable(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (apt-get install -y chromium)`;
}

/**
 * Launches headless Chromium with the flags of test/browser, and every host name
 * resolves to 127.0.0.1 (`--host-resolver-rules`), so a page can call a TLS
 * listener by the name its certificate carries (SNI and Host as a real
 * client sends them) without a DNS entry; the pages of the tests only ever
 * talk to loopback.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--host-resolver-rules=MAP * 127.0.0.1",
    ],
  });
}

/** Bundles a page's entry module (TypeScript, imports resolved from the repo) for the browser. */
export async function bundlePage(entry: string): Promise<string> {
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const js = bundle.outputFiles[0]?.text;
  if (js === undefined) {
    throw new Error(`esbuild produced nothing for ${entry}`);
  }
  return js;
}

export interface PageServer {
  /** `http://127.0.0.1:PORT`: the Origin the page's calls carry. */
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves `/` (an HTML page loading `/app.js`) and `/app.js` on 127.0.0.1, on a port of its own. */
export async function servePage(title: string, appJs: string): Promise<PageServer> {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body><script type="module" src="/app.js"></script></body></html>`;
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://page").pathname;
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else if (path === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(appJs);
    } else if (path === "/favicon.ico") {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
