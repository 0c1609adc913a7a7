import { buildGoBinaries, goBinaries } from "./go/build-go.ts";
import { type PodStack, spawnPod, type StackPod } from "./pod-stack.ts";

/**
 * The grpc-go pod stack of the interop matrix (issue 14,
 * test/interop/README.md): a small server of ours (go/pod/main.go) on
 * Debian's grpc-go 1.33 and Go 1.19, built in GOPATH mode by
 * {@link buildGoBinaries}. It serves probe.v1.ProbeService with the
 * reference pod's behaviour, grpc-go's own grpc.health.v1 and reflection
 * v1alpha (grpc-go 1.33 has no v1).
 *
 * Why grpc-go: it is what most users' pods run, and it answers every error
 * as Trailers-Only and sends headers before slow messages, the two shapes
 * the connect-node pods of the old suite never produced.
 */

/**
 * Builds the Go binaries (once per run; the client shares the build) so
 * that `grpcGoStack.unavailable()`, which must answer synchronously, knows.
 * Await it in `beforeAll` (or at the top of the test module) before asking
 * the stack anything. A build that fails with the Go packages installed
 * rejects: that is a bug in the Go sources, not a missing package.
 */
export async function prepareGrpcGo(): Promise<void> {
  await buildGoBinaries();
}

export const grpcGoStack: PodStack = {
  id: "grpc-go",
  reflection: true,
  // grpc-go 1.33 cannot pick the compression per call (SetSendCompressor
  // came in 1.54): it answers gzip only when the request came gzip.
  perCallResponseCompression: false,
  unavailable,
  start(name: string): Promise<StackPod> {
    const built = goBinaries();
    if (built === undefined || "unavailable" in built) {
      return Promise.reject(new Error(`the grpc-go stack cannot start pods: ${unavailable()}`));
    }
    return spawnPod("grpc-go", name, built.pod, ["-name", name]);
  },
};

/** Why the stack cannot run: the build's answer, once prepareGrpcGo() has settled. */
function unavailable(): string | undefined {
  const built = goBinaries();
  if (built === undefined) {
    return "prepareGrpcGo() has not run (or its build failed)";
  }
  return "unavailable" in built ? built.unavailable : undefined;
}
