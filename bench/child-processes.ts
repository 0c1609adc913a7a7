import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

const root = new URL("..", import.meta.url).pathname;

/** The benchmark's child processes (pods, gateways), each on its own event loop. */
export class ChildProcesses {
  private readonly children: ChildProcess[] = [];

  /** Starts `node <args>` in the repository and resolves with the first stdout line matching `ready`. */
  start(args: string[], ready: RegExp): Promise<{ match: RegExpExecArray; pid: number }> {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    this.children.push(child);
    return new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on("line", (line) => {
        const match = ready.exec(line);
        if (match !== null) {
          resolve({ match, pid: child.pid ?? 0 });
        }
      });
      child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
    });
  }

  stopAll(): void {
    for (const child of this.children) {
      child.kill("SIGTERM");
    }
  }
}
