// Runs `node bench/discovery.ts` (~20 s) as a child and picks its "pod added →
// first call answered" row out of the Markdown it prints.
import { type ChildProcess, spawn } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;

export interface DiscoveryFigure {
  readonly row: string;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly seconds: number;
}

let current: ChildProcess | undefined;

/** Kills the discovery benchmark if it is running (SIGINT). */
export function stopDiscoveryBench(): void {
  current?.kill("SIGKILL");
}

export function runDiscoveryBench(timeoutMs: number): Promise<DiscoveryFigure> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bench/discovery.ts"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    current = child;
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code, signal) => {
      current = undefined;
      clearTimeout(timer);
      const row = out.split("\n").find((l) => l.includes("added → first call answered"));
      if (code !== 0 || row === undefined) {
        reject(new Error(`node bench/discovery.ts ended with ${code ?? signal} without the row:\n${(out + err).slice(-2000)}`));
        return;
      }
      const cells = row.split("|").map((c) => c.trim());
      resolve({ row: row.trim(), medianMs: Number(cells[3]), p95Ms: Number(cells[4]), seconds: (performance.now() - started) / 1000 });
    });
  });
}
