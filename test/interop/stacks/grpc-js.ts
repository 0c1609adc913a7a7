import { createRequire } from "node:module";
import * as path from "node:path";
import { type PodStack, spawnPod } from "./pod-stack.ts";

/**
 * grpc-js pods (issue 14): @grpc/grpc-js with proto-loader, @grpc/reflection
 * and grpc-health-check from npm, each pod its own Node process
 * (grpc-js/probe-pod.ts, run by this Node, which strips the types), as a
 * user's pod is deployed.
 */
const podProgram = path.join(import.meta.dirname, "grpc-js", "probe-pod.ts");

const packages = ["@grpc/grpc-js", "@grpc/proto-loader", "@grpc/reflection", "grpc-health-check"] as const;

export const grpcJsStack: PodStack = {
  id: "grpc-js",
  // @grpc/reflection, v1 and v1alpha; its descriptors have no json_name (issue 14).
  reflection: true,
  // grpc-js servers never compress a response (no per-call choice, and no per-server one either).
  perCallResponseCompression: false,
  unavailable() {
    const require = createRequire(import.meta.url);
    for (const name of packages) {
      try {
        require.resolve(name);
      } catch {
        return `${name} is not installed (npm ci installs it: a devDependency)`;
      }
    }
    return undefined;
  },
  start: (name) => spawnPod("grpc-js", name, process.execPath, [podProgram, "--name", name]),
};
