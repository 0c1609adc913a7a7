// `npm run bench`: unary calls per second through the gateway vs directly to
// one pod, same client, same machine, one run. Pods and the gateway run in
// their own processes; the load generator is this process.
//
//   node bench/unary.ts [seconds=5] [concurrency=32]
import { mkdtemp, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { GreetService } from "../src/gen/greet/v1/greet_pb.ts";
import { ChildProcesses } from "./child-processes.ts";

const seconds = Number(process.argv[2] ?? "5");
const concurrency = Number(process.argv[3] ?? "32");
const children = new ChildProcesses();
const start = async (args: string[], ready: RegExp) => (await children.start(args, ready)).match;

async function load(name: string, transport: Transport) {
  const client = createClient(GreetService, transport);
  for (let i = 0; i < 200; i++) {
    await client.greet({ name: "warmup" }); // warm up sessions and the JIT
  }
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  async function worker() {
    while (performance.now() < until) {
      const start = performance.now();
      await client.greet({ name: "bench" });
      latencies.push(performance.now() - start);
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies[Math.floor(latencies.length * p)] ?? 0).toFixed(2);
  return { name, calls: latencies.length, rps: Math.round(latencies.length / elapsed), p50: pct(0.5), p99: pct(0.99) };
}

try {
  const [, podsJson] = await start(["bench/pods.ts", "3"], /^(\[.*\])$/);
  const pods = JSON.parse(podsJson ?? "[]") as string[];
  const dir = await mkdtemp(join(tmpdir(), "edgegate-bench-"));
  const config = join(dir, "bench.yaml");
  await writeFile(
    config,
    `listeners:\n  - address: 127.0.0.1:0\nroutes:\n  - backend: greet\nbackends:\n  - name: greet\n    discovery:\n      static:\n        endpoints: ${JSON.stringify(pods)}\n`,
  );
  const [, port] = await start(["bin/edgegate.js", "serve", "--config", config, ], /"listeners":\["127\.0\.0\.1:(\d+)"\]/);
  const gateway = `http://127.0.0.1:${port}`;
  const direct = `http://${pods[0]}`;
  const results = [
    await load("gRPC, direct to one pod", createGrpcTransport({ baseUrl: direct })),
    await load("gRPC, through edgegate", createGrpcTransport({ baseUrl: gateway })),
    await load("Connect h2, direct to one pod", createConnectTransport({ baseUrl: direct, httpVersion: "2" })),
    await load("Connect h2, through edgegate", createConnectTransport({ baseUrl: gateway, httpVersion: "2" })),
  ];
  console.log(`\nunary Greet, ${concurrency} concurrent calls on one HTTP/2 connection, ${seconds}s each`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, node ${process.version}, ${new Date().toISOString()}`);
  console.table(results);
} finally {
  children.stopAll();
}
