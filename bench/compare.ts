// `npm run bench`: edgegate side by side with the direct path and nginx, one
// run, same machine, same load generator (h2load), same pods.
//
// Systems, each started once and kept running:
//   direct         h2load → one pod (bench/pods.ts 1, its own process): the limit
//   nginx          grpc_pass over h2c to the three pods (when nginx is installed)
//   edgegate-node  `node bin/edgegate.js serve` in front of the three pods
//   edgegate-deno  the same sources and config under node_modules/deno/deno
// The three pods (bench/pods.ts 3, one process) serve all three proxies.
// With taskset: the system under test on CPU 0, h2load and the pods on CPU 1.
//
// Per workload × system: 2xx calls/s at a fixed concurrency, p50/p99 from
// h2load's per-request log, the system's CPU seconds per 10k calls
// (utime+stime from /proc/PID/stat over the measured window) and its peak RSS
// (VmHWM, reset before each window via /proc/PID/clear_refs where allowed).
// Before a system is loaded with a workload, one real call with a connect-es
// client must return the right answer (h2load reads no gRPC trailers).
// Then: gRPC small at half of edgegate-on-Node's rate (added p99 vs direct);
// memory per idle HTTP/2 connection (1k, 10k) on fresh instances of nginx and
// both gateways; `node bench/discovery.ts` once everything else has stopped.
// Every window also records how many cores other processes kept busy
// (machine-wide /proc/stat minus the system, the pods and h2load): on a shared
// machine that column says which figures are disturbed.
//
//   node bench/compare.ts [flags]
//     --seconds S        measured seconds per window (env BENCH_SECONDS; default 5)
//     --warmup S         h2load warm-up seconds before each window (default 1)
//     --runs R           runs; systems in rotating order per workload (env BENCH_RUNS; default 3)
//     --connections C    h2load connections for HTTP/2 rows (default 4)
//     --streams M        concurrent streams per connection (default 16); HTTP/1.1 rows use C×M connections, 1 request each
//     --stream-count N   messages per GreetStream call (default 100)
//     --big-bytes B      the large unary message's name length (default 16384)
//     --idle LIST        idle connection counts (default 1000,10000; with --seconds < 2: 1000)
//     --discovery | --no-discovery   run `node bench/discovery.ts` (~25 s) at the end (default: yes; with --seconds < 2: no)
//     --only LIST        workload keys to run (grpc-small,grpc-16k,connect-h2,connect-h1,grpcweb-h2,grpcweb-h1,json-h2,json-h1,stream; default all)
//     --skip LIST        any of nginx, node, deno, halfload, idle, discovery
//     --no-pin           no taskset even when there is one
//     --access-log       the gateways write their access log (one JSON line per call; default off, as nginx's)
//   Smoke run (~1.5 min): node bench/compare.ts --seconds 1 --runs 1
//   Default run (~15 min): node bench/compare.ts
import { writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ChildProcesses } from "./child-processes.ts";
import { probeKeepAlive } from "./http1-keepalive.ts";
import { type DiscoveryFigure, runDiscoveryBench, stopDiscoveryBench } from "./discovery-propagation.ts";
import { type H2loadResult, h2loadVersion, runH2load, stopRunningH2load } from "./h2load.ts";
import { type IdleFigures, measureIdleConnections } from "./idle-connections.ts";
import { cpuSeconds, machineBusySeconds, median, memoryKb, resetPeakRss } from "./measure.ts";
import { type Placement, type System, startPods, startSystems, taskset, versions } from "./systems.ts";
import { type SystemKey, type Workload, workloads } from "./workloads.ts";

