import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Builds the grpc-go pod and client of the interop matrix (issue 14,
 * test/interop/README.md) from test/interop/stacks/go/{pod,client}/main.go
 * and our proto/probe/v1/probe.proto, on Debian's Go packages only: grpc-go
 * 1.33 (`golang-google-grpc-dev`) and Go 1.19 (`golang-go`) in GOPATH mode,
 * since nothing can come from the Go module proxy in CI.
 *
 * The Go code is generated at build time, never committed: protoc-gen-go
 * v1.3.5 (Debian's `golang-github-golang-protobuf-1-3-dev`, which grpc-go
 * 1.33 is built against there) is compiled from /usr/share/gocode and run
 * by `buf generate` with `plugins=grpc`, so the pod and client use typed
 * messages and a generated grpc.ServiceDesc, as grpc-go users of that era do.
 *
 * Once per run at most (issue 14, "build the Go binaries once per run"): the
 * binaries land in node_modules/.cache/edgegate-interop/go-HASH/, HASH
 * covering the Go sources, probe.proto, this file and the Go and grpc-go
 * versions, and a later call (this process or another) finds them there.
 * Two processes building at once each build into their own temporary
 * directory and rename it into place; the loser drops its copy.
 */
export async function buildGoBinaries(): Promise<{ pod: string; client: string } | { unavailable: string }> {
  building ??= build().then((result) => {
    settled = result;
    return result;
  });
  return building;
}

/**
 * What {@link buildGoBinaries} came to, once it has settled (`undefined`
 * before, or when it threw): for the synchronous `unavailable()` of the
 * grpc-go stack and client.
 */
export function goBinaries(): { pod: string; client: string } | { unavailable: string } | undefined {
  return settled;
}

let building: Promise<{ pod: string; client: string } | { unavailable: string }> | undefined;
let settled: { pod: string; client: string } | { unavailable: string } | undefined;

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const gocode = "/usr/share/gocode";
/** Install these on Debian to build the grpc-go stack (.ci/run does). */
const aptPackages = "-y golang-go golang-google-grpc-dev golang-github-golang-protobuf-1-3-dev";

/** The files the binaries are made of, by their path in the GOPATH the build makes. */
const sources = [
  { from: "test/interop/stacks/go/pod/main.go", to: "src/edgegate/interop/pod/main.go" },
  { from: "test/interop/stacks/go/client/main.go", to: "src/edgegate/interop/client/main.go" },
  { from: "proto/probe/v1/probe.proto", to: "proto/probe/v1/probe.proto" },
] as const;

/**
 * The `buf generate` template. The managed-mode override gives probe.proto
 * (which has no go_package) a GOPATH import path; the M option maps buf's
 * timestamp.proto (go_package of APIv2's timestamppb, not on Debian's
 * GOPATH with protobuf 1.3) to the APIv1 ptypes package grpc-go 1.33 uses.
 */
function template(protocGenGo: string, out: string): string {
  return [
    "version: v2",
    "managed:",
    "  enabled: true",
    "  override:",
    "    - file_option: go_package",
    "      path: probe/v1/probe.proto",
    "      value: edgegate/interop/probepb;probepb",
    "plugins:",
    `  - local: ${protocGenGo}`,
    `    out: ${out}`,
    "    opt:",
    "      - plugins=grpc",
    "      - Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp",
    "",
  ].join("\n");
}

async function build(): Promise<{ pod: string; client: string } | { unavailable: string }> {
  const missing = [
    `${gocode}/src/google.golang.org/grpc`,
    `${gocode}/src/github.com/golang/protobuf/protoc-gen-go/grpc`,
  ].filter((dir) => !existsSync(dir));
  let goVersion = "";
  try {
    goVersion = (await run("go", ["version"], {}, repoRoot)).trim();
  } catch {
    missing.unshift("go on PATH");
  }
  if (missing.length > 0) {
    return { unavailable: `grpc-go stack: missing ${missing.join(", ")}; apt-get install ${aptPackages}` };
  }

  const contents = await Promise.all(sources.map((s) => readFile(join(repoRoot, s.from))));
  const hash = createHash("sha256");
  // This file too: a change of the recipe (flags, template) builds anew.
  hash.update(await readFile(fileURLToPath(import.meta.url)));
  hash.update(goVersion);
  hash.update(await readFile(`${gocode}/src/google.golang.org/grpc/version.go`));
  sources.forEach((s, i) => hash.update(`\0${s.from}\0`).update(contents[i]!));
  const cache = join(repoRoot, "node_modules/.cache/edgegate-interop");
  const final = join(cache, `go-${hash.digest("hex").slice(0, 16)}`);
  const binaries = { pod: join(final, "pod"), client: join(final, "client") };
  if (existsSync(binaries.pod) && existsSync(binaries.client)) {
    return binaries;
  }

  const temp = `${final}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const gopath = join(temp, "gopath");
  try {
    await Promise.all(
      sources.map(async (s, i) => {
        await mkdir(join(gopath, s.to, ".."), { recursive: true });
        await writeFile(join(gopath, s.to), contents[i]!);
      }),
    );
    const env = {
      GO111MODULE: "off",
      GOPATH: `${gopath}:${gocode}`,
      GOFLAGS: "",
      GOPROXY: "off",
      // Shared between builds (Go's cache is safe for concurrent use) and
      // not under $HOME, which CI may not have.
      GOCACHE: join(cache, "go-build"),
      // Pure Go: no C compiler needed for net and os/user.
      CGO_ENABLED: "0",
    };
    const protocGenGo = join(temp, "protoc-gen-go");
    await run("go", ["build", "-o", protocGenGo, "github.com/golang/protobuf/protoc-gen-go"], env, temp);
    const templateFile = join(temp, "buf.gen.yaml");
    await writeFile(templateFile, template(protocGenGo, join(gopath, "src")));
    await run(
      join(repoRoot, "node_modules/.bin/buf"),
      ["generate", join(gopath, "proto"), "--template", templateFile],
      {},
      repoRoot,
    );
    // One go build for both (-o DIR/ names them pod and client): their
    // shared packages (grpc, x/net, protobuf) compile once, in parallel.
    await run("go", ["build", "-o", `${temp}/`, "edgegate/interop/pod", "edgegate/interop/client"], env, temp);
    try {
      await rename(temp, final);
    } catch (error) {
      // Another process got there first with the same sources: use its build.
      if (!existsSync(binaries.pod) || !existsSync(binaries.client)) {
        throw error;
      }
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return binaries;
}

/** Runs a build command to its end; rejects with its output when it fails. */
function run(file: string, args: readonly string[], env: Record<string, string>, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, env: { ...process.env, ...env }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`building the grpc-go stack: ${file} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
          return;
        }
        resolve(stdout);
      },
    );
  });
}
