import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigText } from "../src/config/load-config.ts";

// The README's config reference is what users copy: every YAML block in it
// must pass the same validation as a config file does (a key shown at the
// wrong level would otherwise fail only in the user's hands).

const readme = readFileSync(join(import.meta.dirname, "../README.md"), "utf8");
const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

describe("README", () => {
  it("has the config reference as a YAML block", () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  for (const [i, block] of blocks.entries()) {
    it(`YAML block ${i + 1} is a valid edgegate config`, () => {
      const config = loadConfigText(block, `README.md yaml block ${i + 1}`);
      expect(config.listeners.length).toBeGreaterThan(0);
    });
  }
});
