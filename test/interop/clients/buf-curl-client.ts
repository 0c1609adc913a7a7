import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, file_google_protobuf_empty } from "@bufbuild/protobuf/wkt";
import { ProbeDetailSchema } from "../../../src/gen/probe/v1/probe_pb.ts";
import { codeName, interopInputs, unimplementedFile } from "./connect-es-client.ts";
import { type CaseOutcome, type InteropCase, type InteropClient, type InteropTarget, interopCases } from "./interop-client.ts";

// `buf curl` (the @bufbuild/buf devDependency: connect-go inside) as one of
// the interop matrix's clients (issue 14, test/interop/README.md). It is what
// a developer reaches for first, it is the one client here that learns the
// schema by reflection through the gateway (`--reflect`), and its Go HTTP/2
// stack is not Node's. Each case is one `buf curl` process per call, run one
// after the other (a process costs ~200-300 ms; the matrix has many clients), and
// checked against what the gRPC interop test descriptions (grpc/grpc
// doc/interop-test-descriptions.md) expect, as the connect-es client checks
// them (same inputs: interopInputs).

const root = path.resolve(import.meta.dirname, "../../..");
const buf = bufBinary();
const cacheDir = path.join(root, "node_modules/.cache/edgegate-interop");

/**
 * The buf executable of the @bufbuild/buf devDependency: its platform
 * package's native binary, as node_modules/.bin/buf (a Node script) would
 * run it. Starting that script costs a Node start per call (300+ ms on a busy
 * CI machine, more than the call itself); the wrapper is the fallback.
 */
function bufBinary(): string {
  const packages: Record<string, string> = {
    "linux x64": "@bufbuild/buf-linux-x64",
    "linux arm64": "@bufbuild/buf-linux-aarch64",
    "darwin x64": "@bufbuild/buf-darwin-x64",
    "darwin arm64": "@bufbuild/buf-darwin-arm64",
  };
  const pkg = packages[`${process.platform} ${os.arch()}`];
  if (pkg !== undefined) {
    try {
      return createRequire(path.join(root, "node_modules/@bufbuild/buf/package.json")).resolve(`${pkg}/bin/buf`);
    } catch {
      // not installed for this platform: the wrapper says why when it runs
    }
  }
  return path.join(root, "node_modules/.bin/buf");
}

export type BufCurlProtocol = "connect" | "grpc" | "grpcweb";

export interface BufCurlClientOptions {
  /**
   * Learn the schema by server reflection from the target (`--reflect`), as
   * a developer pointing buf curl at the gateway does; else `--schema` with a
   * descriptor set of proto/ built once by `buf build`.
   */
  readonly reflect?: boolean;
  /**
   * HTTP/2 by default (h2c with prior knowledge, or ALPN over TLS);
   * "1.1" for Connect and gRPC-Web over plain-text HTTP/1.1 (not with gRPC,
   * reflection or TLS, where buf curl picks HTTP/2 itself).
   */
  readonly httpVersion?: "1.1" | "2";
}

/** Cases that need a bidi stream: buf curl forces HTTP/2 for those, so an HTTP/1.1 variant leaves them out. */
const bidiCases: readonly InteropCase[] = ["ping_pong", "empty_stream"];

/**
 * What buf curl can express. Not here: cancel_after_begin and
 * cancel_after_first_response (no way to cancel a call and see the status it
 * ends with: killing the process reports nothing), client_compressed_* (buf
 * curl never compresses requests). custom_metadata not over gRPC-Web: `-v`
 * prints no trailers of a gRPC-Web unary call (they travel in the body), so
 * the echoed trailer cannot be seen.
 */
const notExpressible: readonly InteropCase[] = [
  "cancel_after_begin",
  "cancel_after_first_response",
  "client_compressed_unary",
  "client_compressed_streaming",
];
const expressible: readonly InteropCase[] = interopCases.filter((c) => !notExpressible.includes(c));

