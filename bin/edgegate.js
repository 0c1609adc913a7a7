#!/usr/bin/env node
// edgegate runs its TypeScript sources directly with Node's type stripping
// (Node >= 22.18). `npm ci` installs a pinned Node 24 from the `node` package,
// and npm scripts and `npx edgegate` put it first on PATH.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `edgegate needs Node.js >= 22.18 (this is ${process.versions.node}). ` +
      "Run it with `npx edgegate` or an npm script after `npm ci`, which use the pinned Node from node_modules/.bin.",
  );
  process.exit(1);
}
await import("../src/main.ts");
