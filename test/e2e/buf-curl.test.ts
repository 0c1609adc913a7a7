import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.ts";
import { type CommandResult, runCommand } from "../support/run-command.ts";

// `buf curl` is what a developer reaches for first; it speaks all three
// protocols, over HTTP/1.1 or h2c, and must find the gateway unremarkable.

const root = path.resolve(import.meta.dirname, "../..");
const buf = path.join(root, "node_modules/.bin/buf");

interface Variant {
  readonly label: string;
  readonly args: readonly string[];
}

const variants: readonly Variant[] = [
  { label: "grpc (h2c)", args: ["--protocol", "grpc", "--http2-prior-knowledge"] },
  { label: "grpcweb (HTTP/1.1)", args: ["--protocol", "grpcweb"] },
  { label: "grpcweb (h2c)", args: ["--protocol", "grpcweb", "--http2-prior-knowledge"] },
  { label: "connect (HTTP/1.1)", args: ["--protocol", "connect"] },
  { label: "connect (h2c)", args: ["--protocol", "connect", "--http2-prior-knowledge"] },
];

/** Runs `buf curl --schema proto ARGS -d DATA URL` in the project root; never rejects on a non-zero exit. */
function bufCurl(variant: Variant, url: string, data: unknown): Promise<CommandResult> {
  return runCommand(buf, ["curl", "--schema", "proto", ...variant.args, "-d", JSON.stringify(data), url], { cwd: root });
}

/** buf curl prints each message as an indented JSON object; top-level braces sit at column 0. */
function parseJsonStream(text: string): Record<string, unknown>[] {
  const trimmed = text.trim();
  if (trimmed === "") {
    return [];
  }
  return trimmed.split(/(?<=^\})\s*(?=^\{)/m).map((part) => JSON.parse(part) as Record<string, unknown>);
}

function describeResult(result: CommandResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

describe("buf curl against the gateway", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness?.close());

  it.each(variants)("unary Greet, 6 calls: all three pods answer ($label)", async (variant) => {
    const url = `${harness.baseUrl}/greet.v1.GreetService/Greet`;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => bufCurl(variant, url, { name: `buf ${i}` })),
    );
    const pods = new Set<unknown>();
    for (const [i, result] of results.entries()) {
      expect(result.code, describeResult(result)).toBe(0);
      const messages = parseJsonStream(result.stdout);
      expect(messages).toHaveLength(1);
      expect(messages[0]?.greeting).toBe(`Hello, buf ${i}!`);
      pods.add(messages[0]?.pod);
    }
    expect([...pods].sort()).toEqual(["pod-a", "pod-b", "pod-c"]);
  });

  it.each(variants)("server stream GreetStream count 3 prints 3 messages ($label)", async (variant) => {
    const result = await bufCurl(variant, `${harness.baseUrl}/greet.v1.GreetService/GreetStream`, {
      name: "stream",
      count: 3,
    });
    expect(result.code, describeResult(result)).toBe(0);
    const messages = parseJsonStream(result.stdout);
    expect(messages.map((m) => m.greeting)).toEqual([
      "Hello, stream! (1/3)",
      "Hello, stream! (2/3)",
      "Hello, stream! (3/3)",
    ]);
    expect(new Set(messages.map((m) => m.pod)).size).toBe(1);
  });

  it.each(variants)("an error exits non-zero and prints not_found and the message ($label)", async (variant) => {
    const result = await bufCurl(variant, `${harness.baseUrl}/probe.v1.ProbeService/Probe`, {
      fail_code: 5,
      fail_message: "no such widget: w-17",
    });
    expect(result.code, describeResult(result)).not.toBe(0);
    const output = result.stdout + result.stderr;
    expect(output).toContain("not_found");
    expect(output).toContain("no such widget: w-17");
  });
});
