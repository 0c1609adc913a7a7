import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdgegateUntil } from "../support/gateway-process.ts";
import { edgegateCommand, gatewayRuntime } from "../support/gateway-runtime.ts";
import { type CommandResult, runCommand } from "../support/run-command.ts";

// `npm start` is the first thing a user runs: it must start on a fresh
// machine and print commands that work when pasted, showing the answers
// rotating over the three pods. This suite runs `edgegate demo` (what
// `npm start` runs) and executes exactly the commands it printed, from the
// repository root, the way a user pastes them.

const root = join(import.meta.dirname, "../..");
const haveCurl = existsSync("/usr/bin/curl");

/** `edgegate demo ARGS` on the runtime under test, once it has printed its last line. */
async function startDemo(args: readonly string[]): Promise<{ child: ChildProcess; lines: string[]; exited: Promise<number | string> }> {
  const lines: string[] = [];
  const { child, exited } = await startEdgegateUntil(["demo", ...args], (line) => line.includes("Ctrl-C stops the demo"), gatewayRuntime, lines);
  return { child, lines, exited };
}

/** Runs one printed command through a shell, `npx buf` as the installed binary (what npx resolves it to, without npx's start-up). */
function runPasted(command: string): Promise<CommandResult> {
  const resolved = command.replace(/^npx buf /, `${join(root, "node_modules/.bin/buf")} `);
  return runCommand("/bin/sh", ["-c", resolved], { cwd: root });
}

/** The JSON objects a command printed (buf curl indents them; curl prints one line). */
function messages(stdout: string): Array<{ greeting?: string; pod?: string }> {
  const text = stdout.trim();
  return text === "" ? [] : text.split(/(?<=\})\s*(?=\{)/).map((part) => JSON.parse(part) as { greeting?: string; pod?: string });
}

describe(`npm start: the embedded demo (${gatewayRuntime})`, () => {
  let demo: Awaited<ReturnType<typeof startDemo>>;
  let commands: string[];
  beforeAll(async () => {
    // Port 0: any free port; the printed commands carry the one it got.
    demo = await startDemo(["--port", "0"]);
    commands = demo.lines.filter((l) => /^ {2}(npx buf curl|curl) /.test(l)).map((l) => l.trim());
  }, 40_000);
  afterAll(async () => {
    if (demo === undefined) return;
    demo.child.kill("SIGTERM");
    expect(await demo.exited).toBe(0);
  });

  it("prints buf curl for each of the three protocols, and plain curl for Connect JSON POST and GET", () => {
    const protocols = commands.filter((c) => c.includes("/Greet ") || c.endsWith("/Greet") || c.includes("/Greet?"));
    expect(protocols.filter((c) => c.startsWith("npx buf curl")).map((c) => /--protocol (\w+)/.exec(c)?.[1])).toEqual(
      ["grpc", "grpcweb", "connect"],
    );
    expect(protocols.filter((c) => c.startsWith("curl "))).toHaveLength(2);
  });

  const unaryCases = [
    { label: "buf curl --protocol grpc", match: (c: string) => c.includes("--protocol grpc ") && c.endsWith("/Greet"), needsCurl: false },
    { label: "buf curl --protocol grpcweb", match: (c: string) => c.includes("--protocol grpcweb ") && c.endsWith("/Greet"), needsCurl: false },
    { label: "buf curl --protocol connect", match: (c: string) => c.includes("--protocol connect ") && c.endsWith("/Greet"), needsCurl: false },
    { label: "curl, Connect JSON POST", match: (c: string) => c.startsWith("curl -d"), needsCurl: true },
    { label: "curl, Connect GET", match: (c: string) => c.startsWith("curl '") && c.includes("?connect=v1"), needsCurl: true },
  ];
  for (const unary of unaryCases) {
    const title = `${unary.label}: pasted six times, every one of the three pods answers`;
    it.skipIf(unary.needsCurl && !haveCurl)(haveCurl || !unary.needsCurl ? title : `${title} (skipped: /usr/bin/curl is not installed)`, async () => {
      const command = commands.find(unary.match);
      expect(command, `no such command among:\n${commands.join("\n")}`).toBeDefined();
      const pods: string[] = [];
      for (let i = 0; i < 6; i++) {
        const result = await runPasted(command as string);
        expect(result.code, `${command}\nexit ${result.code}\n${result.stdout}\n${result.stderr}`).toBe(0);
        const [answer, ...more] = messages(result.stdout);
        expect(more).toEqual([]);
        expect(answer?.greeting).toBe("Hello, you!");
        pods.push(answer?.pod ?? "");
      }
      expect(new Set(pods)).toEqual(new Set(["pod-a", "pod-b", "pod-c"]));
    });
  }

  it("the printed server stream answers three messages from one pod", async () => {
    const command = commands.find((c) => c.includes("/GreetStream"));
    expect(command).toBeDefined();
    const result = await runPasted(command as string);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const answers = messages(result.stdout);
    expect(answers.map((a) => a.greeting)).toEqual(["Hello, you! (1/3)", "Hello, you! (2/3)", "Hello, you! (3/3)"]);
    expect(new Set(answers.map((a) => a.pod)).size).toBe(1);
  });
});

describe(`edgegate demo on a busy port (${gatewayRuntime})`, () => {
  it("exits at once with a message that names the port and how to pick another", async () => {
    const blocker = await startDemo(["--port", "0"]);
    try {
      const port = Number(/gateway on http:\/\/127\.0\.0\.1:(\d+)/.exec(blocker.lines.join("\n"))?.[1]);
      const command = edgegateCommand(["demo", "--port", String(port)]);
      const result = await runCommand(command.file, command.args, { cwd: root });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${port} is in use on 127.0.0.1; pick another one: npm start -- --port ${port + 1}`);
    } finally {
      blocker.child.kill("SIGTERM");
      await blocker.exited;
    }
  });
});
