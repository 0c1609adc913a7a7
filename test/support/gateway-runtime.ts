import { join } from "node:path";

/** The runtime the gateway under test runs on. */
export type GatewayRuntime = "node" | "deno";

/**
 * Which runtime this test run puts the gateway on: `EDGEGATE_TEST_RUNTIME=deno`
 * (the vitest project "deno" sets it) runs every gateway the end-to-end suites
 * start as an `edgegate serve` process under Deno; otherwise Node (in process,
 * or `bin/edgegate.js` where a test needs the process itself).
 */
export const gatewayRuntime: GatewayRuntime = process.env.EDGEGATE_TEST_RUNTIME === "deno" ? "deno" : "node";

const root = new URL("../..", import.meta.url).pathname;

/**
 * The permissions `npm run deno` grants (package.json's `deno` script): sockets,
 * reading config, certificates and kubeconfig files, the environment
 * (KUBERNETES_SERVICE_HOST, KUBECONFIG) and system facts (host name, network
 * interfaces for c-ares). No writes, no subprocesses, no FFI.
 */
export const denoPermissions = ["--allow-net", "--allow-read", "--allow-env", "--allow-sys"] as const;

/** The command that runs `edgegate <args>` on a runtime, from the repository root, as the README says to. */
export function edgegateCommand(
  args: readonly string[],
  runtime: GatewayRuntime = gatewayRuntime,
): { readonly file: string; readonly args: readonly string[] } {
  return runtime === "deno"
    ? // The real binary from the `deno` package (not its node wrapper), so that the child's PID is Deno's own.
      { file: join(root, "node_modules/deno/deno"), args: ["run", ...denoPermissions, join(root, "src/main.ts"), ...args] }
    : // The pinned Node from the `node` package, as npm scripts and npx use it.
      { file: join(root, "node_modules/.bin/node"), args: [join(root, "bin/edgegate.js"), ...args] };
}
