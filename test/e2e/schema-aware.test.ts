import * as diagnostics from "node:diagnostics_channel";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as http from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Pod, startPod } from "../../src/adapter/node/start-pod.ts";
import { greetRoutes } from "../../src/demo/greet-service.ts";
import {
  file_greet_v1_greet,
  GreetRequestSchema,
  GreetResponseSchema,
  GreetService,
} from "../../src/gen/greet/v1/greet_pb.ts";
import { ServerReflection } from "../../src/gen/grpc/reflection/v1/reflection_pb.ts";
import { Color, file_probe_v1_probe, ProbeDetailSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { reflectionRoutes } from "../../src/reflection/reflection-routes.ts";
import { denoGaps, unlessOnDeno } from "../support/deno-gaps.ts";
import { callError } from "../support/call-error.ts";
import { type Harness, podRoutes, startHarness } from "../support/harness.ts";
import { loopbackLookup } from "../support/loopback-lookup.ts";
import { type ProbeLog, probeRoutes } from "../support/probe-service.ts";
import { type CommandResult, runCommand } from "../support/run-command.ts";

// Issue 5, end to end: Connect JSON and GET through the gateway, transcoded
// with each backend's schema (learned by reflection from the pods, or from a
// descriptor set), gRPC server reflection answered by the gateway itself from
// the union of a host's backends, and binary calls left untouched. Every call
// is made by a real client over a real socket: connect-es, `buf curl` (run
// outside the project, so only the gateway's reflection can tell it the
// schema), plain curl, and node:http for the exact bytes on the wire.

const root = path.resolve(import.meta.dirname, "../..");
const buf = path.join(root, "node_modules/.bin/buf");
const curl = "/usr/bin/curl";
const haveCurl = existsSync(curl);

/** Runs a command from `/` (no buf.yaml or proto/ there); never rejects on a non-zero exit. */
function run(command: string, args: readonly string[], cwd = "/"): Promise<CommandResult> {
  return runCommand(command, args, { cwd });
}

/** `buf curl ARGS` from `/`: no buf.yaml or proto/ there, so the schema comes from reflection only. */
function bufCurl(args: readonly string[]): Promise<CommandResult> {
  return run(buf, ["curl", ...args]);
}

/** buf curl's arguments to send every request, reflection included, with `Host: host`. */
function asHost(host: string | undefined): string[] {
  return host === undefined ? [] : ["-H", `Host: ${host}`, "--reflect-header", "*"];
}

const show = (r: CommandResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** buf curl prints each message as an indented JSON object; top-level braces sit at column 0. */
function jsonStream(text: string): Record<string, unknown>[] {
  const trimmed = text.trim();
  return trimmed === "" ? [] : trimmed.split(/(?<=^\})\s*(?=^\{)/m).map((part) => JSON.parse(part) as Record<string, unknown>);
}

type HttpVersion = "1.1" | "2";
const httpVersions: readonly HttpVersion[] = ["1.1", "2"];

interface ClientOptions {
  readonly json: boolean;
  readonly httpVersion: HttpVersion;
  readonly useHttpGet?: boolean;
  readonly interceptors?: Interceptor[];
  /** gzip every request message (and accept gzip answers). */
  readonly gzip?: boolean;
}

/**
 * A connect-es Connect transport on one connection to `baseUrl`, whose host
 * name resolves to the gateway (so `:authority`/`Host` carry the name).
 */
function connectTransport(baseUrl: string, options: ClientOptions): Transport {
  const nodeOptions =
    options.httpVersion === "1.1"
      ? { lookup: loopbackLookup, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) }
      : { lookup: loopbackLookup };
  return createConnectTransport({
    baseUrl,
    httpVersion: options.httpVersion,
    useBinaryFormat: !options.json,
    useHttpGet: options.useHttpGet ?? false,
    interceptors: options.interceptors ?? [],
    ...(options.gzip === true
      ? { sendCompression: compressionGzip, acceptCompression: [compressionGzip], compressMinBytes: 1 }
      : { acceptCompression: [] }),
    nodeOptions,
  });
}

/** The JSON mapping under test: a well-known type, an int64 beyond 2^53, an enum. */
const at = timestampFromDate(new Date("2024-05-06T07:08:09.123Z"));
const big = 9_007_199_254_740_993n;

/** One plain HTTP/1.1 request to the gateway, optionally with another Host (fetch cannot set one). */
function request(
  url: string,
  init: { method?: string; host?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: init.method ?? "GET",
        headers: { ...(init.host === undefined ? {} : { host: init.host }), ...init.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** A Connect unary JSON POST with a raw body; the answer's status and parsed JSON. */
async function postJson(
  url: string,
  body: string,
  host?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(url, { method: "POST", host, headers: { "content-type": "application/json" }, body });
  expect(res.headers["content-type"]).toBe("application/json");
  return { status: res.status, json: JSON.parse(res.body.toString("utf8")) as Record<string, unknown> };
}

/** `?connect=v1&…` for a Connect GET. */
function getQuery(params: Record<string, string>): string {
  return `?${new URLSearchParams({ connect: "v1", ...params }).toString()}`;
}

const CACHE_CONTROL = "public, max-age=60";

/**
 * A pod serving greet.v1 only, with reflection of greet.v1 only. Greet sets
 * Cache-Control; greeting "fail" fails with a probe.v1.ProbeDetail, a type
 * this pod's schema does not hold.
 */
function cachingGreetPod(name: string): (router: ConnectRouter) => void {
  const reflection = reflectionRoutes([file_greet_v1_greet]);
  return (router) => {
    router.service(GreetService, {
      greet(req, ctx) {
        if (req.name === "fail") {
          throw new ConnectError("refused", Code.PermissionDenied, undefined, [
            { desc: ProbeDetailSchema, value: { text: "not in greet's schema", pod: name } },
          ]);
        }
        ctx.responseHeader.set("cache-control", CACHE_CONTROL);
        return create(GreetResponseSchema, { greeting: `Hello, ${req.name}!`, pod: name });
      },
    });
    reflection(router);
  };
}

/** A pod serving probe.v1 only, with reflection of probe.v1 only. */
function probeOnlyPod(name: string, probes: ProbeLog): (router: ConnectRouter) => void {
  const reflection = reflectionRoutes([file_probe_v1_probe]);
  return (router) => {
    probeRoutes(name, probes)(router);
    reflection(router);
  };
}

/** A pod serving greet.v1 (the demo implementation) with reflection of greet.v1 only: the "old" deployment. */
function greetOnlyPod(name: string): (router: ConnectRouter) => void {
  const reflection = reflectionRoutes([file_greet_v1_greet]);
  return (router) => {
    greetRoutes(name)(router);
    reflection(router);
  };
}

/**
 * Runs `run` and returns the HTTP requests this process's clients sent to
 * `host` meanwhile (method and path, from Node's own diagnostics channels):
 * what a connect-es client chose to put on the wire, which its interceptors
 * cannot see (GET is decided below them).
 */
async function requestsTo<T>(host: string, run: () => Promise<T>): Promise<{ result: T; requests: { method: string; path: string }[] }> {
  const requests: { method: string; path: string }[] = [];
  const h1 = (message: unknown) => {
    const req = (message as { request: http.ClientRequest }).request;
    if (String(req.getHeader("host")).startsWith(`${host}:`)) requests.push({ method: req.method, path: req.path });
  };
  const h2 = (message: unknown) => {
    const headers = (message as { headers: Record<string, string> }).headers;
    if (headers[":authority"]?.startsWith(`${host}:`) === true) {
      requests.push({ method: headers[":method"] ?? "", path: headers[":path"] ?? "" });
    }
  };
  diagnostics.subscribe("http.client.request.start", h1);
  diagnostics.subscribe("http2.client.stream.start", h2);
  try {
    return { result: await run(), requests };
  } finally {
    diagnostics.unsubscribe("http.client.request.start", h1);
    diagnostics.unsubscribe("http2.client.stream.start", h2);
  }
}

const addressOf = (p: Pod) => `${p.address.host}:${p.address.port}`;

/** Parsed gateway log lines. */
function logEntries(harness: Harness): Record<string, unknown>[] {
  return harness.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("schema-aware gateway: pods serving reflection", () => {
  // Hosts, each routing to backends with a different schema situation:
  //   127.0.0.1, localhost → "pods": three harness pods, greet.v1 + probe.v1, reflection
  //   both.test            → greet.v1 to "greet" (one caching greet-only pod), probe.v1 to "probe" (one probe-only pod)
  //   greet.test           → "greet" only
  //   bare.test            → "bare": the harness pods, schemas.reflection off and no descriptor set
  //   lenient.test         → "lenient": the harness pods, schemas.ignoreUnknownJsonFields
  //   binary.test          → "binary": the harness pods, reflection on (to show binary never loads it)
  //   shadow.test          → "greet", then "probe" behind a route that can never match
  const probes: ProbeLog = new Map();
  let greetPod: Pod;
  let probePod: Pod;
  let harness: Harness;
  let port: number;
  const at127 = () => harness.baseUrl;
  const hostUrl = (host: string) => `http://${host}:${port}`;

  beforeAll(async () => {
    greetPod = await startPod("greet-1", cachingGreetPod("greet-1"));
    probePod = await startPod("probe-1", probeOnlyPod("probe-1", probes));
    harness = await startHarness({
      config: (pods) => {
        const all = { static: { endpoints: pods.map(addressOf) } };
        return {
          routes: [
            { hosts: ["both.test"], services: ["greet.v1."], backend: "greet" },
            { hosts: ["both.test"], services: ["probe.v1."], backend: "probe" },
            { hosts: ["greet.test"], backend: "greet" },
            { hosts: ["bare.test"], backend: "bare" },
            { hosts: ["lenient.test"], backend: "lenient" },
            { hosts: ["binary.test"], backend: "binary" },
            { hosts: ["shadow.test"], backend: "greet" },
            { hosts: ["shadow.test"], backend: "probe" },
            { hosts: ["127.0.0.1", "localhost"], backend: "pods" },
          ],
          backends: [
            { name: "pods", discovery: all },
            { name: "greet", discovery: { static: { endpoints: [addressOf(greetPod)] } } },
            { name: "probe", discovery: { static: { endpoints: [addressOf(probePod)] } } },
            { name: "bare", discovery: all, schemas: { reflection: false } },
            { name: "lenient", discovery: all, schemas: { ignoreUnknownJsonFields: true } },
            { name: "binary", discovery: all },
          ],
        };
      },
    });
    port = Number(new URL(harness.baseUrl).port);
  });

  afterAll(async () => {
    await harness?.close();
    await Promise.all([greetPod?.close(), probePod?.close()]);
  });

  describe("buf curl --reflect, the schema coming from the gateway's reflection", () => {
    const variants = [
      { label: "connect (HTTP/1.1)", args: ["--protocol", "connect"] },
      { label: "connect (h2c)", args: ["--protocol", "connect", "--http2-prior-knowledge"] },
      { label: "grpc (h2c)", args: ["--protocol", "grpc", "--http2-prior-knowledge"] },
      { label: "grpcweb (HTTP/1.1)", args: ["--protocol", "grpcweb"] },
      { label: "grpcweb (h2c)", args: ["--protocol", "grpcweb", "--http2-prior-knowledge"] },
    ] as const;

    it("calls unary and server-streaming methods with connect, grpc and grpcweb", async () => {
      const probe = { at: "2024-05-06T07:08:09.123Z", big: big.toString(), color: "COLOR_GREEN" };
      const results = await Promise.all(
        variants.map(async (v) => {
          const [greet, mapped, stream] = await Promise.all([
            bufCurl(["--reflect", ...v.args, "-d", JSON.stringify({ name: "json" }), `${at127()}/greet.v1.GreetService/Greet`]),
            bufCurl(["--reflect", ...v.args, "-d", JSON.stringify(probe), `${at127()}/probe.v1.ProbeService/Probe`]),
            bufCurl([
              "--reflect",
              ...v.args,
              "-d",
              JSON.stringify({ name: "s", count: 2 }),
              `${at127()}/greet.v1.GreetService/GreetStream`,
            ]),
          ]);
          return { label: v.label, greet, mapped, stream };
        }),
      );
      for (const { label, greet, mapped, stream } of results) {
        expect(greet.code, `${label}: ${show(greet)}`).toBe(0);
        expect(JSON.parse(greet.stdout), label).toMatchObject({ greeting: "Hello, json!" });
        expect(mapped.code, `${label}: ${show(mapped)}`).toBe(0);
        expect(JSON.parse(mapped.stdout), label).toMatchObject(probe);
        expect(stream.code, `${label}: ${show(stream)}`).toBe(0);
        expect(jsonStream(stream.stdout).map((m) => m.greeting), label).toEqual(["Hello, s! (1/2)", "Hello, s! (2/2)"]);
      }
    });

    it("lists the union of the host's backends' services (v1 and v1alpha), only those it routes to", async () => {
      const cases = [
        { host: "both.test", services: ["greet.v1.GreetService", "probe.v1.ProbeService"] },
        { host: "greet.test", services: ["greet.v1.GreetService"] },
        // A backend without a schema adds nothing.
        { host: "bare.test", services: [] },
      ];
      const runs = await Promise.all(
        cases.flatMap((c) =>
          ["grpc-v1", "grpc-v1alpha"].map(async (reflectProtocol) => ({
            ...c,
            reflectProtocol,
            result: await bufCurl([
              "--http2-prior-knowledge",
              "--reflect-protocol",
              reflectProtocol,
              "--list-services",
              ...asHost(c.host),
              at127(),
            ]),
          })),
        ),
      );
      for (const { host, services, reflectProtocol, result } of runs) {
        const label = `${host} ${reflectProtocol}`;
        expect(result.code, `${label}: ${show(result)}`).toBe(0);
        expect(result.stdout.split("\n").filter((s) => s !== "").sort(), label).toEqual(services);
      }
      // And a call through both.test reaches each backend's own pod.
      const [greet, probe] = await Promise.all([
        bufCurl(["--protocol", "grpc", "--http2-prior-knowledge", ...asHost("both.test"), "-d", '{"name":"both"}', `${at127()}/greet.v1.GreetService/Greet`]),
        bufCurl(["--protocol", "grpc", "--http2-prior-knowledge", ...asHost("both.test"), "-d", '{"color":"COLOR_RED"}', `${at127()}/probe.v1.ProbeService/Probe`]),
      ]);
      expect(greet.code, show(greet)).toBe(0);
      expect(JSON.parse(greet.stdout)).toEqual({ greeting: "Hello, both!", pod: "greet-1" });
      expect(probe.code, show(probe)).toBe(0);
      expect(JSON.parse(probe.stdout)).toMatchObject({ pod: "probe-1", color: "COLOR_RED" });
    });

    // A route behind one that already takes every call of the host can never
    // be reached, so its backend's services must not be listed either.
    it("does not list the services of a backend only a shadowed route names", async () => {
      const result = await bufCurl(["--http2-prior-knowledge", "--list-services", ...asHost("shadow.test"), at127()]);
      expect(result.code, show(result)).toBe(0);
      // Every call on shadow.test goes to "greet" (first route, no service filter): probe.v1 is unimplemented there…
      const probe = await callError(
        createClient(ProbeService, connectTransport(hostUrl("shadow.test"), { json: true, httpVersion: "2" })).probe({}),
      );
      expect(probe.code).toBe(Code.Unimplemented);
      // …so reflection must not offer it.
      expect(result.stdout.split("\n").filter((s) => s !== "").sort()).toEqual(["greet.v1.GreetService"]);
    });

    it("answers reflection to a connect-es JSON client too", async () => {
      const client = createClient(ServerReflection, connectTransport(hostUrl("both.test"), { json: true, httpVersion: "2" }));
      async function* ask() {
        yield { messageRequest: { case: "listServices" as const, value: "*" } };
      }
      const answers = [];
      for await (const answer of client.serverReflectionInfo(ask())) {
        answers.push(answer);
      }
      expect(answers).toHaveLength(1);
      const listed = answers[0]?.messageResponse;
      expect(listed?.case).toBe("listServicesResponse");
      if (listed?.case === "listServicesResponse") {
        expect(listed.value.service.map((s) => s.name).sort()).toEqual(["greet.v1.GreetService", "probe.v1.ProbeService"]);
      }
    });
  });

  describe("connect-es clients with useBinaryFormat: false", () => {
    it.each(httpVersions)("unary: well-known types, int64 and enums round-trip (HTTP/%s)", async (httpVersion) => {
      const transport = connectTransport(at127(), { json: true, httpVersion });
      const greet = await createClient(GreetService, transport).greet({ name: "json" });
      expect(greet.greeting).toBe("Hello, json!");
      expect(["pod-a", "pod-b", "pod-c"]).toContain(greet.pod);
      const res = await createClient(ProbeService, transport).probe({ at, big, color: Color.GREEN, tag: `json-${httpVersion}` });
      expect(res.at).toEqual(at);
      expect(res.big).toBe(big);
      expect(res.color).toBe(Color.GREEN);
      // The pod got binary protobuf, over native gRPC.
      expect(harness.probes.get(`json-${httpVersion}`)?.headers.get("content-type")).toBe("application/grpc");
    });

    it.each(httpVersions)("server streaming, messages then an error with details (HTTP/%s)", async (httpVersion) => {
      const client = createClient(ProbeService, connectTransport(at127(), { json: true, httpVersion }));
      const messages = [];
      for await (const m of client.probeStream({ count: 3, big, color: Color.RED, at })) {
        messages.push(m);
      }
      expect(messages.map((m) => [m.index, m.big, m.color])).toEqual([
        [0, big, Color.RED],
        [1, big, Color.RED],
        [2, big, Color.RED],
      ]);
      expect(messages[2]?.at).toEqual(at);

      const received: number[] = [];
      const error = await callError(
        (async () => {
          for await (const m of client.probeStream({ count: 2, failCode: Code.FailedPrecondition, failMessage: "late", failDetail: "d-2" })) {
            received.push(m.index);
          }
        })(),
      );
      expect(received).toEqual([0, 1]);
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toBe("late");
      expect(error.details).toMatchObject([{ type: "probe.v1.ProbeDetail", debug: { text: "d-2" } }]);
      expect(error.findDetails(ProbeDetailSchema).map((d) => d.text)).toEqual(["d-2"]);
    });

    it.each(httpVersions)("gzip-compressed JSON requests (HTTP/%s)", async (httpVersion) => {
      const transport = connectTransport(at127(), { json: true, httpVersion, gzip: true });
      const res = await createClient(ProbeService, transport).probe({ big, color: Color.GREEN, payloadSize: 2048 });
      expect([res.big, res.color, res.payload.length]).toEqual([big, Color.GREEN, 2048]);
      const stream = [];
      for await (const m of createClient(ProbeService, transport).probeStream({ count: 2, big, payloadSize: 2048 })) {
        stream.push([m.index, m.big, m.payload.length]);
      }
      expect(stream).toEqual([
        [0, big, 2048],
        [1, big, 2048],
      ]);
      // On the wire: a gzipped JSON body is understood (answers go out as JSON, uncompressed: see the report).
      const raw = await request(`${at127()}/probe.v1.ProbeService/Probe`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
        body: gzipSync('{"big":"-1","color":"COLOR_RED"}'),
      });
      expect(raw.status).toBe(200);
      expect(JSON.parse(raw.body.toString())).toMatchObject({ big: "-1", color: "COLOR_RED" });
    });

    it("client streaming and bidi over HTTP/2", async () => {
      const client = createClient(ProbeService, connectTransport(at127(), { json: true, httpVersion: "2" }));
      async function* requests() {
        yield { big, color: Color.RED };
        yield { big: 1n, color: Color.GREEN };
      }
      const counted = await client.probeClientStream(requests());
      expect([counted.count, counted.big, counted.color]).toEqual([2, big, Color.RED]);
      const answers = [];
      for await (const m of client.probeBidi(requests())) {
        answers.push([m.index, m.big, m.color]);
      }
      expect(answers).toEqual([
        [0, big, Color.RED],
        [1, 1n, Color.GREEN],
      ]);
    });

    it("the wire carries the protobuf JSON mapping: RFC 3339, int64 as strings, enums by name", async () => {
      // A client may send int64 as a number and an enum by number; the answer is always canonical.
      const sent = '{"at":"2024-05-06T07:08:09.123Z","big":"9007199254740993","color":2,"fail_code":0}';
      const { status, json } = await postJson(`${at127()}/probe.v1.ProbeService/Probe`, sent);
      expect(status).toBe(200);
      expect(json).toMatchObject({ at: "2024-05-06T07:08:09.123Z", big: "9007199254740993", color: "COLOR_GREEN" });
      expect(json.requestHeaders).toMatchObject({ "content-type": "application/grpc" });
      const zeroes = await postJson(`${at127()}/probe.v1.ProbeService/Probe`, '{"big":"-5","color":"COLOR_UNSPECIFIED"}');
      expect(zeroes.json).toMatchObject({ big: "-5" });
      expect(zeroes.json).not.toHaveProperty("color"); // default values are omitted
    });

    it("error details get their debug rendering for JSON; binary clients get the pod's bytes", async () => {
      const fail = { failCode: Code.NotFound, failMessage: "no such widget: w-17", failDetail: "w-17" };
      const json = await callError(createClient(ProbeService, connectTransport(at127(), { json: true, httpVersion: "1.1" })).probe(fail));
      expect(json.code).toBe(Code.NotFound);
      expect(json.rawMessage).toBe("no such widget: w-17");
      expect(json.details).toHaveLength(1);
      expect(json.details[0]).toMatchObject({ type: "probe.v1.ProbeDetail", debug: { text: "w-17", pod: expect.stringMatching(/^pod-[abc]$/) } });
      expect(json.findDetails(ProbeDetailSchema)[0]?.text).toBe("w-17");

      const binary = await callError(createClient(ProbeService, connectTransport(at127(), { json: false, httpVersion: "2" })).probe(fail));
      expect(binary.code).toBe(Code.NotFound);
      expect(binary.details).toHaveLength(1);
      expect(binary.details[0]).toMatchObject({ type: "probe.v1.ProbeDetail" });
      expect((binary.details[0] as { debug?: unknown }).debug).toBeUndefined();
      expect(binary.findDetails(ProbeDetailSchema)[0]?.text).toBe("w-17");

      // Through the probe-only backend too: its schema knows ProbeDetail.
      const raw = await postJson(`${at127()}/probe.v1.ProbeService/Probe`, JSON.stringify(fail), "both.test");
      expect(raw.status).toBe(404);
      expect(raw.json).toMatchObject({
        code: "not_found",
        details: [{ type: "probe.v1.ProbeDetail", debug: { text: "w-17", pod: "probe-1" } }],
      });

      // A detail whose type the backend's schema lacks keeps only its type and bytes.
      const unknown = await postJson(`${at127()}/greet.v1.GreetService/Greet`, '{"name":"fail"}', "both.test");
      expect(unknown.status).toBe(403);
      expect(unknown.json).toEqual({
        code: "permission_denied",
        message: "refused",
        details: [{ type: "probe.v1.ProbeDetail", value: expect.any(String) }],
      });
    });
  });

  describe("JSON the schema does not accept", () => {
    it("is invalid_argument (400) naming the field, before any pod sees it", async () => {
      const url = `${at127()}/probe.v1.ProbeService/Probe`;
      const cases: [string, string][] = [
        ['{"big":"abc","tag":"bad-big"}', "probe.v1.ProbeRequest.big"],
        ['{"count":-1,"tag":"bad-count"}', "probe.v1.ProbeRequest.count"],
        ['{"tag":7}', "probe.v1.ProbeRequest.tag"],
        ['{"responseHeaders":{"a":1}}', "probe.v1.ProbeRequest.response_headers"],
        ['{"bogus":1,"tag":"unknown"}', 'key "bogus" is unknown'],
        ["not json", "probe.v1.ProbeRequest"],
      ];
      const answers = await Promise.all(cases.map(([body]) => postJson(url, body)));
      answers.forEach(({ status, json }, i) => {
        const [body, named] = cases[i] ?? ["", ""];
        expect(status, body).toBe(400);
        expect(json.code, body).toBe("invalid_argument");
        expect(json.message, body).toContain("invalid JSON for probe.v1.ProbeRequest");
        expect(json.message, body).toContain(named);
      });
      for (const tag of ["bad-big", "bad-count", "unknown"]) {
        expect(harness.probes.has(tag), tag).toBe(false);
      }
    });

    // For an enum value and a well-known type, protobuf-es names the type, not
    // the field (two Timestamps would be indistinguishable): the transcoder
    // finds and names the field.
    it("names the field for a bad enum name and a bad Timestamp too", async () => {
      const url = `${at127()}/probe.v1.ProbeService/Probe`;
      const [color, timestamp] = await Promise.all([
        postJson(url, '{"color":"COLOR_BLUE"}'),
        postJson(url, '{"at":"yesterday"}'),
      ]);
      expect(color.json.code).toBe("invalid_argument");
      expect(timestamp.json.code).toBe("invalid_argument");
      expect(color.json.message).toContain("probe.v1.ProbeRequest.color");
      expect(timestamp.json.message).toContain("probe.v1.ProbeRequest.at");
    });

    it("unknown fields are rejected unless schemas.ignoreUnknownJsonFields is set", async () => {
      const body = '{"bogus":{"x":1},"color":"COLOR_RED","tag":"lenient"}';
      const strict = await postJson(`${at127()}/probe.v1.ProbeService/Probe`, body);
      expect(strict.status).toBe(400);
      expect(strict.json.message).toContain('key "bogus" is unknown');
      const lenient = await postJson(`${at127()}/probe.v1.ProbeService/Probe`, body, "lenient.test");
      expect(lenient.status).toBe(200);
      expect(lenient.json).toMatchObject({ color: "COLOR_RED" });
      expect(harness.probes.get("lenient")?.pod).toMatch(/^pod-[abc]$/);
    });
  });

  describe("calls the schema cannot serve", () => {
    it("a method the schema lacks is unimplemented, naming the backend", async () => {
      const missing = await postJson(`${at127()}/greet.v1.GreetService/Nope`, "{}");
      expect(missing.json).toEqual({
        code: "unimplemented",
        message: 'greet.v1.GreetService/Nope is not in the schema of backend "pods" (its pods do not serve it)',
      });
      // greet.test routes every call to the greet-only backend: probe.v1 is not in its schema.
      const client = createClient(ProbeService, connectTransport(hostUrl("greet.test"), { json: true, httpVersion: "1.1" }));
      const error = await callError(client.probe({ tag: "never" }));
      expect(error.code).toBe(Code.Unimplemented);
      expect(error.rawMessage).toBe('probe.v1.ProbeService/Probe is not in the schema of backend "greet" (its pods do not serve it)');
    });

    it("without a schema (reflection off, no descriptor set): a Connect error that says how to configure one", async () => {
      const expected =
        'backend "bare" has no schema: reflection is off and no descriptor set is configured; ' +
        "set backends[].schemas.reflection: true for pods that serve grpc.reflection, " +
        "or backends[].schemas.descriptorSets: [x.binpb] with a file made by `buf build -o x.binpb`";
      for (const httpVersion of httpVersions) {
        const client = createClient(GreetService, connectTransport(hostUrl("bare.test"), { json: true, httpVersion }));
        const error = await callError(client.greet({ name: "x" }));
        expect(error.code).toBe(Code.Unimplemented);
        expect(error.rawMessage).toBe(expected);
        const stream = await callError(
          (async () => {
            for await (const _ of client.greetStream({ name: "x", count: 1 })) {
              // no message arrives
            }
          })(),
        );
        expect(stream.code).toBe(Code.Unimplemented);
        expect(stream.rawMessage).toBe(expected);
      }
      const get = await request(`${at127()}/greet.v1.GreetService/Greet${getQuery({ encoding: "json", message: "{}" })}`, { host: "bare.test" });
      expect(JSON.parse(get.body.toString())).toEqual({ code: "unimplemented", message: expected });
      // Binary calls need no schema: they pass through.
      const binary = createClient(GreetService, connectTransport(hostUrl("bare.test"), { json: false, httpVersion: "2" }));
      expect((await binary.greet({ name: "binary" })).greeting).toBe("Hello, binary!");
    });
  });

  describe("binary stays pass-through", () => {
    it("binary calls of every protocol never load the schema; the first JSON call does", async () => {
      const base = hostUrl("binary.test");
      const nodeOptions = { lookup: loopbackLookup };
      const transports = [
        connectTransport(base, { json: false, httpVersion: "1.1" }),
        connectTransport(base, { json: false, httpVersion: "2" }),
        createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1", nodeOptions }),
        createGrpcWebTransport({ baseUrl: base, httpVersion: "2", nodeOptions }),
        createGrpcTransport({ baseUrl: base, nodeOptions }),
      ];
      for (const transport of transports) {
        const greet = createClient(GreetService, transport);
        expect((await greet.greet({ name: "bin" })).greeting).toBe("Hello, bin!");
        const error = await callError(createClient(ProbeService, transport).probe({ failCode: Code.Aborted, failDetail: "raw" }));
        expect(error.code).toBe(Code.Aborted);
        expect(error.details).toMatchObject([{ type: "probe.v1.ProbeDetail" }]);
        expect((error.details[0] as { debug?: unknown }).debug).toBeUndefined();
      }
      const schemaLines = () => logEntries(harness).filter((e) => e.backend === "binary" && String(e.msg).startsWith("schema"));
      expect(schemaLines()).toEqual([]);

      const json = createClient(GreetService, connectTransport(base, { json: true, httpVersion: "2" }));
      expect((await json.greet({ name: "now json" })).greeting).toBe("Hello, now json!");
      expect(schemaLines()).toMatchObject([
        { msg: "schema loaded", backend: "binary", services: ["greet.v1.GreetService", "probe.v1.ProbeService"] },
      ]);
    });
  });

  describe("Connect GET", () => {
    const greetUrl = () => `${at127()}/greet.v1.GreetService/Greet`;

    it("with JSON and with base64 proto in the URL", async () => {
      const json = await request(`${greetUrl()}${getQuery({ encoding: "json", message: '{"name":"get"}' })}`);
      expect(json.status).toBe(200);
      expect(json.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(json.body.toString())).toMatchObject({ greeting: "Hello, get!" });

      const message = base64Encode(toBinary(GreetRequestSchema, create(GreetRequestSchema, { name: "b64" })), "url");
      const proto = await request(`${greetUrl()}${getQuery({ encoding: "proto", base64: "1", message })}`);
      expect(proto.status).toBe(200);
      expect(proto.headers["content-type"]).toBe("application/proto");
      expect(fromBinary(GreetResponseSchema, proto.body).greeting).toBe("Hello, b64!");
    });

    it.each([
      { json: true, httpVersion: "1.1" as const },
      { json: true, httpVersion: "2" as const },
      { json: false, httpVersion: "1.1" as const },
      { json: false, httpVersion: "2" as const },
    ])("connect-es with useHttpGet (json: $json, HTTP/$httpVersion) carries the pod's Cache-Control", async (options) => {
      const cacheControl: (string | null)[] = [];
      const record: Interceptor = (next) => async (req) => {
        const res = await next(req);
        cacheControl.push(res.header.get("cache-control"));
        return res;
      };
      const client = createClient(
        GreetService,
        connectTransport(hostUrl("greet.test"), { ...options, useHttpGet: true, interceptors: [record] }),
      );
      const sent = await requestsTo("greet.test", () => client.greet({ name: "cached" }));
      expect(sent.result).toMatchObject({ greeting: "Hello, cached!", pod: "greet-1" });
      expect(sent.requests).toEqual([
        {
          method: "GET",
          path: expect.stringMatching(options.json ? /^\/greet\.v1\.GreetService\/Greet\?connect=v1&encoding=json&message=/ : /^\/greet\.v1\.GreetService\/Greet\?connect=v1&base64=1&encoding=proto&message=/),
        },
      ]);
      expect(cacheControl).toEqual([CACHE_CONTROL]);
    });

    it("a method without idempotency_level = NO_SIDE_EFFECTS is 405; a streaming one too, saying to call it as a stream", async () => {
      const unary = await request(`${at127()}/probe.v1.ProbeService/Probe${getQuery({ encoding: "json", message: "{}" })}`);
      expect(unary.status).toBe(405);
      const unaryBody = JSON.parse(unary.body.toString()) as Record<string, unknown>;
      expect(unaryBody.code).toBe("unimplemented");
      expect(unaryBody.message).toContain("cannot be called with GET: only unary methods with idempotency_level = NO_SIDE_EFFECTS can; send it as POST");
      const stream = await request(`${at127()}/greet.v1.GreetService/GreetStream${getQuery({ encoding: "json", message: '{"name":"x"}' })}`);
      expect(stream.status).toBe(405);
      const streamBody = JSON.parse(stream.body.toString()) as Record<string, unknown>;
      expect(streamBody.code).toBe("unimplemented");
      expect(streamBody.message).toBe(
        "greet.v1.GreetService/GreetStream is a server-streaming method: it cannot answer a unary request; " +
          "call it as a Connect stream (content-type application/connect+json or application/connect+proto)",
      );
    });

    it("a unary JSON POST to a server- or bidi-streaming method is 415, saying to call it as a stream", async () => {
      for (const [method, kind] of [["GreetStream", "server-streaming"], ["Chat", "bidi-streaming"]] as const) {
        const res = await request(`${at127()}/greet.v1.GreetService/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"name":"x","count":2}',
        });
        expect(res.status, method).toBe(415);
        const body = JSON.parse(res.body.toString()) as Record<string, unknown>;
        expect(body).toEqual({
          code: "unimplemented",
          message:
            `greet.v1.GreetService/${method} is a ${kind} method: it cannot answer a unary request; ` +
            "call it as a Connect stream (content-type application/connect+json or application/connect+proto)",
        });
      }
      // A client-streaming method answers once: a unary request is a stream of one message.
      const many = await request(`${at127()}/greet.v1.GreetService/GreetMany`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"name":"x"}',
      });
      expect(many.status).toBe(200);
      expect(JSON.parse(many.body.toString())).toMatchObject({ greeting: "Hello, x!", count: 1 });
    });

    // RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
    it("a 405 says Allow: POST", async () => {
      const res = await request(`${at127()}/probe.v1.ProbeService/Probe${getQuery({ encoding: "json", message: "{}" })}`);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe("POST");
    });
  });

  describe.skipIf(!haveCurl)(`plain curl${haveCurl ? "" : " (skipped: /usr/bin/curl is not installed)"}`, () => {
    it("POSTs JSON with content-type: application/json and GETs with a JSON message", async () => {
      const [post, get, getCached] = await Promise.all([
        run(curl, ["-sS", "-d", '{"name":"curl"}', "-H", "content-type: application/json", `${at127()}/greet.v1.GreetService/Greet`]),
        run(curl, [
          "-sS",
          `${at127()}/greet.v1.GreetService/Greet?connect=v1&encoding=json&message=%7B%22name%22%3A%22get%22%7D`,
        ]),
        run(curl, [
          "-sS",
          "-i",
          "-H",
          "Host: greet.test",
          `${at127()}/greet.v1.GreetService/Greet?connect=v1&encoding=json&message=%7B%22name%22%3A%22curl%22%7D`,
        ]),
      ]);
      expect(post.code, show(post)).toBe(0);
      expect(JSON.parse(post.stdout)).toMatchObject({ greeting: "Hello, curl!", pod: expect.stringMatching(/^pod-[abc]$/) });
      expect(get.code, show(get)).toBe(0);
      expect(JSON.parse(get.stdout)).toMatchObject({ greeting: "Hello, get!" });
      expect(getCached.code, show(getCached)).toBe(0);
      expect(getCached.stdout).toMatch(/^HTTP\/1\.1 200 /);
      expect(getCached.stdout).toMatch(new RegExp(`^cache-control: ${CACHE_CONTROL}\\r?$`, "im"));
      expect(getCached.stdout).toContain('{"greeting":"Hello, curl!","pod":"greet-1"}');
    });
  });
});

describe("schema-aware gateway: pods without reflection, schema from a descriptor set", () => {
  let tmp: string;
  let harness: Harness;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "edgegate-schema-aware-"));
    const descriptorSet = path.join(tmp, "x.binpb");
    const built = await run(buf, ["build", "proto", "-o", descriptorSet], root);
    expect(built.code, show(built)).toBe(0);
    harness = await startHarness({
      pods: 2,
      podReflection: false,
      config: (pods) => ({
        backends: [
          {
            name: "pods",
            discovery: { static: { endpoints: pods.map(addressOf) } },
            schemas: { reflection: false, descriptorSets: [descriptorSet] },
          },
        ],
      }),
    });
  });

  afterAll(async () => {
    await harness?.close();
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  it("serves JSON, GET and reflection from the descriptor set", async () => {
    const pod = harness.pods[0];
    if (pod === undefined) throw new Error("no pod");
    const [direct, listed, called] = await Promise.all([
      // The pods themselves cannot tell anyone their schema…
      bufCurl(["--http2-prior-knowledge", "--list-services", `http://${addressOf(pod)}`]),
      // …the gateway can, from the descriptor set.
      bufCurl(["--http2-prior-knowledge", "--list-services", harness.baseUrl]),
      bufCurl(["--protocol", "connect", "-d", '{"big":"-9007199254740993","color":"COLOR_RED"}', `${harness.baseUrl}/probe.v1.ProbeService/Probe`]),
    ]);
    expect(direct.code, show(direct)).not.toBe(0);
    expect(direct.stderr).toMatch(/unimplemented/i);
    expect(listed.code, show(listed)).toBe(0);
    expect(listed.stdout.split("\n")).toEqual(expect.arrayContaining(["greet.v1.GreetService", "probe.v1.ProbeService"]));
    expect(called.code, show(called)).toBe(0);
    expect(JSON.parse(called.stdout)).toMatchObject({ big: "-9007199254740993", color: "COLOR_RED" });

    for (const httpVersion of httpVersions) {
      const transport = connectTransport(harness.baseUrl, { json: true, httpVersion });
      const res = await createClient(ProbeService, transport).probe({ at, big, color: Color.GREEN });
      expect([res.at, res.big, res.color]).toEqual([at, big, Color.GREEN]);
      const stream = [];
      for await (const m of createClient(GreetService, transport).greetStream({ name: "set", count: 2 })) {
        stream.push(m.greeting);
      }
      expect(stream).toEqual(["Hello, set! (1/2)", "Hello, set! (2/2)"]);
    }
    const get = await request(`${harness.baseUrl}/greet.v1.GreetService/Greet${getQuery({ encoding: "json", message: '{"name":"set"}' })}`);
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body.toString())).toMatchObject({ greeting: "Hello, set!" });
    expect(logEntries(harness).filter((e) => e.msg === "schema loaded")).toMatchObject([{ backend: "pods" }]);
  });
});

describe("schema-aware gateway: a pod redeployed with a new service", () => {
  const probes: ProbeLog = new Map();
  let pod: Pod;
  let harness: Harness;

  beforeAll(async () => {
    pod = await startPod("pod-v1", greetOnlyPod("pod-v1"));
    harness = await startHarness({ pods: 0, discovery: { static: { endpoints: [addressOf(pod)] } } });
  });

  afterAll(async () => {
    await harness?.close();
    await pod?.close();
  });

  // The redeploy closes the pod with a GOAWAY while the gateway's session to it is open.
  unlessOnDeno(denoGaps.goawayAbort)("a JSON call to the new method is unimplemented before and works after the redeploy", async () => {
    const transport = connectTransport(harness.baseUrl, { json: true, httpVersion: "2" });
    const greet = createClient(GreetService, transport);
    const probe = createClient(ProbeService, transport);
    expect((await greet.greet({ name: "v1" })).pod).toBe("pod-v1");
    const before = await callError(probe.probe({ color: Color.RED }));
    expect(before.code).toBe(Code.Unimplemented);
    expect(before.rawMessage).toBe('probe.v1.ProbeService/Probe is not in the schema of backend "pods" (its pods do not serve it)');

    // Redeploy: same address, now serving probe.v1 too (and reflecting it).
    const port = pod.address.port;
    await pod.close();
    pod = await startPod("pod-v2", podRoutes("pod-v2", probes), { host: "127.0.0.1", port });

    // The refresh on a miss is rate-limited (2 s): the gateway looks again on a later call.
    await vi.waitFor(
      async () => {
        const res = await probe.probe({ color: Color.RED, big });
        expect([res.pod, res.color, res.big]).toEqual(["pod-v2", Color.RED, big]);
      },
      { timeout: 8_000, interval: 250 },
    );
    expect(logEntries(harness).filter((e) => e.msg === "schema reloaded")).toMatchObject([
      { backend: "pods", services: ["greet.v1.GreetService", "probe.v1.ProbeService"] },
    ]);
    expect((await greet.greet({ name: "v2" })).pod).toBe("pod-v2");
  });
});
