// Runs h2load (nghttp2's HTTP/2 and HTTP/1.1 load generator) once and reads
// its summary and its per-request log (--log-file: start µs, status, duration
// µs; status -1 for a failed stream) into figures.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { percentile } from "./measure.ts";

export interface H2loadOptions {
  /** Full URL with the RPC path, `http://127.0.0.1:PORT/greet.v1.GreetService/Greet`. */
  readonly url: string;
  /** Request body file (h2load then POSTs it). */
  readonly bodyFile: string;
  readonly headers: readonly string[];
  /** HTTP/1.1 (`--h1`) instead of HTTP/2 (h2c, prior knowledge). */
  readonly h1: boolean;
  /** `-c`: connections. */
  readonly clients: number;
  /** `-m`: concurrent streams per connection (HTTP/1.1: pipelined requests; keep it 1 there). */
  readonly streams: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** `--rps`: requests per second per connection; undefined: as fast as answers come. */
  readonly rpsPerClient?: number | undefined;
  /** CPU list for `taskset -c`; undefined: not pinned. */
  readonly cpus?: string | undefined;
  /** Called when the warm-up is over (approximately: spawn time + warm-up), to start sampling the server; gets h2load's PID (taskset execs it). */
  readonly onMeasuring?: (h2loadPid: number) => void;
}

export interface H2loadResult {
  /** Requests h2load counted in the measurement window (`requests: N total`). */
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  /** 2xx answers in the per-request log (the measured window; status 0 rows, whose headers came in the warm-up, included). */
  readonly status2xx: number;
  /** Log rows with another status (3xx-5xx, or -1: the stream failed). */
  readonly statusOther: number;
  /** h2load's own `status codes: N 2xx` (includes answers to warm-up requests that ended in the window). */
  readonly summary2xx: number;
  /** Measurement window in seconds (-D; h2load's `finished in` includes the warm-up). */
  readonly elapsed: number;
  /** 2xx answers per second over the window. */
  readonly rate: number;
  /** Latency percentiles of the 2xx answers from the log file, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly logRows: number;
  readonly command: string;
}

/** h2load processes running now, so that an interrupted benchmark can stop them. */
const running = new Set<ChildProcess>();

/** Kills every h2load still running (SIGINT, errors). */
export function stopRunningH2load(): void {
  for (const child of running) child.kill("SIGKILL");
}

export function h2loadVersion(): string | undefined {
  try {
    return execFileSync("h2load", ["--version"], { encoding: "utf8" }).split("\n")[0]?.trim();
  } catch {
    return undefined;
  }
}

export async function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  const dir = await mkdtemp(join(tmpdir(), "edgegate-h2load-"));
  const logFile = join(dir, "requests.log");
  const args = [
    "-c",
    String(options.clients),
    "-m",
    String(options.streams),
    "-t",
    "1",
    "-D",
    String(options.seconds),
    "--warm-up-time",
    String(options.warmupSeconds),
    "-d",
    options.bodyFile,
    "--log-file",
    logFile,
    ...options.headers.flatMap((h) => ["-H", h]),
    ...(options.h1 ? ["--h1"] : []),
    ...(options.rpsPerClient === undefined ? [] : ["--rps", String(options.rpsPerClient)]),
    options.url,
  ];
  const [file, argv] = options.cpus === undefined ? ["h2load", args] : ["taskset", ["-c", options.cpus, "h2load", ...args]];
  const command = [file, ...argv].map((a) => (/[\s'";]/.test(a) ? `'${a}'` : a)).join(" ");
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"] });
      running.add(child);
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
      const timer = setTimeout(() => options.onMeasuring?.(child.pid ?? 0), options.warmupSeconds * 1000);
      child.once("error", reject);
      child.once("exit", (code) => {
        running.delete(child);
        clearTimeout(timer);
        code === 0 ? resolve(out) : reject(new Error(`h2load exited with ${code}: ${command}\n${out}`));
      });
    });
    const num = (re: RegExp): number => {
      const match = re.exec(stdout);
      if (match === null) throw new Error(`h2load output has no ${re}: ${command}\n${stdout}`);
      return Number(match[1]);
    };
    // `requests: N total` and the log count the measured window only; `status codes` also counts answers
    // to warm-up requests that end in it, and `finished in` includes the warm-up: use the log and -D.
    const total = num(/requests: (\d+) total/);
    const summary2xx = num(/status codes: (\d+) 2xx/);
    const latencies: number[] = [];
    let logRows = 0;
    let statusOther = 0;
    for (const line of (await readFile(logFile, "utf8")).split("\n")) {
      const [, status, duration] = line.split("\t");
      if (status === undefined || duration === undefined) continue;
      logRows += 1;
      const code = Number(status);
      // Status 0: the answer's headers arrived during the warm-up (h2load counted its status there), its end in the window.
      if ((code >= 200 && code < 300) || code === 0) latencies.push(Number(duration) / 1000);
      else statusOther += 1;
    }
    const status2xx = latencies.length;
    // Non-2xx answers whose status h2load saw (also those of warm-up requests ending in the window).
    statusOther = Math.max(statusOther, num(/(\d+) 3xx/) + num(/(\d+) 4xx/) + num(/(\d+) 5xx/));
    const elapsed = options.seconds;
    latencies.sort((a, b) => a - b);
    return {
      total,
      succeeded: num(/(\d+) succeeded/),
      failed: num(/(\d+) failed/),
      errored: num(/(\d+) errored/),
      timeout: num(/(\d+) timeout/),
      status2xx,
      statusOther,
      summary2xx,
      elapsed,
      rate: status2xx / elapsed,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      logRows,
      command,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