/**
 * buf curl with one protocol: `buf-curl/<protocol>[-reflect][-h1]`. Server
 * compressed cases check the answers only: buf curl always accepts gzip, and
 * whether a pod compresses per call depends on its stack.
 */
export function bufCurlClient(protocol: BufCurlProtocol, options?: BufCurlClientOptions): InteropClient {
  const reflect = options?.reflect === true;
  const h1 = options?.httpVersion === "1.1";
  if (h1 && (protocol === "grpc" || reflect)) {
    throw new Error("buf curl uses HTTP/2 for gRPC and for reflection");
  }
  const id = `buf-curl/${protocol}${reflect ? "-reflect" : ""}${h1 ? "-h1" : ""}`;
  const cases = expressible.filter(
    (c) => !(h1 && bidiCases.includes(c)) && !(protocol === "grpcweb" && c === "custom_metadata"),
  );
  const variant: Variant = { protocol, reflect, h1 };
  return {
    id,
    cases,
    unavailable: () => (existsSync(buf) ? undefined : `${buf} is missing (npm ci installs @bufbuild/buf)`),
    async run(target, wanted) {
      const outcomes: CaseOutcome[] = [];
      const schemas = await schemaFiles();
      for (const name of wanted) {
        if (!cases.includes(name)) {
          outcomes.push({ case: name, ok: false, detail: `${id} cannot express ${name}` });
          continue;
        }
        if (h1 && target.tls !== undefined) {
          outcomes.push({ case: name, ok: false, detail: `${id}: buf curl negotiates HTTP/2 over TLS; it cannot be held to HTTP/1.1` });
          continue;
        }
        let problems: string[];
        try {
          problems = await caseBody(name, { variant, target, schemas });
        } catch (error) {
          problems = [`unexpected ${error instanceof Error ? error.message : String(error)}`];
        }
        outcomes.push({ case: name, ok: problems.length === 0, detail: problems.join("; ") });
      }
      return outcomes;
    },
  };
}

interface Variant {
  readonly protocol: BufCurlProtocol;
  readonly reflect: boolean;
  readonly h1: boolean;
}

interface CaseContext {
  readonly variant: Variant;
  readonly target: InteropTarget;
  readonly schemas: SchemaFiles;
}

interface SchemaFiles {
  /** proto/ as `buf build` makes it: probe.v1, grpc.health.v1 and the rest. */
  readonly probe: string;
  /** `unimplementedFile` and google/protobuf/empty.proto. */
  readonly unimplemented: string;
}

let schemaBuild: Promise<SchemaFiles> | undefined;

/**
 * The descriptor sets, made once per process and cached across runs in
 * node_modules/.cache/edgegate-interop under a hash of proto/ (a changed
 * proto builds a new set). Written under a temporary name, then renamed, so
 * concurrent test workers never read half a file.
 */
function schemaFiles(): Promise<SchemaFiles> {
  schemaBuild ??= (async () => {
    await mkdir(cacheDir, { recursive: true });
    const hash = createHash("sha256");
    for (const file of await protoFiles(path.join(root, "proto"))) {
      hash.update(path.relative(root, file)).update("\0").update(await readFile(file)).update("\0");
    }
    const digest = hash.digest("hex").slice(0, 16);
    const probe = path.join(cacheDir, `proto-${digest}.binpb`);
    if (!existsSync(probe)) {
      // buf build picks the output format by extension: the temporary name keeps `.binpb`.
      const temp = path.join(cacheDir, `proto-${digest}.${process.pid}.tmp.binpb`);
      const result = await runBuf(["build", "-o", temp], "", 60_000);
      if (result.exit !== 0) {
        throw new Error(`buf build failed (${result.exit}): ${result.stderr}`);
      }
      await rename(temp, probe);
    }
    const unimplemented = path.join(cacheDir, "unimplemented.binpb");
    const set = create(FileDescriptorSetSchema, { file: [file_google_protobuf_empty.proto, unimplementedFile] });
    const temp = `${unimplemented}.${process.pid}.tmp`;
    await writeFile(temp, toBinary(FileDescriptorSetSchema, set));
    await rename(temp, unimplemented);
    return { probe, unimplemented };
  })();
  const pending = schemaBuild;
  pending.catch(() => {
    if (schemaBuild === pending) schemaBuild = undefined;
  });
  return pending;
}

