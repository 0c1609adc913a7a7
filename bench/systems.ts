// The systems under test, each started once and kept running: one pod alone
// (direct, the limit), nginx grpc_pass, edgegate on Node and edgegate on Deno,
// the three proxies in front of the same three pods.
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { benchGatewayYaml, type ChildProcesses } from "./child-processes.ts";
import { findNginx, nginxVersion, startNginx } from "./nginx.ts";
import type { SystemKey } from "./workloads.ts";

const root = new URL("..", import.meta.url).pathname;
export const DENO = join(root, "node_modules/deno/deno");

export interface System {
  readonly key: SystemKey;
  readonly label: string;
  /** Undefined when skipped. */
  readonly port: number | undefined;
  readonly pid: number;
  /** Why the system is not measured, shown in its rows. */
  readonly skipped: string | undefined;
}

export interface Placement {
  /** `taskset -c` CPU list of the system under test; undefined: not pinned. */
  readonly sut: string | undefined;
  /** CPU list of the load generator and the three pods. */
  readonly load: string | undefined;
}

export function taskset(): boolean {
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Starts the three pods (one process, bench/pods.ts) the proxies share. */
export async function startPods(children: ChildProcesses, count: number, cpus: string | undefined): Promise<{ pods: string[]; pid: number }> {
  const { match, pid } = await children.startCommand(process.execPath, ["bench/pods.ts", String(count)], /^(\[.*\])$/, { cpus });
  return { pods: JSON.parse(match[1] ?? "[]") as string[], pid };
}

/** The gateway's config for the benchmark: limits raised, access log off unless asked for (nginx runs with access_log off). */
export function gatewayConfig(pods: readonly string[], descriptorSet: string, maxConnections: number, accessLog = false): string {
  return benchGatewayYaml(pods, {
    listeners: ["  - address: 127.0.0.1:0"],
    backend: ["    schemas:", "      reflection: false", `      descriptorSets: [${JSON.stringify(descriptorSet)}]`],
    top: [
      "limits:",
      "  maxConcurrentStreams: 1000",
      `  maxConnections: ${maxConnections}`,
      "  headersTimeout: 10m",
      "  idleTimeout: 30m",
      "accessLog:",
      `  enabled: ${accessLog}`,
    ],
  });
}

/** `buf build` of proto/ (the pods serve no reflection; the gateway's schema for JSON comes from this file). */
export function buildDescriptorSet(out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(join(root, "node_modules/.bin/buf"), ["build", "proto", "-o", out], { cwd: root }, (error, _stdout, stderr) =>
      error === null ? resolve() : reject(new Error(`buf build failed: ${error.message}\n${stderr}`)),
    );
  });
}

const STARTED = /"listeners":\["127\.0\.0\.1:(\d+)"\]/;

export async function startSystems(
  children: ChildProcesses,
  options: {
    readonly dir: string;
    readonly pods: readonly string[];
    readonly placement: Placement;
    readonly maxConnections: number;
    /** The gateway's access log (off by default, as nginx runs with access_log off). */
    readonly accessLog?: boolean;
    readonly skip: ReadonlySet<string>;
  },
): Promise<System[]> {
  const { dir, pods, placement, skip } = options;
  await mkdir(dir, { recursive: true });
  const descriptorSet = join(dir, "greet.binpb");
  await buildDescriptorSet(descriptorSet);
  const configFile = join(dir, "edgegate.yaml");
  await writeFile(configFile, gatewayConfig(pods, descriptorSet, options.maxConnections, options.accessLog));
  const skipped = (key: SystemKey, label: string, reason: string): System => ({ key, label, port: undefined, pid: 0, skipped: reason });

  const systems: System[] = [];
  if (skip.has("direct")) {
    systems.push(skipped("direct", "direct (1 pod)", "skipped"));
  } else {
    // Direct: a pod of its own, in its own process on the system-under-test CPU (the proxies' three pods share the load CPU).
    const { match, pid } = await children.startCommand(process.execPath, ["bench/pods.ts", "1"], /^\["127\.0\.0\.1:(\d+)"\]$/, { cpus: placement.sut });
    systems.push({ key: "direct", label: "direct (1 pod)", port: Number(match[1]), pid, skipped: undefined });
  }
  const nginx = findNginx();
  if (skip.has("nginx")) {
    systems.push(skipped("nginx", "nginx grpc_pass", "skipped (--skip nginx)"));
  } else if (nginx === undefined) {
    systems.push(skipped("nginx", "nginx grpc_pass", "skipped: nginx not installed (apt-get install -y nginx-light)"));
  } else {
    const { port, pid } = await startNginx(children, nginx, join(dir, "nginx"), pods, { cpus: placement.sut, maxConnections: options.maxConnections });
    systems.push({ key: "nginx", label: "nginx grpc_pass", port, pid, skipped: undefined });
  }
  if (skip.has("node")) {
    systems.push(skipped("edgegate-node", "edgegate (Node)", "skipped (--skip node)"));
  } else {
    const { match, pid } = await children.startCommand(process.execPath, ["bin/edgegate.js", "serve", "--config", configFile], STARTED, {
      cpus: placement.sut,
    });
    systems.push({ key: "edgegate-node", label: "edgegate (Node)", port: Number(match[1]), pid, skipped: undefined });
  }
  if (skip.has("deno")) {
    systems.push(skipped("edgegate-deno", "edgegate (Deno)", "skipped (--skip deno)"));
  } else if (!existsSync(DENO)) {
    systems.push(skipped("edgegate-deno", "edgegate (Deno)", `skipped: no Deno at ${DENO} (npm ci)`));
  } else {
    const { match, pid } = await children.startCommand(
      DENO,
      ["run", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", "src/main.ts", "serve", "--config", configFile],
      STARTED,
      { cpus: placement.sut },
    );
    systems.push({ key: "edgegate-deno", label: "edgegate (Deno)", port: Number(match[1]), pid, skipped: undefined });
  }
  return systems;
}

export function versions(): Record<string, string> {
  const run = (file: string, args: string[]): string => {
    try {
      return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0]?.trim() ?? "?";
    } catch {
      return "not installed";
    }
  };
  const nginx = findNginx();
  return {
    node: process.version,
    deno: existsSync(DENO) ? run(DENO, ["--version"]) : "not installed",
    nginx: nginx === undefined ? "not installed" : nginxVersion(nginx),
    h2load: run("h2load", ["--version"]),
  };
}
