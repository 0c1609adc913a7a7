import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { HostPort } from "../../src/config/gateway-config.ts";
import { parseHostPort } from "../../src/config/parse-host-port.ts";
import { edgegateCommand, type GatewayRuntime, gatewayRuntime } from "./gateway-runtime.ts";

/** An `edgegate serve` process the tests started, and what it wrote. */
export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly listeners: readonly HostPort[];
  readonly admin: HostPort | undefined;
  /** Every line it wrote to stdout and stderr so far (JSON log lines, and the runtime's own warnings). */
  readonly logs: string[];
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Set once it is being stopped (`stopGatewayProcess`, or a test that signals it itself): an exit before that is a crash, and is reported. */
  stopping: boolean;
}

/** How long a gateway process may take to log "edgegate started" (Deno compiles the sources on a cold cache). */
const START_TIMEOUT_MS = 30_000;

/** Writes a config to a temporary file (JSON, which is YAML) for `edgegate serve --config`. */
export async function writeConfigFile(config: unknown): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "edgegate-process-")), "gateway.yaml");
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

/**
 * Runs `edgegate serve --config FILE --log-level debug` on the runtime,
 * resolving once it has logged the addresses it listens on; its lines are
 * appended to `logs`. Rejects with its
 * output when it exits first or does not start in time.
 */
export async function startGatewayProcess(
  configFile: string,
  runtime: GatewayRuntime = gatewayRuntime,
  logs: string[] = [],
): Promise<GatewayProcess> {
  const command = edgegateCommand(["serve", "--config", configFile, "--log-level", "debug"], runtime);
  const child = spawn(command.file, command.args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    const onLine = (line: string) => {
      logs.push(line);
      if (line.includes('"msg":"edgegate started"')) {
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", onLine);
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", onLine);
    void exited.then((code) => reject(new Error(`edgegate (${runtime}) exited with ${code} before starting:\n${logs.join("\n")}`)));
    setTimeout(() => reject(new Error(`edgegate (${runtime}) did not start in ${START_TIMEOUT_MS} ms:\n${logs.join("\n")}`)), START_TIMEOUT_MS).unref();
  });
  let line: Record<string, unknown>;
  try {
    line = await started;
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  const listeners = (line.listeners as string[]).map((a) => parseHostPort(a, { allowZero: true }));
  const admin = typeof line.admin === "string" ? parseHostPort(line.admin, { allowZero: true }) : undefined;
  const gateway: GatewayProcess = { child, listeners, admin, logs, exited, stopping: false };
  void exited.then((code) => {
    if (!gateway.stopping) {
      // Calls to it now fail with ECONNREFUSED; say why, where the test's failure is read.
      console.error(`edgegate (${runtime}) exited with ${code} while the test was running; its last lines:\n${logs.slice(-5).join("\n")}`);
    }
  });
  return gateway;
}

/**
 * Stops a gateway process as a supervisor does: SIGTERM (a graceful
 * shutdown), then, when it has not exited after `patienceMs`, a second
 * SIGTERM (which stops it at once), then SIGKILL. Resolves with its exit code.
 */
export async function stopGatewayProcess(gateway: GatewayProcess, patienceMs: number): Promise<number | string> {
  if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) {
    return gateway.exited;
  }
  gateway.stopping = true;
  gateway.child.kill("SIGTERM");
  const later = (ms: number, then: () => void) => {
    const timer = setTimeout(then, ms);
    void gateway.exited.then(() => clearTimeout(timer));
  };
  later(patienceMs, () => gateway.child.kill("SIGTERM"));
  later(patienceMs + 2_000, () => gateway.child.kill("SIGKILL"));
  return gateway.exited;
}
