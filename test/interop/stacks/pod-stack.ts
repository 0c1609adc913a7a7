import { type ChildProcess, spawn } from "node:child_process";

/**
 * The gRPC server stacks the interop suite puts behind the gateway. Every
 * one serves the same `probe.v1.ProbeService` (proto/probe/v1/probe.proto)
 * with the behaviour of the reference pod (test/support/probe-service.ts),
 * plus `grpc.health.v1.Health` (SERVING for "" and "probe.v1.ProbeService",
 * NOT_FOUND for any other name) and, where the stack has it, gRPC server
 * reflection. Issue 14: the suite once had only pods written here, and stayed
 * green while real grpc-go, grpc-js and Python pods broke through the gateway.
 */
export type StackId = "connect-node" | "grpc-js" | "grpc-go" | "python";

/** One running pod of a stack, listening on loopback. */
export interface StackPod {
  readonly stack: StackId;
  /** The pod name it answers with (`ProbeResponse.pod`). */
  readonly name: string;
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  close(): Promise<void>;
}

/** A stack the suite can run pods of. */
export interface PodStack {
  readonly id: StackId;
  /** Whether its pods answer gRPC server reflection (else the gateway is given `schemas`). */
  readonly reflection: boolean;
  /**
   * A descriptor set of probe.proto (and what it imports), for the
   * gateway's `backends[].schemas` when the stack has no reflection.
   */
  readonly schemas?: string;
  /**
   * Whether its pods can compress their answer per call when a request asks
   * (`ProbeRequest.response_compression`); some stacks compress only when
   * the request came compressed, or only per server.
   */
  readonly perCallResponseCompression: boolean;
  /** Why its pods cannot run on this machine (a missing package, say), or `undefined`. */
  unavailable(): string | undefined;
  /** Starts a pod named `name` on 127.0.0.1 and an ephemeral port. */
  start(name: string): Promise<StackPod>;
}

/**
 * Starts a pod process and resolves once it printed `listening on
 * 127.0.0.1:PORT` on stdout (its first line), which every stack's pod
 * program does. `close()` sends SIGTERM and waits for the exit (SIGKILL after
 * 2 s). A pod that exits before it listens rejects with its stderr.
 */
export function spawnPod(
  stack: StackId,
  name: string,
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<StackPod> {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${stack} pod ${name} did not listen within 20 s\n${stderr}`));
    }, 20_000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${stack} pod ${name} exited (${code ?? signal}) before it listened\n${stderr}`));
    });
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      stdout += chunk;
      const match = /listening on (127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.stdout?.removeAllListeners("data");
        child.stdout?.resume();
        resolve({ stack, name, address: match[1], close: () => stopChild(child) });
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 2_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
