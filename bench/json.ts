// `npm run bench:json`: what Connect JSON costs at the gateway. Unary calls
// per second through the gateway with the same connect-es Connect client,
// `useBinaryFormat: false` (JSON, transcoded by the gateway with the backend's
// schema, binary protobuf to the pod) vs `useBinaryFormat: true` (binary,
// passed through), over HTTP/1.1 and HTTP/2, one connection each.
// Pods and the gateway run in their own processes; the load generator is this
// process. Everything shares the machine's cores, so the figures are relative.
//
//   node bench/json.ts [seconds=5] [concurrency=32]
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as http from "node:http";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GreetService } from "../src/gen/greet/v1/greet_pb.ts";
import { ChildProcesses, startPodsAndGateway } from "./child-processes.ts";
import { cpuSeconds, percentile } from "./measure.ts";

const seconds = Number(process.argv[2] ?? "5");
const concurrency = Number(process.argv[3] ?? "32");
const WARMUP_CALLS = 1_000;
const root = new URL("..", import.meta.url).pathname;
const children = new ChildProcesses();

type HttpVersion = "1.1" | "2";
type Codec = "JSON" | "binary";

interface Row {
  readonly httpVersion: HttpVersion;
  readonly codec: Codec;
  readonly calls: number;
  readonly failed: number;
  readonly firstFailure: string | undefined;
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  /** Gateway CPU µs per successful call; NaN without /proc. */
  readonly gatewayUsPerCall: number;
}

/** The same connect-es Connect transport either way; only the codec differs. One connection. */
function transport(baseUrl: string, httpVersion: HttpVersion, codec: Codec): Transport {
  const common = { baseUrl, useBinaryFormat: codec === "binary", acceptCompression: [] };
  return httpVersion === "2"
    ? createConnectTransport({ ...common, httpVersion: "2" })
    : createConnectTransport({
        ...common,
        httpVersion: "1.1",
        nodeOptions: { agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) },
      });
}

type Greeter = Client<typeof GreetService>;

/** One client per (HTTP version, codec), checked and warmed up (sessions, JIT, the gateway's schema). */
async function prepare(baseUrl: string, httpVersion: HttpVersion, codec: Codec): Promise<Greeter> {
  const client = createClient(GreetService, transport(baseUrl, httpVersion, codec));
  const check = await client.greet({ name: "check" });
  if (check.greeting !== "Hello, check!") {
    throw new Error(`unexpected answer through the gateway: ${JSON.stringify(check)}`);
  }
  let warm = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (warm++ < WARMUP_CALLS) await client.greet({ name: "warmup" });
    }),
  );
  return client;
}

interface Window {
  readonly latencies: number[];
  readonly failed: number;
  readonly firstFailure: string | undefined;
  readonly elapsed: number;
  readonly gatewayCpu: number;
}

/**
 * Runs `concurrency` workers calling Greet for `windowSeconds`, measuring
 * latencies and the gateway's CPU over the window. A failed call is
 * counted, not timed.
 */
async function measure(client: Greeter, windowSeconds: number, gatewayPid: number): Promise<Window> {
  const latencies: number[] = [];
  let failed = 0;
  let firstFailure: string | undefined;
  const until = performance.now() + windowSeconds * 1000;
  async function worker() {
    while (performance.now() < until) {
      const started = performance.now();
      try {
        await client.greet({ name: "bench" });
        latencies.push(performance.now() - started);
      } catch (error) {
        failed += 1;
        firstFailure ??= error instanceof Error ? error.message : String(error);
      }
    }
  }
  const gatewayBefore = cpuSeconds(gatewayPid);
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const gatewayCpu = cpuSeconds(gatewayPid) - gatewayBefore;
  return { latencies, failed, firstFailure, elapsed, gatewayCpu };
}

