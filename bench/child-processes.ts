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

  /**
   * Starts any command (not only `node`) in the repository, optionally pinned
   * to CPUs with `taskset -c` (which execs the command, so the PID is the
   * command's own), and resolves with the first stdout or stderr line
   * matching `ready`. Other output is dropped unless `echo` is set.
   */
  startCommand(
    command: string,
    args: readonly string[],
    ready: RegExp,
    options: { readonly cpus?: string | undefined; readonly echo?: boolean; readonly onSpawn?: (pid: number) => void } = {},
  ): Promise<{ match: RegExpExecArray; pid: number }> {
    const [file, argv] = options.cpus === undefined ? [command, [...args]] : ["taskset", ["-c", options.cpus, command, ...args]];
    const child = spawn(file, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(child);
    options.onSpawn?.(child.pid ?? 0);
    return new Promise((resolve, reject) => {
      let settled = false;
      const tail: string[] = [];
      const onLine = (line: string) => {
        if (options.echo === true) console.error(line);
        if (settled) return;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        const match = ready.exec(line);
        if (match !== null) {
          settled = true;
          resolve({ match, pid: child.pid ?? 0 });
        }
      };
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", onLine);
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", onLine);
      child.once("error", (error) => {
        if (!settled) reject(error);
      });
      child.once("exit", (code, signal) => {
        if (!settled) reject(new Error(`${file} ${argv.join(" ")} exited with ${code ?? signal} before it was ready:\n${tail.join("\n")}`));
      });
    });
  }

  stopAll(): void {
    for (const child of this.children) {
      child.kill("SIGTERM");
    }
  }

  /** SIGTERM to every child still running, SIGKILL to those still there after `graceMs`; resolves when all are gone. */
  async stopAllAndWait(graceMs = 3000): Promise<void> {
    const running = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      running.map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  }
}

/** A gateway the benchmark started in front of its pods. */
export interface BenchGateway {
  /** Bound listener ports, in config order. */
  readonly ports: number[];
  readonly pid: number;
}

/**
 * The benchmarks' gateway config: one backend `greet` over the pods, every
 * call routed to it, the listeners given (YAML lines under `listeners:`),
 * extra lines for the backend (indented under it) and at the top level.
 */
export function benchGatewayYaml(
  pods: readonly string[],
  options: { readonly listeners: readonly string[]; readonly backend?: readonly string[]; readonly top?: readonly string[] },
): string {
  return [
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
    ...(options.top ?? []),
    "",
  ].join("\n");
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
  const config = benchGatewayYaml(pods, options);
  await writeFile(configFile, config);
  const listening = new RegExp(`"listeners":\\[${options.listeners.filter((l) => l.includes("address:")).map(() => '"127\\.0\\.0\\.1:(\\d+)"').join(",")}\\]`);
  const { match, pid } = await children.start(["bin/edgegate.js", "serve", "--config", configFile], listening);
  return { ports: match.slice(1).map(Number), pid };
}