async function protoFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await protoFiles(full)));
    else if (entry.name.endsWith(".proto")) files.push(full);
  }
  return files;
}

/** One call as buf curl made it, parsed. */
interface Call {
  /** The exit code: 0, a gRPC code shifted left by 3, or < 8 for a usage error; `null` when killed. */
  readonly exit: number | null;
  /** The messages printed on stdout, in order. */
  readonly messages: Record<string, unknown>[];
  /** The error buf curl printed on stderr, when the call failed. */
  readonly error: CallError | undefined;
  /** Response headers and trailers from `-v` (lower-case names; Connect unary `trailer-` headers as trailers). */
  readonly headers: Map<string, string>;
  readonly trailers: Map<string, string>;
  /** stderr without the `-v` lines: the error, or buf's own complaint. */
  readonly complaint: string;
  /** Whether `-v` shows the method's request going out (a failure before it is buf's own). */
  readonly posted: boolean;
}

interface CallError {
  /** The code name in buf curl's spelling ("failed_precondition"). */
  readonly code: string;
  readonly message: string;
  readonly details: readonly { type?: string; value?: string; debug?: unknown }[];
}

interface CallSpec {
  /** `service/method`. */
  readonly path: string;
  /** Request messages, sent as JSON on stdin (a large_unary request is too big for an argument). */
  readonly requests: readonly Record<string, unknown>[];
  readonly headers?: Readonly<Record<string, string>>;
  /** `--timeout`: the deadline of the whole command, which buf curl sends as the call's timeout. */
  readonly deadline?: string;
  /** Use this descriptor set instead of the variant's schema source. */
  readonly schema?: string;
  /** Add the descriptor set after reflection, for what reflection does not list (health). */
  readonly schemaFallback?: boolean;
}

function bufCurlArgs(ctx: CaseContext, spec: CallSpec): string[] {
  const { variant, target, schemas } = ctx;
  const args = ["curl", "--protocol", variant.protocol, "-v", "-d", "@-"];
  if (spec.schema !== undefined) {
    args.push("--reflect=false", "--schema", spec.schema);
  } else if (variant.reflect) {
    args.push("--reflect");
    if (spec.schemaFallback === true) args.push("--schema", schemas.probe);
  } else {
    args.push("--schema", schemas.probe);
  }
  if (spec.deadline !== undefined) args.push("--timeout", spec.deadline);
  for (const [name, value] of Object.entries(spec.headers ?? {})) args.push("-H", `${name}: ${value}`);
  let url: string;
  if (target.tls === undefined) {
    if (!variant.h1) args.push("--http2-prior-knowledge");
    url = `http://${target.address}/${spec.path}`;
  } else {
    // buf curl cannot resolve a name to the target, so it dials the address and
    // names the server in SNI and :authority, as a client that resolved it by DNS would.
    const port = target.address.slice(target.address.lastIndexOf(":") + 1);
    const host = `${target.tls.serverName}:${port}`;
    args.push("--cacert", target.tls.caFile, "--servername", target.tls.serverName, "-H", `Host: ${host}`);
    // Reflection calls carry only these headers: the gateway answers reflection per host.
    if (variant.reflect && spec.schema === undefined) args.push("--reflect-header", `Host: ${host}`);
    url = `https://${target.address}/${spec.path}`;
  }
  args.push(url);
  return args;
}

/** Runs one call to its end, within the case's 10 s. */
async function call(ctx: CaseContext, spec: CallSpec): Promise<Call> {
  const stdin = spec.requests.map((r) => JSON.stringify(r)).join("\n");
  const result = await runBuf(bufCurlArgs(ctx, spec), stdin, interopInputs.caseTimeoutMs);
  return parseCall(ctx.variant, spec.path, result);
}

