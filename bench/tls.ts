// `npm run bench:tls`: what TLS termination costs at the gateway, in one run.
//  (a) handshake rate of the TLS listener: a new TCP connection and a full
//      TLS handshake each (SNI, verified against the CA, no session
//      resumption), `handshakeConcurrency` at a time;
//  (b) unary gRPC calls per second through the gateway over TLS (ALPN h2) vs
//      over cleartext h2c: same client, same pods, one connection each.
// Pods and the gateway run in their own processes; the load generator is this
// process. Everything shares the machine's cores, so the figures are relative.
//
//   node bench/tls.ts [seconds=5] [handshakeConcurrency=16] [callConcurrency=32]
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GreetService } from "../src/gen/greet/v1/greet_pb.ts";
import { createTestPki } from "../test/support/test-pki.ts";
import { loopbackLookup } from "../test/support/loopback-lookup.ts";
import { ChildProcesses, startPodsAndGateway } from "./child-processes.ts";
import { cpuSeconds, percentile } from "./measure.ts";
import { iterateEveryClientBodyFromTheStart } from "../src/adapter/node/iterate-body-from-the-start.ts";

// The load generator runs on Node 24.21, whose connect-node clients fail a complete response read
// late with "Premature close" (nodejs/node#65677); see iterateBodyFromTheStart.
iterateEveryClientBodyFromTheStart();

const seconds = Number(process.argv[2] ?? "5");
const handshakeConcurrency = Number(process.argv[3] ?? "16");
const callConcurrency = Number(process.argv[4] ?? "32");
const HOST = "bench.example.test";
const children = new ChildProcesses();

function percentileText(sorted: readonly number[], p: number): string {
  return percentile(sorted, p).toFixed(2);
}

interface Row {
  readonly what: string;
  /** Operations that succeeded; only these count in the rate and the percentiles. */
  readonly count: number;
  readonly failed: number;
  /** The first failure's message, if any. */
  readonly firstFailure: string | undefined;
  readonly rate: number;
  readonly unit: string;
  readonly p50: string;
  readonly p99: string;
  /** Gateway CPU used per wall-clock second (1.00 = one core busy). */
  readonly gatewayCores: string;
  /** CPU of this process (the load generator) per wall-clock second. */
  readonly clientCores: string;
}

/**
 * Runs `body` (one operation, resolving to its latency in ms) in
 * `concurrency` workers for `seconds`, and the CPU the gateway and this
 * process used over the same window. A failed operation is counted, not
 * timed, and the run goes on: a benchmark reports failures, it does not stop
 * at the first.
 */
async function measure(
  what: string,
  unit: string,
  concurrency: number,
  gatewayPid: number,
  body: () => Promise<number>,
): Promise<Row> {
  const latencies: number[] = [];
  let failed = 0;
  let firstFailure: string | undefined;
  const until = performance.now() + seconds * 1000;
  async function worker() {
    while (performance.now() < until) {
      try {
        latencies.push(await body());
      } catch (error) {
        failed += 1;
        firstFailure ??= error instanceof Error ? error.message : String(error);
      }
    }
  }
  const gatewayBefore = cpuSeconds(gatewayPid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const gatewayCpu = cpuSeconds(gatewayPid) - gatewayBefore;
  const clientCpu = process.cpuUsage(clientBefore);
  latencies.sort((a, b) => a - b);
  return {
    what,
    count: latencies.length,
    failed,
    firstFailure,
    rate: Math.round(latencies.length / elapsed),
    unit,
    p50: percentileText(latencies, 0.5),
    p99: percentileText(latencies, 0.99),
    gatewayCores: Number.isNaN(gatewayCpu) ? "?" : (gatewayCpu / elapsed).toFixed(2),
    clientCores: ((clientCpu.user + clientCpu.system) / 1e6 / elapsed).toFixed(2),
  };
}

interface Handshake {
  readonly ms: number;
  readonly reused: boolean;
  readonly protocol: string | null;
  readonly cipher: string;
  readonly alpn: string | false;
}

/**
 * One new TCP connection and one full TLS handshake, timed from `connect` to
 * `secureConnect` (so it includes the TCP round trip, which is tiny on
 * loopback). No `session` is passed, so nothing can be resumed: Node's TLS
 * client only resumes a session it is handed. The socket is then destroyed.
 */
function handshake(port: number, ca: string): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = tls.connect({ host: "127.0.0.1", port, servername: HOST, ca, ALPNProtocols: ["h2"] }, () => {
      const result: Handshake = {
        ms: performance.now() - started,
        reused: socket.isSessionReused(),
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        alpn: socket.alpnProtocol ?? false,
      };
      socket.destroy();
      resolve(result);
    });
    socket.once("error", reject);
  });
}

