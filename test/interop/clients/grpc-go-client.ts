import { spawn } from "node:child_process";
import { buildGoBinaries, goBinaries } from "../stacks/go/build-go.ts";
import { type CaseOutcome, type InteropCase, type InteropClient, interopCases, type InteropTarget } from "./interop-client.ts";

/**
 * grpc-go as the client of the interop matrix (issue 14: grpc-go clients
 * got every error of a real pod as INTERNAL through the gateway, "server
 * closed the stream without sending trailers", while the suite, whose
 * clients were ours, stayed green). The client is a small Go program of
 * ours (stacks/go/client/main.go) on Debian's grpc-go 1.33, built with the
 * grpc-go pod by {@link buildGoBinaries}. It runs the README's cases, named
 * as grpc/grpc doc/interop-test-descriptions.md names them, each with its
 * own 10 s timeout, and prints one JSON line per case; this side turns the
 * lines into outcomes.
 */

/**
 * Builds the Go binaries (shared with the grpc-go stack, once per run) so
 * that `grpcGoClient.unavailable()` can answer synchronously. Await it in
 * `beforeAll`; a failing build with the Go packages installed rejects.
 */
export async function prepareGrpcGoClient(): Promise<void> {
  await buildGoBinaries();
}

/** Per case, on top of the client's own 10 s per case: its start and its end. */
const caseBudgetMs = 11_000;

export const grpcGoClient: InteropClient = {
  id: "grpc-go",
  cases: interopCases,
  unavailable,
  async run(target: InteropTarget, cases: readonly InteropCase[]): Promise<CaseOutcome[]> {
    const built = goBinaries();
    if (built === undefined || "unavailable" in built) {
      throw new Error(`the grpc-go client cannot run: ${unavailable()}`);
    }
    if (cases.length === 0) {
      return [];
    }
    const args = ["-addr", target.address, "-cases", cases.join(",")];
    if (target.tls !== undefined) {
      args.push("-ca", target.tls.caFile, "-server-name", target.tls.serverName);
    }
    const ran = await runClient(built.client, args, 5_000 + caseBudgetMs * cases.length);
    // By name, in the order printed (a case asked twice is printed twice).
    const printed = new Map<string, CaseOutcome[]>();
    for (const line of ran.stdout.split("\n")) {
      const outcome = parseLine(line);
      if (outcome !== undefined) {
        printed.set(outcome.case, [...(printed.get(outcome.case) ?? []), outcome]);
      }
    }
    return cases.map(
      (name) =>
        printed.get(name)?.shift() ?? {
          case: name,
          ok: false,
          detail: `the grpc-go client printed nothing for ${name} (${ran.end}); stderr: ${ran.stderr.trim() || "(empty)"}`,
        },
    );
  },
};

/** Why the client cannot run: the build's answer, once prepareGrpcGoClient() has settled. */
function unavailable(): string | undefined {
  const built = goBinaries();
  if (built === undefined) {
    return "prepareGrpcGoClient() has not run (or its build failed)";
  }
  return "unavailable" in built ? built.unavailable : undefined;
}

/** One JSON line of the client, when it is one: {"case","ok","detail"}. */
function parseLine(line: string): CaseOutcome | undefined {
  if (line.trim() === "") {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) {
    return undefined;
  }
  const { case: name, ok, detail } = value as Record<string, unknown>;
  if (typeof name !== "string" || !(interopCases as readonly string[]).includes(name) || typeof ok !== "boolean") {
    return undefined;
  }
  return { case: name as InteropCase, ok, detail: typeof detail === "string" ? detail : "" };
}

/**
 * Runs the client to its end (SIGKILL at `timeoutMs`), whatever its exit
 * code, with its output and how it ended, for the outcomes it left out.
 */
function runClient(
  file: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; end: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`the grpc-go client ${file} could not run: ${error.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const end = timedOut
        ? `killed after ${timeoutMs} ms`
        : code === 0
          ? "it exited 0"
          : `it exited ${code ?? signal}`;
      resolve({ stdout, stderr, end });
    });
  });
}