/** A row from its windows: rate over their summed time, percentiles over all their calls. */
function row(httpVersion: HttpVersion, codec: Codec, windows: readonly Window[]): Row {
  const latencies = windows.flatMap((w) => w.latencies).sort((a, b) => a - b);
  const elapsed = windows.reduce((sum, w) => sum + w.elapsed, 0);
  const gatewayCpu = windows.reduce((sum, w) => sum + w.gatewayCpu, 0);
  return {
    httpVersion,
    codec,
    calls: latencies.length,
    failed: windows.reduce((sum, w) => sum + w.failed, 0),
    firstFailure: windows.find((w) => w.firstFailure !== undefined)?.firstFailure,
    rate: Math.round(latencies.length / elapsed),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    gatewayUsPerCall: latencies.length === 0 ? Number.NaN : (gatewayCpu * 1e6) / latencies.length,
  };
}

function buildDescriptorSet(out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(join(root, "node_modules/.bin/buf"), ["build", "proto", "-o", out], { cwd: root }, (error, _stdout, stderr) =>
      error === null ? resolve() : reject(new Error(`buf build failed: ${error.message}\n${stderr}`)),
    );
  });
}

const dir = await mkdtemp(join(tmpdir(), "edgegate-bench-json-"));
try {
  // bench/pods.ts pods serve greet.v1 without reflection: the gateway's schema comes from a descriptor set.
  const descriptorSet = join(dir, "greet.binpb");
  await buildDescriptorSet(descriptorSet);
  const { ports, pid: gatewayPid } = await startPodsAndGateway(children, join(dir, "bench.yaml"), {
    listeners: ["  - address: 127.0.0.1:0"],
    backend: ["    schemas:", "      reflection: false", `      descriptorSets: [${JSON.stringify(descriptorSet)}]`],
  });
  const gateway = `http://127.0.0.1:${ports[0]}`;

  // Every client is warmed up before any is measured; each row is then two
  // windows of half the time, in A B B A order, so drift over the run (JIT,
  // the machine) weighs on both codecs alike.
  const configs = (["2", "1.1"] as const).flatMap((httpVersion) =>
    (["binary", "JSON"] as const).map((codec) => ({ httpVersion, codec })),
  );
  const clients = [];
  for (const c of configs) {
    clients.push({ ...c, client: await prepare(gateway, c.httpVersion, c.codec), windows: [] as Window[] });
  }
  for (const pass of [clients, [...clients].reverse()]) {
    for (const c of pass) {
      c.windows.push(await measure(c.client, seconds / 2, gatewayPid));
    }
  }
  const rows = clients.map((c) => row(c.httpVersion, c.codec, c.windows));

  console.log(
    `\nConnect unary Greet through edgegate (3 pods, static discovery), connect-es Connect client, ` +
      `${concurrency} concurrent calls on one connection, ${seconds}s per row ` +
      `(two windows, A B B A order) after ${WARMUP_CALLS} warm-up calls per client`,
  );
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, node ${process.version}, ${process.platform}/${process.arch}, ${new Date().toISOString()}`,
  );
  console.log("(HTTP/1.1 has no multiplexing: the 32 calls queue for the one socket, one in flight at a time.)\n");
  console.log("| HTTP | codec | calls/s | p50 ms | p99 ms | gateway CPU µs/call | JSON / binary calls/s | failed |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    const binary = rows.find((r) => r.httpVersion === row.httpVersion && r.codec === "binary");
    const ratio = row.codec === "JSON" && binary !== undefined && binary.rate > 0 ? `${((row.rate / binary.rate) * 100).toFixed(0)}%` : "";
    const cpu = Number.isNaN(row.gatewayUsPerCall) ? "?" : Math.round(row.gatewayUsPerCall).toString();
    console.log(
      `| ${row.httpVersion} | ${row.codec} | ${row.rate} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${cpu} | ${ratio} | ${row.failed} |`,
    );
  }
  for (const row of rows.filter((r) => r.failed > 0)) {
    console.log(`\n${row.failed} failed (HTTP/${row.httpVersion}, ${row.codec}), the first: ${row.firstFailure ?? "?"}`);
  }
} finally {
  children.stopAll();
  await rm(dir, { recursive: true, force: true });
}
