import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const srcDir = new URL(".", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return sources(path);
    }
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".spec.ts") ? [path] : [];
  });
}

describe("architecture", () => {
  // The core speaks web standards so it runs on Node and Deno alike; only the
  // runtime adapter (and the entry point, which only calls it) may touch a runtime.
  it("keeps node: imports and Deno APIs inside src/adapter", () => {
    const offenders = sources(srcDir)
      .map((path) => relative(srcDir, path))
      .filter((path) => !path.startsWith("adapter/") && path !== "main.ts")
      .filter((path) => {
        const text = readFileSync(join(srcDir, path), "utf8");
        return /from\s+["']node:|import\(["']node:|\bDeno\./.test(text);
      });
    expect(offenders).toEqual([]);
  });

  // createNodeHttpClient's `sessionProvider` is @private in connect-node: it may
  // change in any release, so the version is pinned exactly and the Node
  // upstream client spec covers the contract we rely on.
  it("pins connect-es exactly, since a @private API of it is used", () => {
    const pkg = JSON.parse(readFileSync(join(srcDir, "../package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    for (const name of ["@connectrpc/connect", "@connectrpc/connect-node"]) {
      expect(pkg.dependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("uses no TypeScript-only runtime syntax (enums, namespaces), so type stripping runs the sources", () => {
    const offenders = sources(srcDir).filter((path) =>
      /^\s*(export\s+)?(const\s+)?enum\s|^\s*(export\s+)?namespace\s/m.test(readFileSync(path, "utf8")),
    );
    expect(offenders.map((p) => relative(srcDir, p))).toEqual([]);
  });
});
