import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { access, chmod, mkdir, mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "../../support/run-command.ts";
import { type PodStack, spawnPod, type StackPod } from "./pod-stack.ts";

/**
 * The Python pod stack of the interop matrix (issue 14, test/interop/README.md):
 * a small server of ours (python/probe_pod.py) on Debian's python3-grpcio
 * (grpcio 1.51), run by Debian's own interpreter. `/usr/bin/python3`, not the
 * `python3` first on PATH: that one may be another Python (pyenv) without
 * Debian's packages, and the point is the stack as Debian users run it.
 *
 * Its code is generated at test time by python3-grpc-tools from our own
 * protos, as a Python user would. Debian has no grpcio-reflection, no
 * grpcio-health-checking and no grpcio-status: the pod implements
 * `grpc.health.v1.Health` from proto/grpc/health/v1/health.proto and encodes
 * `google.rpc.Status` by hand, and the gateway gets a descriptor set of
 * probe.proto (`schemas`) instead of reflection, for the JSON cases.
 */

const root = join(import.meta.dirname, "../../..");
const python = "/usr/bin/python3";
const podScript = join(import.meta.dirname, "python/probe_pod.py");
const probeProto = "probe/v1/probe.proto";
const healthProto = "grpc/health/v1/health.proto";
const buf = join(root, "node_modules/.bin/buf");
/** What makes the generated code: changing it (or a source below) makes a new cache directory. */
const recipe = "python-2: protoc probe (-Iproto), health (-Iproto/grpc/health/v1); buf build --path probe --path health";
const installHint = "apt-get install -y python3-grpcio python3-grpc-tools";

/** What preparePython() found: the directory of the generated code, or why the stack cannot run. */
let prepared: { readonly dir: string } | { readonly unavailable: string } | undefined;
let preparing: Promise<void> | undefined;

/**
 * Generates the pod's Python code (python3-grpc-tools) and the descriptor set
 * (`buf build`) once, into
 * node_modules/.cache/edgegate-interop/python-<hash of the protos and the pod>/.
 * Two test processes may do it at once: each generates into its own temporary
 * directory and renames it into place; the loser drops its copy. When Debian's
 * python3 or its gRPC packages are missing, the stack is marked unavailable
 * (`pythonStack.unavailable()` says why) instead of failing; a generation that
 * fails with them installed is an error.
 */
export function preparePython(): Promise<void> {
  preparing ??= prepare().then((result) => {
    prepared = result;
  });
  return preparing;
}

async function prepare(): Promise<{ dir: string } | { unavailable: string }> {
  try {
    await access(python, constants.X_OK);
  } catch {
    return { unavailable: `${python} is missing: apt-get install -y python3 python3-grpcio python3-grpc-tools` };
  }
  const check = await runCommand(python, ["-I", "-c", "import grpc, grpc_tools.protoc"]);
  if (check.code !== 0) {
    const why = check.stderr.trim().split("\n").at(-1) ?? "";
    return { unavailable: `${python} cannot import grpc and grpc_tools (${why}): ${installHint}` };
  }

  const hash = createHash("sha256").update(recipe);
  for (const file of [join(root, "proto", probeProto), join(root, "proto", healthProto), podScript]) {
    hash.update(`\0${file}\0`).update(await readFile(file));
  }
  const cache = join(root, "node_modules/.cache/edgegate-interop");
  const dir = join(cache, `python-${hash.digest("hex").slice(0, 16)}`);
  if (await exists(join(dir, "probe.binpb"))) {
    return { dir };
  }

  await mkdir(cache, { recursive: true });
  const tmp = await mkdtemp(`${dir}.tmp-`);
  try {
    const gen = join(tmp, "gen");
    await mkdir(gen);
    const protoc = async (include: string, file: string): Promise<void> => {
      const args = ["-I", "-m", "grpc_tools.protoc", `-I${include}`];
      args.push(`--python_out=${gen}`, `--grpc_python_out=${gen}`, file);
      const result = await runCommand(python, args, { cwd: root, timeoutMs: 60_000 });
      if (result.code !== 0) {
        throw new Error(`${python} ${args.join(" ")} failed (${result.code}):\n${result.stderr}`);
      }
    };
    await protoc("proto", join("proto", probeProto));
    // health.proto from its own directory: generated as top-level modules
    // (health_pb2), since a generated `grpc/health/v1/` package would clash
    // with grpcio's own `grpc` package.
    await protoc("proto/grpc/health/v1", join("proto", healthProto));

    // probe.proto with its imports (google/protobuf/timestamp.proto), and
    // health.proto: the pods serve both, and the gateway transcodes JSON for both.
    const binpb = join(tmp, "probe.binpb");
    const built = await runCommand(buf, ["build", "proto", "--path", join("proto", probeProto), "--path", join("proto", healthProto), "-o", binpb], {
      cwd: root,
      timeoutMs: 60_000,
    });
    if (built.code !== 0) {
      throw new Error(`buf build of ${probeProto} failed (${built.code}):\n${built.stderr}`);
    }
    const set = await readFile(binpb);
    for (const name of ["ProbeService", "ProbeDetail", "google/protobuf/timestamp.proto", "grpc.health.v1"]) {
      if (!set.includes(name)) {
        throw new Error(`the descriptor set ${binpb} made by buf build lacks ${name}`);
      }
    }

    await chmod(tmp, 0o755); // mkdtemp makes it 0700
    try {
      await rename(tmp, dir);
    } catch (error) {
      // Another process renamed its copy into place first.
      if (!(await exists(join(dir, "probe.binpb")))) {
        throw error;
      }
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  return { dir };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function preparedDir(): string {
  if (prepared === undefined) {
    throw new Error("the python stack is not prepared: await preparePython() first");
  }
  if ("unavailable" in prepared) {
    throw new Error(`the python stack is unavailable: ${prepared.unavailable}`);
  }
  return prepared.dir;
}

export const pythonStack: PodStack = {
  id: "python",
  reflection: false,
  /** The descriptor set of probe.proto and its imports, for `backends[].schemas`; after preparePython(). */
  get schemas(): string | undefined {
    if (prepared !== undefined && "unavailable" in prepared) {
      return undefined;
    }
    return join(preparedDir(), "probe.binpb");
  },
  // grpcio's ServicerContext.set_compression(): gzip per call, so the
  // server_compressed_unary / server_compressed_streaming cases of the gRPC
  // interop test descriptions run against this stack.
  perCallResponseCompression: true,
  unavailable(): string | undefined {
    if (prepared === undefined) {
      return "preparePython() has not run";
    }
    return "unavailable" in prepared ? prepared.unavailable : undefined;
  },
  async start(name: string): Promise<StackPod> {
    const gen = join(preparedDir(), "gen");
    // -I (isolated): no PYTHONPATH, user site or script directory from the
    // environment; only Debian's packages and the generated code.
    return spawnPod("python", name, python, ["-I", podScript, "--name", name, "--gen", gen]);
  },
};
