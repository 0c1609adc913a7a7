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

/** The repository root, where a user runs `edgegate` (relative paths in what it prints resolve from here). */
const root = join(import.meta.dirname, "../..");

/** How long a gateway process may take to log "edgegate started" (Deno compiles the sources on a cold cache). */
const START_TIMEOUT_MS = 30_000;

/** Writes a config to a temporary file (JSON, which is YAML) for `edgegate serve --config`. */
export async function writeConfigFile(config: unknown): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "edgegate-process-")), "gateway.yaml");
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

/** An `edgegate` process that has printed the line a test waited for. */
export interface StartedCommand {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** The line that was waited for. */
  readonly line: string;
}

/**
 * Runs `edgegate ARGS` on the runtime from the repository root, appending
 * every line it writes (stdout and stderr) to `logs`, and resolves once a line
 * passes `ready`. Rejects with its output when it exits first or takes longer
 * than START_TIMEOUT_MS (and kills it then).
 */
export async function startEdgegateUntil(
  args: readonly string[],
  ready: (line: string) => boolean,
  runtime: GatewayRuntime = gatewayRuntime,
  logs: string[] = [],
): Promise<StartedCommand> {
  const command = edgegateCommand(args, runtime);
  const child = spawn(command.file, command.args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const what = `edgegate ${args[0] ?? ""} (${runtime})`;
  const started = new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      logs.push(line);
      if (ready(line)) resolve(line);
    };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", onLine);
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", onLine);
    void exited.then((code) => reject(new Error(`${what} exited with ${code} before starting:\n${logs.join("\n")}`)));
    setTimeout(() => reject(new Error(`${what} did not start in ${START_TIMEOUT_MS} ms:\n${logs.join("\n")}`)), START_TIMEOUT_MS).unref();
  });
  try {
    return { child, exited, line: await started };
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
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
  const { child, exited, line: started } = await startEdgegateUntil(
    ["serve", "--config", configFile, "--log-level", "debug"],
    (line) => line.includes('"msg":"edgegate started"'),
    runtime,
    logs,
  );
  const line = JSON.parse(started) as Record<string, unknown>;
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
