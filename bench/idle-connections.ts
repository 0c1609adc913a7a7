// Memory per idle client HTTP/2 connection: a child process (bench/idle-clients.ts,
// its own fd limit raised with prlimit when there is one) opens N connections
// that send the preface and an empty SETTINGS, then idles; the server's VmRSS
// before and after, once settled, divided by N.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { memoryKb } from "./measure.ts";

const root = new URL("..", import.meta.url).pathname;

export interface IdleFigures {
  readonly connections: number;
  readonly open: number;
  readonly failed: number;
  /** Connections still open when the RSS was read. */
  readonly openAtReading: number;
  readonly rssBeforeKb: number;
  readonly rssAfterKb: number;
  readonly kbPerConnection: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the RSS of `pid` moves less than 0.5% over 500 ms (at most `maxMs`), and returns it. */
async function settledRss(pid: number, minMs: number, maxMs: number): Promise<number> {
  await sleep(minMs);
  const until = Date.now() + maxMs;
  let last = memoryKb(pid, "VmRSS");
  for (;;) {
    await sleep(500);
    const now = memoryKb(pid, "VmRSS");
    if (Math.abs(now - last) <= last * 0.005 || Date.now() > until) return now;
    last = now;
  }
}

export async function measureIdleConnections(
  serverPid: number,
  port: number,
  connections: number,
  options: { readonly cpus: string | undefined; readonly settleMs: number },
): Promise<IdleFigures> {
  const rssBeforeKb = await settledRss(serverPid, 200, 3000);
  const nofile = String(connections + 1000);
  const nodeArgs = [process.execPath, "bench/idle-clients.ts", String(port), String(connections)];
  const withLimit = existsSync("/usr/bin/prlimit") ? ["prlimit", `--nofile=${nofile}:${nofile}`, ...nodeArgs] : nodeArgs;
  const argv = options.cpus === undefined ? withLimit : ["taskset", "-c", options.cpus, ...withLimit];
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
  try {
    const lines = createInterface({ input: child.stdout });
    const iterator = lines[Symbol.asyncIterator]();
    const nextLine = async (): Promise<{ open: number; failed: number }> => {
      const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`idle-clients exited with ${code}`))));
      const { value, done } = await Promise.race([iterator.next(), exited]);
      if (done === true) throw new Error("idle-clients ended early");
      return JSON.parse(value as string) as { open: number; failed: number };
    };
    const first = await nextLine();
    const rssAfterKb = await settledRss(serverPid, options.settleMs, 10_000);
    child.stdin.write("count\n");
    const atReading = await nextLine();
    return {
      connections,
      open: first.open,
      failed: first.failed,
      openAtReading: atReading.open,
      rssBeforeKb,
      rssAfterKb,
      kbPerConnection: (rssAfterKb - rssBeforeKb) / Math.max(1, atReading.open),
    };
  } finally {
    child.stdin.end();
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await sleep(1000); // let the server notice the closes before the next measurement
  }
}
