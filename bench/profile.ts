// `npm run bench:profile`: where the gateway's CPU goes on the hot path.
// Starts three pods and `edgegate serve` under `--cpu-prof`, loads it with
// h2load (gRPC unary Greet, small message, h2c), stops it with SIGTERM so
// Node writes the profile, and prints the self time by function and by
// package or source folder.
//
//   node bench/profile.ts [--seconds 10] [--protocol grpc|connect] [--top 30] [--access-log]
//
// The access log is off unless asked for, as in `npm run bench`.
//
// The profile is left in a temporary directory (printed), to open in
// Chrome DevTools or speedscope.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { GreetRequestSchema } from "../src/gen/greet/v1/greet_pb.ts";
import { ChildProcesses } from "./child-processes.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    protocol: { type: "string", default: "grpc" },
    top: { type: "string", default: "30" },
    "access-log": { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const top = Number(values.top);
const grpc = values.protocol === "grpc";
const accessLog = values["access-log"];

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
}

/** Where a function lives: an npm package, a folder of ours, or the runtime. */
function ownerOf(url: string): string {
  if (url === "") return "(runtime / native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1] !== undefined) return pkg[1];
  const ours = /\/src\/(.+)\/[^/]+$/.exec(url);
  if (ours?.[1] !== undefined) return `src/${ours[1]}`;
  if (url.startsWith("node:")) return url.replace(/^node:(internal\/)?/, "node:").replace(/\/.*$/, "");
  return url;
}

function summarize(profile: CpuProfile): string[] {
  const total = profile.samples.length;
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  for (const node of profile.nodes) {
    const n = hits.get(node.id) ?? 0;
    if (n === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(node_modules|src)\//, "$1/");
    const key = `${functionName || "(anonymous)"}  ${file}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + n);
    const owner = ownerOf(url);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + n);
  }
  const pct = (n: number) => `${((100 * n) / total).toFixed(1).padStart(5)}%`;
  const lines = [`${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`, "", "self time by package or source folder:"];
  for (const [owner, n] of [...byOwner].sort((a, b) => b[1] - a[1]).slice(0, 20)) lines.push(`  ${pct(n)}  ${owner}`);
  lines.push("", `self time by function (top ${top}):`);
  for (const [fn, n] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(n)}  ${fn}`);
  return lines;
}

function h2load(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("h2load", args, { maxBuffer: 1 << 24 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
}

const children = new ChildProcesses();
try {
  const dir = await mkdtemp(join(tmpdir(), "edgegate-profile-"));
  const { match: podsMatch } = await children.start(["bench/pods.ts", "3"], /^(\[.*\])$/);
  const pods = JSON.parse(podsMatch[1] ?? "[]") as string[];
  const config = join(dir, "gateway.yaml");
  await writeFile(
    config,
    `listeners:\n  - address: 127.0.0.1:0\nlimits:\n  maxConnections: 100000\n  maxConcurrentStreams: 1000\naccessLog:\n  enabled: ${accessLog}\n` +
      `routes:\n  - backend: greet\n` +
      `backends:\n  - name: greet\n    discovery:\n      static:\n        endpoints: ${JSON.stringify(pods)}\n`,
  );
  const { match, pid } = await children.start(
    ["--cpu-prof", "--cpu-prof-dir", dir, "bin/edgegate.js", "serve", "--config", config],
    /"listeners":\["127\.0\.0\.1:(\d+)"\]/,
  );
  const url = `http://127.0.0.1:${match[1]}/greet.v1.GreetService/Greet`;
  const message = toBinary(GreetRequestSchema, create(GreetRequestSchema, { name: "bench" }));
  const body = grpc ? new Uint8Array([0, 0, 0, 0, message.byteLength, ...message]) : message;
  const bodyFile = join(dir, "body.bin");
  await writeFile(bodyFile, body);
  const headers = grpc
    ? ["-H", "content-type: application/grpc", "-H", "te: trailers"]
    : ["-H", "content-type: application/proto", "-H", "connect-protocol-version: 1"];
  const out = await h2load(["-c", "4", "-m", "16", "-t", "1", "-D", String(seconds), "--warm-up-time", "2", "-d", bodyFile, ...headers, url]);
  console.log(out.split("\n").filter((l) => /finished in|requests:|status codes/.test(l)).join("\n"));
  process.kill(pid, "SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const file = (await readdir(dir)).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no profile written in ${dir}`);
  const profile = JSON.parse(await readFile(join(dir, file), "utf8")) as CpuProfile;
  console.log(`\n${values.protocol} unary Greet through edgegate, 4 connections × 16 streams, ${seconds} s; profile: ${join(dir, file)}\n`);
  console.log(summarize(profile).join("\n"));
} finally {
  children.stopAll();
}