interface RawResult {
  readonly exit: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runBuf(args: readonly string[], stdin: string, timeoutMs: number): Promise<RawResult> {
  const child = spawn(buf, args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  const done = collect(child, timeoutMs);
  child.stdin?.on("error", () => undefined);
  child.stdin?.end(stdin);
  return done;
}

/** Collects a child's output until it exits (SIGKILL at `timeoutMs`); rejects only when it cannot start. */
function collect(child: ChildProcess, timeoutMs: number, onStdout?: (all: string) => void): Promise<RawResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    stdout += chunk;
    onStdout?.(stdout);
  });
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ exit: code, stdout, stderr });
    });
  });
}

function parseCall(variant: Variant, callPath: string, raw: RawResult): Call {
  const verbose: string[] = [];
  const rest: string[] = [];
  for (const line of raw.stderr.split("\n")) {
    if (line.startsWith("buf: ")) verbose.push(line.slice(5));
    else rest.push(line);
  }
  const complaint = rest.join("\n").trim();
  let error: CallError | undefined;
  const brace = complaint.indexOf("{");
  if (raw.exit !== 0 && brace !== -1) {
    try {
      const parsed = JSON.parse(complaint.slice(brace)) as Partial<CallError>;
      error = { code: String(parsed.code), message: String(parsed.message ?? ""), details: parsed.details ?? [] };
    } catch {
      error = undefined;
    }
  }
  const { headers, trailers, posted } = parseVerbose(verbose, callPath);
  if (variant.protocol === "connect") {
    // A Connect unary answer carries its trailers as `trailer-` headers.
    for (const [name, value] of [...headers]) {
      if (name.startsWith("trailer-")) {
        headers.delete(name);
        trailers.set(name.slice("trailer-".length), value);
      }
    }
  }
  let messages: Record<string, unknown>[];
  try {
    messages = splitJson(raw.stdout).map((text) => JSON.parse(text) as Record<string, unknown>);
  } catch {
    messages = [];
  }
  return { exit: raw.exit, messages, error, headers, trailers, complaint, posted };
}

/**
 * The response headers and trailers of the call's stream from `-v` lines:
 * `< (#N) HTTP/2.0 200 OK`, header lines, an empty `< (#N)`, then (after the
 * messages, and another empty line) the trailers, `[*] `-prefixed when they
 * came in the body (Connect and gRPC-Web streams). The stream is the one that
 * POSTed the method (reflection, when used, has its own).
 */