async function unary(name: string, transport: Transport, gatewayPid: number): Promise<Row> {
  const client = createClient(GreetService, transport);
  for (let i = 0; i < 200; i++) {
    await client.greet({ name: "warmup" }); // warm up the connection, the pods' sessions and the JIT
  }
  return measure(name, "calls/s", callConcurrency, gatewayPid, async () => {
    const started = performance.now();
    await client.greet({ name: "bench" });
    return performance.now() - started;
  });
}

const dir = await mkdtemp(join(tmpdir(), "edgegate-bench-tls-"));
try {
  const pki = await createTestPki();
  const files = await pki.writeFiles(dir, "bench", await pki.issue([HOST]));
  const { ports, pid: gatewayPid } = await startPodsAndGateway(children, join(dir, "bench.yaml"), {
    listeners: [
      "  - address: 127.0.0.1:0",
      "  - address: 127.0.0.1:0",
      `    tls: { certificates: [{ certFile: ${JSON.stringify(files.certFile)}, keyFile: ${JSON.stringify(files.keyFile)} }] }`,
    ],
  });
  const [cleartextPort = 0, tlsPort = 0] = ports;
  const ca = pki.ca.certPem;

  // (a) Handshakes. A short warm-up first (JIT, and the gateway's per-certificate context cache).
  const first = await handshake(tlsPort, ca);
  for (let i = 0; i < 200; i++) await handshake(tlsPort, ca);
  let reused = 0;
  const handshakes = await measure(
    `TLS handshakes, new connection each (${first.protocol ?? "?"}, ${first.cipher}, ECDSA P-256 leaf), ${handshakeConcurrency} concurrent`,
    "handshakes/s",
    handshakeConcurrency,
    gatewayPid,
    async () => {
      const result = await handshake(tlsPort, ca);
      if (result.reused) reused += 1;
      return result.ms;
    },
  );
  if (reused > 0 || first.alpn !== "h2") {
    throw new Error(`expected full handshakes with ALPN h2, got ${reused} resumed, ALPN ${String(first.alpn)}`);
  }

  // (b) Unary calls, the same connect-node gRPC client over TLS and over h2c (one HTTP/2 connection each).
  const nodeOptions = { ca, lookup: loopbackLookup };
  const overTls = await unary(
    `unary gRPC over TLS (ALPN h2), ${callConcurrency} concurrent, one connection`,
    createGrpcTransport({ baseUrl: `https://${HOST}:${tlsPort}`, nodeOptions }),
    gatewayPid,
  );
  const overH2c = await unary(
    `unary gRPC over h2c, ${callConcurrency} concurrent, one connection`,
    createGrpcTransport({ baseUrl: `http://${HOST}:${cleartextPort}`, nodeOptions }),
    gatewayPid,
  );

  const rows = [handshakes, overTls, overH2c];
  console.log(`\nedgegate TLS listener, ${seconds}s per row, 3 pods (static discovery)`);
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, node ${process.version}, ${process.platform}/${process.arch}, ${new Date().toISOString()}`,
  );
  console.log(`handshakes resumed: ${reused} of ${handshakes.count} (expected 0)\n`);
  console.log("| What | done | failed | rate | p50 ms | p99 ms | gateway CPU (cores) | gateway CPU µs per op | load generator CPU (cores) |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    const perOp = row.rate === 0 || row.gatewayCores === "?" ? "?" : Math.round((Number(row.gatewayCores) * 1e6) / row.rate);
    console.log(
      `| ${row.what} | ${row.count} | ${row.failed} | ${row.rate} ${row.unit} | ${row.p50} | ${row.p99} | ${row.gatewayCores} | ${perOp} | ${row.clientCores} |`,
    );
  }
  for (const row of rows.filter((r) => r.failed > 0)) {
    console.log(`\n${row.failed} failed in "${row.what}", the first: ${row.firstFailure ?? "?"}`);
  }
  const ratio = overH2c.rate === 0 ? 0 : overTls.rate / overH2c.rate;
  console.log(`\nTLS / h2c unary throughput: ${(ratio * 100).toFixed(0)}%`);
} finally {
  children.stopAll();
  await rm(dir, { recursive: true, force: true });
}
