import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

const root = new URL("..", import.meta.url).pathname;

/** The benchmark's child processes (pods, gateways), each on its own event loop. */
export class ChildProcesses {
  private readonly children: ChildProcess[] = [];

  /** Starts `node <args>` in the repository and resolves with the first stdout line matching `ready`. */
  start(args: string[], ready: RegExp): Promise<{ match: RegExpExecArray; pid: number }> {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    this.children.push(child);
    return new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on("line", (line) => {
        const match = ready.exec(line);
        if (match !== null) {
          resolve({ match, pid: child.pid ?? 0 });
        }
      });
      child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
    });
  }

  stopAll(): void {
    for (const child of this.children) {
      child.kill("SIGTERM");
    }
  }
}

/** A gateway the benchmark started in front of its pods. */
export interface BenchGateway {
  /** Bound listener ports, in config order. */
  readonly ports: number[];
  readonly pid: number;
}

/**
 * Starts three pods (bench/pods.ts) and `edgegate serve` in front of them,
 * with the listeners given (YAML lines under `listeners:`) and extra lines
 * for the backend (indented under it, e.g. its `schemas`).
 */
export async function startPodsAndGateway(
  children: ChildProcesses,
  configFile: string,
  options: { readonly listeners: readonly string[]; readonly backend?: readonly string[] },
): Promise<BenchGateway> {
  const { writeFile } = await import("node:fs/promises");
  const { match: podsMatch } = await children.start(["bench/pods.ts", "3"], /^(\[.*\])$/);
  const pods = JSON.parse(podsMatch[1] ?? "[]") as string[];
  const config = [
    "listeners:",
    ...options.listeners,
    "routes:",
    "  - backend: greet",
    "backends:",
    "  - name: greet",
    "    discovery:",
    "      static:",
    `        endpoints: ${JSON.stringify(pods)}`,
    ...(options.backend ?? []),
    "",
  ].join("\n");
  await writeFile(configFile, config);
  const listening = new RegExp(`"listeners":\\[${options.listeners.filter((l) => l.includes("address:")).map(() => '"127\\.0\\.0\\.1:(\\d+)"').join(",")}\\]`);
  const { match, pid } = await children.start(["bin/edgegate.js", "serve", "--config", configFile], listening);
  return { ports: match.slice(1).map(Number), pid };
}