function parseVerbose(
  lines: readonly string[],
  callPath: string,
): { headers: Map<string, string>; trailers: Map<string, string>; posted: boolean } {
  const headers = new Map<string, string>();
  const trailers = new Map<string, string>();
  let stream: string | undefined;
  for (const line of lines) {
    const post = /^> \((#\d+)\) POST \/(.*)$/.exec(line);
    if (post?.[2] === callPath) stream = post[1];
  }
  if (stream === undefined) return { headers, trailers, posted: false };
  const prefix = `< (${stream})`;
  let state: "status" | "headers" | "trailers" = "status";
  for (const line of lines) {
    if (!line.startsWith(prefix)) continue;
    const text = line.slice(prefix.length).trim();
    if (state === "status") {
      if (/^HTTP\//.test(text)) state = "headers";
      continue;
    }
    if (text === "") {
      if (state === "headers") state = "trailers";
      continue;
    }
    const field = /^(?:\[\*\] )?([^:]+):\s?(.*)$/.exec(text);
    if (field?.[1] === undefined || field[2] === undefined) continue;
    const name = field[1].trim().toLowerCase();
    const into = state === "headers" ? headers : trailers;
    const previous = into.get(name);
    into.set(name, previous === undefined ? field[2] : `${previous}, ${field[2]}`);
  }
  return { headers, trailers, posted: true };
}

/** Splits buf curl's stdout into its JSON documents (it prints one indented object per message). */
function splitJson(text: string): string[] {
  const docs: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{" || c === "[") {
      if (depth === 0) start = i;
      depth++;
    } else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0 && start !== -1) {
        docs.push(text.slice(start, i + 1));
        start = -1;
      }
    }
  }
  return docs;
}

const probePath = (method: string) => `probe.v1.ProbeService/${method}`;

function base64Zeros(n: number): string {
  return Buffer.alloc(n).toString("base64");
}

function caseBody(name: InteropCase, ctx: CaseContext): Promise<string[]> {
  switch (name) {
    case "empty_unary":
      return emptyUnary(ctx);
    case "large_unary":
      return largeUnary(ctx, {});
    case "server_compressed_unary":
      return largeUnary(ctx, { responseCompression: "gzip" });
    case "client_streaming":
      return clientStreaming(ctx);
    case "server_streaming":
      return serverStreaming(ctx, {});
    case "server_compressed_streaming":
      return serverStreaming(ctx, { responseCompression: "gzip" });
    case "ping_pong":
      return pingPong(ctx);
    case "empty_stream":
      return emptyStream(ctx);
    case "custom_metadata":
      return customMetadata(ctx);
    case "status_code_and_message":
      return statusCodeAndMessage(ctx);
    case "special_status_message":
      return specialStatusMessage(ctx);
    case "unimplemented_method":
      return unimplemented(ctx, "probe.v1.ProbeService/NoSuchMethod");
    case "unimplemented_service":
      return unimplemented(ctx, "probe.v1.NoSuchService/Probe");
    case "timeout_on_sleeping_server":
      return timeoutOnSleepingServer(ctx);
    case "error_details":
      return errorDetails(ctx);
    case "health":
      return health(ctx);
    default:
      return Promise.resolve([`buf curl cannot express ${name}`]);
  }
}

async function emptyUnary(ctx: CaseContext): Promise<string[]> {
  const res = await call(ctx, { path: probePath("Probe"), requests: [{}] });
  const [message, problem] = single("Probe({})", res);
  if (message === undefined) return [problem];
  const problems: string[] = [];
  if (typeof message.pod !== "string" || message.pod === "") problems.push("Probe({}): expected pod set, got pod empty");
  const payload = bytesField(message.payload);
  if (payload.length !== 0) problems.push(`Probe({}): expected an empty payload, got ${payload.length} bytes`);
  return problems;
}

async function largeUnary(ctx: CaseContext, extra: Record<string, unknown>): Promise<string[]> {
  const { largeRequestBytes, largeResponseBytes } = interopInputs;
  const what = `Probe(${largeRequestBytes} bytes, payload_size ${largeResponseBytes})`;
  const res = await call(ctx, {
    path: probePath("Probe"),
    requests: [{ payload: base64Zeros(largeRequestBytes), payloadSize: largeResponseBytes, ...extra }],
  });
  const [message, problem] = single(what, res);
  if (message === undefined) return [problem];
  return [
    ...checkPayload(what, message.payload, largeResponseBytes),
    ...checkEqual(`${what} received_bytes`, String(largeRequestBytes), jsonInt(message.receivedBytes)),
  ];
}

async function clientStreaming(ctx: CaseContext): Promise<string[]> {
  const sizes = interopInputs.clientStreamBytes;
  const what = `ProbeClientStream(${sizes.join(", ")} bytes)`;
  const res = await call(ctx, { path: probePath("ProbeClientStream"), requests: sizes.map((n) => ({ payload: base64Zeros(n) })) });
  const [message, problem] = single(what, res);
  if (message === undefined) return [problem];
  const total = sizes.reduce((a, b) => a + b, 0);
  return [
    ...checkEqual(`${what} count`, String(sizes.length), jsonInt(message.count)),
    ...checkEqual(`${what} received_bytes`, String(total), jsonInt(message.receivedBytes)),
  ];
}

async function serverStreaming(ctx: CaseContext, extra: Record<string, unknown>): Promise<string[]> {
  const { serverStreamCount: count, serverStreamBytes: size } = interopInputs;
  const what = `ProbeStream(count ${count}, payload_size ${size})`;
  const res = await call(ctx, { path: probePath("ProbeStream"), requests: [{ count, payloadSize: size, ...extra }] });
  if (res.exit !== 0) return [`${what}: expected OK after ${count} answers, got ${outcome(res)} after ${res.messages.length}`];
  const problems = checkEqual(`${what} answers`, count, res.messages.length);
  for (const [i, message] of res.messages.entries()) {
    problems.push(
      ...checkEqual(`${what} answer ${i} index`, String(i), jsonInt(message.index)),
      ...checkPayload(`${what} answer ${i}`, message.payload, size),
    );
  }
  return problems;
}

/**
 * ping_pong: buf curl reads request messages from stdin as they come and
 * prints each answer as it arrives, so each request is written only once the
 * answer to the previous one is on stdout, as the description asks.
 */
async function pingPong(ctx: CaseContext): Promise<string[]> {
  const { pingPongRequestBytes: sent, pingPongResponseBytes: asked } = interopInputs;
  const child = spawn(buf, bufCurlArgs(ctx, { path: probePath("ProbeBidi"), requests: [] }), {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin?.on("error", () => undefined);
  let answered = 0;
  const send = (round: number) => {
    const size = asked[round];
    if (size === undefined) {
      child.stdin?.end();
      return;
    }
    child.stdin?.write(`${JSON.stringify({ payload: base64Zeros(sent[round] ?? 0), payloadSize: size })}\n`);
  };
  const done = collect(child, interopInputs.caseTimeoutMs, (stdout) => {
    const count = splitJson(stdout).length;
    while (answered < count) {
      answered++;
      send(answered);
    }
  });
  send(0);
  const res = parseCall(ctx.variant, probePath("ProbeBidi"), await done);
  if (res.exit !== 0) return [`ProbeBidi: expected OK, got ${outcome(res)} after ${res.messages.length} answers`];
  const problems = checkEqual("ProbeBidi answers", asked.length, res.messages.length);
  for (const [i, message] of res.messages.entries()) {
    const what = i < asked.length ? `ProbeBidi round ${i} (payload_size ${asked[i]})` : `ProbeBidi extra answer ${i}`;
    problems.push(...checkEqual(`${what} index`, String(i), jsonInt(message.index)), ...checkPayload(what, message.payload, asked[i] ?? 0));
  }
  return problems;
}

async function emptyStream(ctx: CaseContext): Promise<string[]> {
  const res = await call(ctx, { path: probePath("ProbeBidi"), requests: [] });
  if (res.exit !== 0) return [`ProbeBidi(no requests): expected OK with no answers, got ${outcome(res)}`];
  return checkEqual("ProbeBidi(no requests) answers", 0, res.messages.length);
}

async function customMetadata(ctx: CaseContext): Promise<string[]> {
  const { echoInitialName, echoInitialValue, echoTrailingName, echoTrailingValue } = interopInputs;
  const headers = { [echoInitialName]: echoInitialValue, [echoTrailingName]: Buffer.from(echoTrailingValue).toString("base64") };
  const problems: string[] = [];
  // Probe, then the description's full-duplex call (a server stream where buf curl is held to HTTP/1.1).
  const calls: [string, Record<string, unknown>][] = [
    ["Probe", { payloadSize: 1 }],
    ctx.variant.h1 ? ["ProbeStream", { count: 1, payloadSize: 1 }] : ["ProbeBidi", { payloadSize: 1 }],
  ];
  for (const [method, request] of calls) {
    const res = await call(ctx, { path: probePath(method), requests: [request], headers });
    if (res.exit !== 0) {
      problems.push(`${method}: expected OK, got ${outcome(res)}`);
      continue;
    }
    const initial = res.headers.get(echoInitialName);
    if (initial !== echoInitialValue) {
      problems.push(`${method}: expected header ${echoInitialName}: ${echoInitialValue}, got ${initial ?? "none"}`);
    }
    const trailing = res.trailers.get(echoTrailingName);
    const bytes = trailing === undefined ? undefined : Buffer.from(trailing, "base64");
    if (bytes === undefined || !bytes.equals(echoTrailingValue)) {
      problems.push(`${method}: expected trailer ${echoTrailingName} 0xababab, got ${bytes === undefined ? "none" : `0x${bytes.toString("hex")}`}`);
    }
  }
  return problems;
}

async function statusCodeAndMessage(ctx: CaseContext): Promise<string[]> {
  const message = interopInputs.statusMessage;
  const request = { failCode: 2, failMessage: message };
  const problems = expectError("Probe", await call(ctx, { path: probePath("Probe"), requests: [request] }), 2, message);
  const [method, streamRequest] = ctx.variant.h1 ? ["ProbeStream", { ...request, count: 0 }] : ["ProbeBidi", request];
  problems.push(...expectError(method, await call(ctx, { path: probePath(method), requests: [streamRequest] }), 2, message));
  return problems;
}

async function specialStatusMessage(ctx: CaseContext): Promise<string[]> {
  const message = interopInputs.specialStatusMessage;
  const res = await call(ctx, { path: probePath("Probe"), requests: [{ failCode: 2, failMessage: message }] });
  return expectError("Probe", res, 2, message);
}

/** buf curl calls only what its schema lists; the hand-made schema lists what the pods lack. */
async function unimplemented(ctx: CaseContext, methodPath: string): Promise<string[]> {
  const res = await call(ctx, { path: methodPath, requests: [{}], schema: ctx.schemas.unimplemented });
  return expectError(`/${methodPath}`, res, 12);
}

async function timeoutOnSleepingServer(ctx: CaseContext): Promise<string[]> {
  const { sleepMs, deadlineMs } = interopInputs;
  // buf curl's --timeout is the only deadline it has (it refuses a grpc-timeout
  // or connect-timeout-ms header), and it bounds the whole command: loading the
  // schema (or reflecting) comes first, and on a busy machine that alone can
  // take 100 ms. The call then never goes out ("Failure: context deadline
  // exceeded", exit 1), and the case is tried again with 4 times the deadline,
  // up to 1.6 s: still far below the pod's 5 s sleep, so what the case checks
  // stays the same (a deadline shorter than the server's work ends the call
  // DEADLINE_EXCEEDED). What buf curl sends as grpc-timeout is what is left.
  const methodPath = probePath("Probe");
  let deadline = deadlineMs;
  for (;;) {
    const res = await call(ctx, { path: methodPath, requests: [{ sleepMs }], deadline: `${deadline}ms` });
    if (!res.posted && deadline < 16 * deadlineMs) {
      deadline *= 4;
      continue;
    }
    return expectError(`Probe(sleep_ms ${sleepMs}) with a ${deadline} ms deadline`, res, 4);
  }
}

async function errorDetails(ctx: CaseContext): Promise<string[]> {
  const { detailCode, detailMessage, detailText } = interopInputs;
  const what = "Probe(fail_detail)";
  const res = await call(ctx, {
    path: probePath("Probe"),
    requests: [{ failCode: detailCode, failMessage: detailMessage, failDetail: detailText }],
  });
  const problems = expectError(what, res, detailCode, detailMessage);
  if (res.error === undefined) return problems;
  // buf curl prints each detail's type and bytes (base64), plus `debug` (the
  // decoded message) when it could resolve the type; the bytes are decoded
  // here, so the check does not depend on which.
  const details = res.error.details.filter((d) => d.type === "probe.v1.ProbeDetail");
  const detail = details[0];
  if (details.length !== 1 || detail === undefined) {
    problems.push(`${what}: expected 1 probe.v1.ProbeDetail, got ${details.length} (types: ${res.error.details.map((d) => d.type).join(", ") || "none"})`);
    return problems;
  }
  let decoded: { text: string; pod: string };
  try {
    decoded = fromBinary(ProbeDetailSchema, Buffer.from(detail.value ?? "", "base64"));
  } catch (error) {
    problems.push(`${what}: expected a ProbeDetail, got bytes that do not decode: ${String(error)}`);
    return problems;
  }
  if (decoded.text !== detailText) problems.push(`${what}: expected detail text "${detailText}", got "${decoded.text}"`);
  if (decoded.pod === "") problems.push(`${what}: expected detail pod set, got empty`);
  return problems;
}

async function health(ctx: CaseContext): Promise<string[]> {
  const problems: string[] = [];
  const check = (service: string) =>
    call(ctx, { path: "grpc.health.v1.Health/Check", requests: [{ service }], schemaFallback: true });
  for (const service of interopInputs.healthServing) {
    const what = `Health/Check("${service}")`;
    const [message, problem] = single(what, await check(service));
    if (message === undefined) problems.push(problem);
    else if (message.status !== "SERVING") problems.push(`${what}: expected SERVING, got ${String(message.status ?? "UNKNOWN")}`);
  }
  const unknown = interopInputs.healthUnknown;
  problems.push(...expectError(`Health/Check("${unknown}")`, await check(unknown), 5));
  return problems;
}

/** The one answer of a unary or client-stream call, or what went wrong instead. */
function single(what: string, res: Call): [Record<string, unknown>, ""] | [undefined, string] {
  if (res.exit !== 0) return [undefined, `${what}: expected OK, got ${outcome(res)}`];
  const message = res.messages[0];
  if (res.messages.length !== 1 || message === undefined) {
    return [undefined, `${what}: expected 1 answer, got ${res.messages.length}`];
  }
  return [message, ""];
}

function expectError(what: string, res: Call, code: number, message?: string): string[] {
  const expected = message === undefined ? codeName(code) : `${codeName(code)} ${JSON.stringify(message)}`;
  if (res.exit === 0) return [`${what}: expected ${expected}, got OK`];
  const got = res.error;
  if (
    got !== undefined &&
    got.code.toUpperCase() === codeName(code) &&
    res.exit === code << 3 &&
    (message === undefined || got.message === message)
  ) {
    return [];
  }
  return [`${what}: expected ${expected}, got ${outcome(res)}`];
}

/** How a failed call ended, in the CaseOutcome's words. */
function outcome(res: Call): string {
  if (res.exit === null) return `no end within ${interopInputs.caseTimeoutMs} ms (killed)`;
  if (res.error !== undefined) {
    const shifted = res.exit >= 8 ? "" : ` (exit ${res.exit})`;
    return `${res.error.code.toUpperCase()} ${JSON.stringify(res.error.message)}${shifted}`;
  }
  if (res.exit === 0) return "OK";
  return `exit ${res.exit}: ${res.complaint.slice(0, 300) || "(nothing on stderr)"}`;
}

/** A JSON bytes field (base64; absent when empty). */
function bytesField(value: unknown): Buffer {
  return typeof value === "string" ? Buffer.from(value, "base64") : Buffer.alloc(0);
}

/** A JSON integer field as a string (64-bit ones are strings, 32-bit ones numbers, zero absent). */
function jsonInt(value: unknown): string {
  return value === undefined ? "0" : String(value);
}

function checkEqual<T>(what: string, expected: T, got: T): string[] {
  return expected === got ? [] : [`${what}: expected ${String(expected)}, got ${String(got)}`];
}

function checkPayload(what: string, value: unknown, size: number): string[] {
  const payload = bytesField(value);
  if (payload.length !== size) return [`${what}: expected ${size} payload bytes, got ${payload.length}`];
  const wrong = payload.findIndex((b) => b !== 0x61);
  return wrong === -1 ? [] : [`${what}: expected ${size} bytes of "a", got 0x${payload[wrong]?.toString(16)} at ${wrong}`];
}