const { values: flags } = parseArgs({
  options: {
    seconds: { type: "string", default: process.env.BENCH_SECONDS ?? "5" },
    warmup: { type: "string", default: "1" },
    runs: { type: "string", default: process.env.BENCH_RUNS ?? "3" },
    connections: { type: "string", default: "4" },
    streams: { type: "string", default: "16" },
    "stream-count": { type: "string", default: "100" },
    "big-bytes": { type: "string", default: "16384" },
    idle: { type: "string" },
    only: { type: "string", default: "" },
    skip: { type: "string", default: "" },
    "no-pin": { type: "boolean", default: false },
    "access-log": { type: "boolean", default: false },
    discovery: { type: "boolean" },
    "no-discovery": { type: "boolean" },
  },
});
const SECONDS = Number(flags.seconds);
const WARMUP = Number(flags.warmup);
const RUNS = Number(flags.runs);
const CONNECTIONS = Number(flags.connections);
const STREAMS = Number(flags.streams);
const CONCURRENCY = CONNECTIONS * STREAMS;
const list = (s: string) => s.split(",").map((x) => x.trim()).filter((x) => x !== "");
const SKIP = new Set(list(flags.skip));
// A smoke run (--seconds < 2) defaults to 1,000 idle connections only and no discovery bench.
const SMOKE = SECONDS < 2;
const IDLE_COUNTS = list(flags.idle ?? (SMOKE ? "1000" : "1000,10000")).map(Number);
if (flags["no-discovery"] === true || (flags.discovery === undefined && SMOKE)) SKIP.add("discovery");
if (h2loadVersion() === undefined) {
  console.error("npm run bench needs h2load as its load generator: apt-get install -y nghttp2-client (nginx rows also want nginx-light)");
  process.exit(1);
}
const pinned = !flags["no-pin"] && taskset();
const placement: Placement = pinned ? { sut: "0", load: "1" } : { sut: undefined, load: undefined };
const MAX_CONNECTIONS = Math.max(20_000, ...IDLE_COUNTS.map((n) => n + 2000));

/** One measured window of one workload on one system. */
interface Measurement {
  readonly run: number;
  readonly workload: string;
  readonly system: SystemKey;
  readonly order: number;
  readonly rpsPerClient: number | undefined;
  readonly h2load: H2loadResult;
  readonly cpuSeconds: number;
  readonly cpuPer10k: number;
  readonly peakRssKb: number;
  readonly peakRssReset: boolean;
  /** Cores busy over the window: the whole machine, and processes that are not the SUT, the pods or h2load (e.g. others' tests). */
  readonly machineBusyCores: number;
  readonly otherCores: number;
}

interface Summary {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuPer10k: number;
  readonly peakRssKb: number;
  readonly non2xx: number;
  readonly errored: number;
  readonly runs: number;
  readonly otherCores: number;
}

