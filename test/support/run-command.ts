import { execFile } from "node:child_process";

/** How a finished command ended, and what it printed. */
export interface CommandResult {
  /** The exit code (0 on success). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end and resolves with its exit code and output,
 * whatever the code (the test asserts on it). Rejects only when the command
 * could not run or did not end by itself (not found, killed at the timeout),
 * saying which command and why.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { readonly cwd?: string; readonly timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 20_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        reject(new Error(`${file} ${args.join(" ")} failed to run: ${error.message}\n${stderr}`));
        return;
      }
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}