const children = new ChildProcesses();
let stopping = false;
/** The run's temp dir (configs, body files), removed on the way out. */
let workDir: string | undefined;
async function cleanUp(): Promise<void> {
  if (stopping) return;
  stopping = true;
  stopRunningH2load();
  await children.stopAllAndWait();
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping pods, gateways, nginx, h2load`);
    stopDiscoveryBench();
    void cleanUp()
      .then(() => (workDir === undefined ? undefined : rm(workDir, { recursive: true, force: true })))
      .then(() => process.exit(130));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) => (Number.isNaN(n) ? "?" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const pct = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) || b === 0 ? "—" : `${((a / b) * 100).toFixed(0)}%`);
const log = (line: string) => console.error(line);

async function measure(
  run: number,
  order: number,
  workload: Workload,
  system: System,
  bodyFile: string,
  rpsPerClient?: number,
): Promise<Measurement> {
  let cpuBefore = Number.NaN;
  let peakRssReset = false;
  let h2loadPid = 0;
  let h2loadBefore = 0;
  let podsBefore = 0;
  let busyBefore = Number.NaN;
  let windowStart = 0;
  let h2loadAfter = Number.NaN;
  const h2load = await runH2load({
    url: `http://127.0.0.1:${system.port}${workload.path}`,
    bodyFile,
    headers: workload.headers,
    h1: workload.h1,
    clients: workload.h1 ? CONCURRENCY : CONNECTIONS,
    streams: workload.h1 ? 1 : STREAMS,
    seconds: SECONDS,
    warmupSeconds: WARMUP,
    rpsPerClient,
    cpus: placement.load,
    onMeasuring: (pid) => {
      peakRssReset = resetPeakRss(system.pid);
      cpuBefore = cpuSeconds(system.pid);
      h2loadPid = pid;
      h2loadBefore = cpuSeconds(pid);
      podsBefore = system.key === "direct" ? 0 : cpuSeconds(podsPid);
      busyBefore = machineBusySeconds();
      windowStart = performance.now();
      // h2load's /proc entry is gone once it exits: sample it just before the window ends.
      setTimeout(() => (h2loadAfter = cpuSeconds(h2loadPid)), Math.max(0, SECONDS * 1000 - 50));
    },
  });
  const cpu = cpuSeconds(system.pid) - cpuBefore;
  const busy = machineBusySeconds() - busyBefore;
  const windowSeconds = (performance.now() - windowStart) / 1000;
  const pods = system.key === "direct" ? 0 : cpuSeconds(podsPid) - podsBefore;
  const h2loadCpu = Number.isNaN(h2loadAfter) ? 0 : h2loadAfter - h2loadBefore;
  const peakRssKb = memoryKb(system.pid, "VmHWM");
  const m: Measurement = {
    run,
    workload: workload.key,
    system: system.key,
    order,
    rpsPerClient,
    h2load,
    cpuSeconds: cpu,
    cpuPer10k: h2load.status2xx === 0 ? Number.NaN : (cpu / h2load.status2xx) * 10_000,
    peakRssKb,
    peakRssReset,
    machineBusyCores: busy / windowSeconds,
    otherCores: Math.max(0, busy - cpu - pods - h2loadCpu) / windowSeconds,
  };
  const bad = h2load.status2xx !== h2load.total || h2load.errored > 0 || h2load.failed > 0;
  log(
    `  run ${run + 1} ${workload.key.padEnd(11)} ${system.key.padEnd(13)} ${fmt(h2load.rate).padStart(7)} calls/s  p50 ${h2load.p50.toFixed(2)}  p99 ${h2load.p99.toFixed(2)} ms  ` +
      `cpu ${m.cpuPer10k.toFixed(2)} s/10k  hwm ${fmt(peakRssKb / 1024, 1)} MiB  busy ${m.machineBusyCores.toFixed(2)} other ${m.otherCores.toFixed(2)} cores${bad ? `  !! ${h2load.total} total, ${h2load.status2xx} 2xx, ${h2load.statusOther} non-2xx, ${h2load.failed} failed, ${h2load.errored} errored` : ""}`,
  );
  return m;
}

function summarize(ms: readonly Measurement[]): Summary | undefined {
  if (ms.length === 0) return undefined;
  return {
    rate: median(ms.map((m) => m.h2load.rate)),
    p50: median(ms.map((m) => m.h2load.p50)),
    p99: median(ms.map((m) => m.h2load.p99)),
    cpuPer10k: median(ms.map((m) => m.cpuPer10k)),
    peakRssKb: Math.max(...ms.map((m) => m.peakRssKb)),
    non2xx: ms.reduce((s, m) => s + m.h2load.total - m.h2load.status2xx, 0),
    errored: ms.reduce((s, m) => s + m.h2load.errored + m.h2load.failed + m.h2load.timeout, 0),
    runs: ms.length,
    otherCores: median(ms.map((m) => m.otherCores)),
  };
}

const started = new Date();
const dir = await mkdtemp(join(tmpdir(), "edgegate-compare-"));
workDir = dir;
const measurements: Measurement[] = [];
const halfLoad: Measurement[] = [];
const idle: Array<IdleFigures & { system: SystemKey }> = [];
const checkFailures: string[] = [];
const notes: string[] = [];
const probes = new Map<string, string>();
let discovery: DiscoveryFigure | string | undefined;
let exitCode = 0;
let systems: System[] = [];
let podsPid = 0;
const allWorkloads = workloads({ bigBytes: Number(flags["big-bytes"]), streamCount: Number(flags["stream-count"]) });
const only = new Set(list(flags.only));
const chosen = allWorkloads.filter((w) => only.size === 0 || only.has(w.key));

try {
  log(`edgegate compare: ${chosen.length} workloads × 4 systems × ${RUNS} runs × (${WARMUP}+${SECONDS}) s, pinned: ${pinned}`);
  const { pods, pid: podsProcess } = await startPods(children, 3, placement.load);
  podsPid = podsProcess;
  systems = await startSystems(children, { dir, pods, placement, maxConnections: MAX_CONNECTIONS, skip: SKIP, accessLog: flags["access-log"] });
  const live = systems.filter((s) => s.skipped === undefined);
  log(`pods ${pods.join(" ")}; ${live.map((s) => `${s.key} :${s.port} pid ${s.pid}`).join(", ")}`);

  // Body files, and the one real call per (workload, system) that must be right before any load.
  const bodyFiles = new Map<string, string>();
  const checked = new Set<string>();
  for (const w of chosen) {
    const file = join(dir, `${w.key}.body`);
    await writeFile(file, w.body);
    bodyFiles.set(w.key, file);
    for (const s of live) {
      if (w.notApplicable[s.key] !== undefined) continue;
      try {
        await w.check(`http://127.0.0.1:${s.port}`);
        checked.add(`${w.key}/${s.key}`);
      } catch (error) {
        const message = `CHECK FAILED: ${w.key} through ${s.key}: ${error instanceof Error ? error.message : String(error)}`;
        console.error(`\n!!! ${message}\n`);
        checkFailures.push(message);
        exitCode = 1;
      }
    }
  }

  for (let run = 0; run < RUNS; run++) {
    for (const [wi, w] of chosen.entries()) {
      const targets = live.filter((s) => checked.has(`${w.key}/${s.key}`));
      const shift = (run + wi) % Math.max(1, targets.length);
      const ordered = [...targets.slice(shift), ...targets.slice(0, shift)];
      for (const [order, s] of ordered.entries()) {
        measurements.push(await measure(run, order, w, s, bodyFiles.get(w.key) ?? ""));
        await sleep(300);
      }
    }
  }

  // gRPC small at half of edgegate-on-Node's rate: the latency each adds when not saturated.
  const grpcSmall = chosen.find((w) => w.key === "grpc-small");
  const nodeRate = summarize(measurements.filter((m) => m.workload === "grpc-small" && m.system === "edgegate-node"))?.rate;
  let halfRate: number | undefined;
  if (!SKIP.has("halfload") && grpcSmall !== undefined && nodeRate !== undefined && nodeRate > 0) {
    halfRate = Math.max(CONNECTIONS, Math.round(nodeRate / 2));
    const rpsPerClient = Math.max(1, Math.round(halfRate / CONNECTIONS));
    const targets = live.filter((s) => checked.has(`grpc-small/${s.key}`));
    for (let run = 0; run < RUNS; run++) {
      const shift = run % Math.max(1, targets.length);
      for (const [order, s] of [...targets.slice(shift), ...targets.slice(0, shift)].entries()) {
        halfLoad.push(await measure(run, order, grpcSmall, s, bodyFiles.get("grpc-small") ?? "", rpsPerClient));
        await sleep(300);
      }
    }
  }

  // Rows without a single answer over HTTP/1.1: does the server keep connections open (h2load --h1 never reconnects)?
  for (const w of chosen.filter((w) => w.h1)) {
    for (const s of live) {
      const ms = measurements.filter((m) => m.workload === w.key && m.system === s.key);
      if (ms.length > 0 && ms.every((m) => m.h2load.status2xx === 0)) {
        probes.set(`${w.key}/${s.key}`, await probeKeepAlive(s.port ?? 0, w.path, w.headers, w.body));
      }
    }
  }

  // Idle connections: fresh instances of nginx and both gateways (no call ever made through them), so the
  // figures are not blurred by heap left over from the load above; they stop again afterwards.
  if (!SKIP.has("idle") && IDLE_COUNTS.length > 0) {
    const idleSkip = new Set([...SKIP, "direct"]);
    const fresh = (await startSystems(children, { dir: join(dir, "idle"), pods, placement, maxConnections: MAX_CONNECTIONS, skip: idleSkip })).filter(
      (s) => s.skipped === undefined,
    );
    await sleep(2000);
    for (const s of fresh) {
      for (const n of IDLE_COUNTS) {
        log(`  idle: ${n} connections to a fresh ${s.key}`);
        try {
          idle.push({ system: s.key, ...(await measureIdleConnections(s.pid, s.port ?? 0, n, { cpus: placement.load, settleMs: 2000 })) });
        } catch (error) {
          notes.push(`idle ${n} to ${s.key} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  }

  await cleanUp(); // discovery runs alone on the machine
  if (!SKIP.has("discovery")) {
    log("  node bench/discovery.ts …");
    try {
      discovery = await runDiscoveryBench(180_000);
    } catch (error) {
      discovery = `failed: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  // ---------------------------------------------------------------------
  // Report
  const v = versions();
  const out: string[] = [];
  const p = (line = "") => out.push(line);
  const cpu = cpus();
  p(`# edgegate vs direct vs nginx (${started.toISOString()})`);
  p();
  p(`command: node bench/compare.ts ${process.argv.slice(2).join(" ")}`.trimEnd());
  p(`machine: ${cpu.length} × ${cpu[0]?.model ?? "?"}, ${process.platform}/${process.arch}`);
  p(`versions: node ${v.node}; ${v.deno}; ${v.nginx}; ${v.h2load}`);
  p(
    pinned
      ? "pinning (taskset): system under test on CPU 0 (the direct pod's own process, the nginx process, the gateway); h2load and the three pods (one Node process) on CPU 1"
      : "pinning: none (taskset missing or --no-pin): everything shares the cores",
  );
  p(
    `load: h2load, HTTP/2 rows ${CONNECTIONS} connections × ${STREAMS} streams = ${CONCURRENCY} concurrent; HTTP/1.1 rows ${CONCURRENCY} connections × 1 request; ` +
      `${WARMUP} s warm-up + ${SECONDS} s measured per window, ${RUNS} run(s), systems in rotating order per workload; figures are medians over runs`,
  );
  p(
    "systems: direct = one pod alone (connect-node h2c, its own process); nginx = grpc_pass to 3 pods (h2c, round robin, keepalive 256, 1 process, access_log off); " +
      `edgegate = 3 pods, round robin, access log ${flags["access-log"] ? "on" : "off"}, limits raised (maxConcurrentStreams 1000, maxConnections ` +
      `${MAX_CONNECTIONS}, headersTimeout 10m, idleTimeout 30m), JSON schema from a descriptor set`,
  );
  p(
    "columns: calls/s = 2xx answers/s; p50/p99 from h2load's per-request log (2xx only); CPU = system's utime+stime s per 10k calls over the measured window; " +
      "peak RSS = VmHWM, reset before each window (max over runs); bad = non-2xx + failed/errored/timed-out requests summed over runs; " +
      "other load = cores busy with anything but the system, the pods and h2load (machine-wide /proc/stat), median over runs",
  );
  const all = [...measurements, ...halfLoad];
  const others = all.map((m) => m.otherCores).sort((a, b) => a - b);
  p(
    `other load: CPU used during the measured windows by processes other than the system under test, the pods and h2load: ` +
      `median ${median(others).toFixed(2)} cores, max ${(others.at(-1) ?? Number.NaN).toFixed(2)} of ${cpus().length} (per window in the JSON; > 0.1 means the figures are disturbed)`,
  );
  p();
  p("| workload | system | calls/s | msgs/s | p50 ms | p99 ms | CPU s/10k | peak RSS MiB | bad | other load, cores |");
  p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  const summaries = new Map<string, Summary>();
  for (const w of chosen) {
    for (const s of systems) {
      const na = w.notApplicable[s.key];
      if (s.skipped !== undefined) {
        p(`| ${w.label} | ${s.label} | ${s.skipped} | | | | | | | |`);
        continue;
      }
      if (na !== undefined) {
        p(`| ${w.label} | ${s.label} | n/a: ${na} | | | | | | | |`);
        continue;
      }
      const sum = summarize(measurements.filter((m) => m.workload === w.key && m.system === s.key));
      if (sum === undefined) {
        p(`| ${w.label} | ${s.label} | not measured (check failed) | | | | | | | |`);
        continue;
      }
      if (sum.rate === 0) {
        const ms = measurements.filter((m) => m.workload === w.key && m.system === s.key);
        const h = ms[0]?.h2load;
        p(
          `| ${w.label} | ${s.label} | FAILED: 0 answers (run 1, h2load: ${h?.total ?? "?"} requests in the window, ${h?.failed ?? "?"} failed, ${h?.errored ?? "?"} errored` +
            `${h?.total === 0 ? "; every connection was dead by the end of the warm-up" : ""})` +
            `${probes.has(`${w.key}/${s.key}`) ? `; HTTP/1.1 keep-alive probe: ${probes.get(`${w.key}/${s.key}`)}` : ""} | | | | | | | |`,
        );
        continue;
      }
      summaries.set(`${w.key}/${s.key}`, sum);
      const msgs = w.messagesPerCall > 1 ? fmt(sum.rate * w.messagesPerCall) : "";
      p(
        `| ${w.label} | ${s.label} | ${fmt(sum.rate)} | ${msgs} | ${sum.p50.toFixed(2)} | ${sum.p99.toFixed(2)} | ${sum.cpuPer10k.toFixed(2)} | ${fmt(sum.peakRssKb / 1024, 1)} | ${sum.non2xx + sum.errored} | ${sum.otherCores.toFixed(2)} |`,
      );
    }
  }
  p();
  p("## Ratios (calls/s, medians)");
  p();
  p("| workload | edgegate Node / nginx | edgegate Node / direct | edgegate Deno / nginx | edgegate Deno / direct | Deno / Node |");
  p("|---|---:|---:|---:|---:|---:|");
  const rate = (w: string, s: SystemKey) => summaries.get(`${w}/${s}`)?.rate ?? Number.NaN;
  for (const w of chosen) {
    p(
      `| ${w.label} | ${pct(rate(w.key, "edgegate-node"), rate(w.key, "nginx"))} | ${pct(rate(w.key, "edgegate-node"), rate(w.key, "direct"))} | ` +
        `${pct(rate(w.key, "edgegate-deno"), rate(w.key, "nginx"))} | ${pct(rate(w.key, "edgegate-deno"), rate(w.key, "direct"))} | ${pct(rate(w.key, "edgegate-deno"), rate(w.key, "edgegate-node"))} |`,
    );
  }
  p();
  p(
    `Connect binary (h2) / gRPC small, calls/s: ` +
      (["direct", "nginx", "edgegate-node", "edgegate-deno"] as const).map((s) => `${s} ${pct(rate("connect-h2", s), rate("grpc-small", s))}`).join(", "),
  );
  p(
    "Note: nginx forwards Connect and gRPC-Web over h2 unchanged to the pods, which answer them natively (connect-node speaks all three); " +
      "edgegate translates them to gRPC towards the pods. The proxies' three pods share CPU 1 with h2load; the direct pod has CPU 0 to itself.",
  );

  if (halfLoad.length > 0 && halfRate !== undefined) {
    p();
    p(`## gRPC small at half of edgegate (Node)'s rate: ${fmt(halfRate)} calls/s offered (h2load --rps ${Math.round(halfRate / CONNECTIONS)} per connection × ${CONNECTIONS})`);
    p();
    p("| system | calls/s | p50 ms | p99 ms | added p50 vs direct ms | added p99 vs direct ms | CPU s/10k | bad | other load, cores |");
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    const direct = summarize(halfLoad.filter((m) => m.system === "direct"));
    for (const s of systems.filter((s) => s.skipped === undefined)) {
      const sum = summarize(halfLoad.filter((m) => m.system === s.key));
      if (sum === undefined) continue;
      const added = (a: number, b: number | undefined) => (s.key === "direct" || b === undefined ? "" : (a - b).toFixed(2));
      p(
        `| ${s.label} | ${fmt(sum.rate)} | ${sum.p50.toFixed(2)} | ${sum.p99.toFixed(2)} | ${added(sum.p50, direct?.p50)} | ${added(sum.p99, direct?.p99)} | ${sum.cpuPer10k.toFixed(2)} | ${sum.non2xx + sum.errored} | ${sum.otherCores.toFixed(2)} |`,
      );
    }
    p("(target: edgegate adds ≤ 1 ms p99 over direct at half load)");
  }

  if (idle.length > 0 || SKIP.has("idle")) {
    p();
    p("## Memory per idle client HTTP/2 connection");
    p();
    p("Measured on fresh instances (started after the load above, no call made through them; the 10k figure follows the 1k one in the same process). Each connection sends the client preface + an empty SETTINGS (and ACKs the server's SETTINGS), then nothing; the clients live in a separate process on CPU 1. KB = (VmRSS after − before) / open connections, RSS read once it moved < 0.5% over 500 ms (≥ 2 s after the last connection was up).");
    p();
    p("| system | connections | open at reading | failed | RSS before MiB | RSS after MiB | KB per connection |");
    p("|---|---:|---:|---:|---:|---:|---:|");
    for (const f of idle) {
      p(`| ${f.system} | ${fmt(f.connections)} | ${fmt(f.openAtReading)} | ${f.failed} | ${fmt(f.rssBeforeKb / 1024, 1)} | ${fmt(f.rssAfterKb / 1024, 1)} | ${f.kbPerConnection.toFixed(1)} |`);
    }
    if (SKIP.has("idle")) p("(skipped: --skip idle)");
  }

  p();
  p("## Discovery propagation");
  p();
  if (discovery === undefined) {
    p("not run (smoke run, --skip discovery or --no-discovery): run `npm run bench:discovery` (`node bench/discovery.ts`, ~25 s) for it.");
  } else if (typeof discovery === "string") {
    p(`node bench/discovery.ts ${discovery}`);
  } else {
    p(
      `\`node bench/discovery.ts\` (run as a child after the systems above stopped, ${discovery.seconds.toFixed(0)} s; in-process fake kube-apiserver → informer → balancer, ` +
        `one process): pod added → first call answered by it: median ${discovery.medianMs} ms, p95 ${discovery.p95Ms} ms.`,
    );
    p(`row: ${discovery.row}`);
  }
  for (const f of checkFailures) p(`\n!!! ${f}`);
  for (const n of notes) p(`\nnote: ${n}`);

  const jsonFile = join(tmpdir(), `edgegate-compare-${started.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    jsonFile,
    JSON.stringify(
      { started: started.toISOString(), argv: process.argv.slice(2), versions: v, machine: `${cpu.length} × ${cpu[0]?.model}`, placement, systems, measurements, halfLoad, halfRate, idle, discovery, checkFailures, notes },
      null,
      2,
    ),
  );
  p();
  p(`raw per-run figures: ${jsonFile}`);
  console.log(out.join("\n"));
} catch (error) {
  if (!stopping) console.error(error); // after SIGINT, the killed h2load's error is expected
  exitCode = 1;
} finally {
  await cleanUp();
  await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
