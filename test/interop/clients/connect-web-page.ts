/// <reference lib="dom" />
// The interop page: connect-web (Connect JSON, Connect binary, gRPC-Web) in
// Chromium, on another origin than the gateway's, running one interop case
// per call of `window.interopCase` (connect-web-client.ts drives it). Bundled
// by esbuild at run time. Only what connect-web can express over fetch is
// here: unary and server-streaming calls, no client streams, no compression.
import { create, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import {
  type CallOptions,
  Code,
  ConnectError,
  createClient,
  decodeBinaryHeader,
  encodeBinaryHeader,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import {
  Health,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponse_ServingStatusSchema,
} from "../../../src/gen/grpc/health/v1/health_pb.ts";
import { ProbeDetailSchema, ProbeRequestSchema, ProbeService } from "../../../src/gen/probe/v1/probe_pb.ts";
import type { InteropCase } from "./interop-client.ts";

/** The transports of connect-web the page can use. */
export type PageTransport = "connect-json" | "connect-binary" | "grpc-web";

/** One case to run: where, over what. */
export interface PageCaseRequest {
  /** `http://127.0.0.1:PORT` or `https://NAME:PORT` of the target. */
  readonly baseUrl: string;
  readonly transport: PageTransport;
  readonly case: InteropCase;
}

/** How it went: `detail` is "" when `ok`, else the expectation and what came. */
export interface PageCaseResult {
  readonly ok: boolean;
  readonly detail: string;
}

declare global {
  interface Window {
    /** Set once the page has loaded. */
    interopReady?: boolean;
    interopCase?: (request: PageCaseRequest) => Promise<PageCaseResult>;
  }
}

/** Each case has this long, whatever it waits for. */
const CASE_TIMEOUT_MS = 10_000;

const ECHO_INITIAL = "x-grpc-test-echo-initial";
const ECHO_INITIAL_VALUE = "test_initial_metadata_value";
const ECHO_TRAILING = "x-grpc-test-echo-trailing-bin";
const ECHO_TRAILING_VALUE = new Uint8Array([0xab, 0xab, 0xab]);
const SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

type ProbeClient = ReturnType<typeof createClient<typeof ProbeService>>;

interface CaseContext {
  readonly transport: Transport;
  readonly probe: ProbeClient;
  /** Options every call of the case carries (the case's timeout signal). */
  readonly options: CallOptions;
  readonly signal: AbortSignal;
}

/** Runs one case: a list of what differed from the expectation (empty: ok). */
type CaseFn = (ctx: CaseContext) => Promise<string[]>;

const cases: Partial<Record<InteropCase, CaseFn>> = {
  async empty_unary({ probe, options }) {
    const res = await probe.probe({}, options);
    return [
      ...expectEqual("payload length", 0, res.payload.length),
      ...(res.pod === "" ? ["expected pod set, got \"\""] : []),
    ];
  },

  async large_unary({ probe, options }) {
    const res = await probe.probe({ payload: new Uint8Array(271_828), payloadSize: 314_159 }, options);
    return [
      ...expectEqual("payload length", 314_159, res.payload.length),
      ...expectEqual("payload bytes not 0x61", 0, res.payload.filter((b) => b !== 0x61).length),
      ...expectEqual("received_bytes", "271828", String(res.receivedBytes)),
    ];
  },

  async server_streaming({ probe, options }) {
    const indexes: number[] = [];
    const sizes: number[] = [];
    for await (const res of probe.probeStream({ count: 4, payloadSize: 31_415 }, options)) {
      indexes.push(res.index);
      sizes.push(res.payload.length);
    }
    return [
      ...expectEqual("answer indexes", "[0,1,2,3]", JSON.stringify(indexes)),
      ...expectEqual("answer payload sizes", "[31415,31415,31415,31415]", JSON.stringify(sizes)),
    ];
  },

  // The interop description asks for UnaryCall and FullDuplexCall; fetch has
  // no bidi streams, so the second half is a server stream here.
  async custom_metadata({ probe, options }) {
    const headers = { [ECHO_INITIAL]: ECHO_INITIAL_VALUE, [ECHO_TRAILING]: encodeBinaryHeader(ECHO_TRAILING_VALUE) };
    const problems: string[] = [];
    {
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      const res = await probe.probe(
        { payload: new Uint8Array(271_828), payloadSize: 314_159 },
        { ...options, headers, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
      );
      problems.push(...expectEqual("Probe: payload length", 314_159, res.payload.length));
      problems.push(...expectEcho("Probe", header, trailer));
    }
    {
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      let answers = 0;
      for await (const _ of probe.probeStream(
        { count: 1, payloadSize: 8 },
        { ...options, headers, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
      )) {
        answers++;
      }
      problems.push(...expectEqual("ProbeStream: answers", 1, answers));
      problems.push(...expectEcho("ProbeStream", header, trailer));
    }
    return problems;
  },

  // The interop description asks for UnaryCall and FullDuplexCall; the second
  // half is a server stream failing before any answer (Trailers-Only in gRPC).
  async status_code_and_message({ probe, options }) {
    const request = { failCode: Code.Unknown, failMessage: "test status message" };
    return [
      ...expectError("Probe", Code.Unknown, "test status message", await failure(() => probe.probe(request, options))),
      ...expectError(
        "ProbeStream",
        Code.Unknown,
        "test status message",
        await failure(async () => {
          for await (const _ of probe.probeStream(request, options)) {
            // no answers expected
          }
        }),
      ),
    ];
  },

  async special_status_message({ probe, options }) {
    const request = { failCode: Code.Unknown, failMessage: SPECIAL_MESSAGE };
    return expectError("Probe", Code.Unknown, SPECIAL_MESSAGE, await failure(() => probe.probe(request, options)));
  },

  async unimplemented_method({ transport, signal }) {
    const probeMethod = ProbeService.method.probe;
    const method: DescMethodUnary<typeof ProbeRequestSchema, typeof probeMethod.output> = {
      ...probeMethod,
      name: "NoSuchMethod",
      localName: "noSuchMethod",
    };
    return expectError(
      "/probe.v1.ProbeService/NoSuchMethod",
      Code.Unimplemented,
      undefined,
      await failure(() => transport.unary(method, signal, undefined, undefined, create(ProbeRequestSchema))),
    );
  },

  async unimplemented_service({ transport, signal }) {
    const probeMethod = ProbeService.method.probe;
    const service: DescService = { ...ProbeService, typeName: "probe.v1.NoSuchService", name: "NoSuchService" };
    const method: DescMethodUnary<typeof ProbeRequestSchema, typeof probeMethod.output> = {
      ...probeMethod,
      parent: service,
    };
    return expectError(
      "/probe.v1.NoSuchService/Probe",
      Code.Unimplemented,
      undefined,
      await failure(() => transport.unary(method, signal, undefined, undefined, create(ProbeRequestSchema))),
    );
  },

  async timeout_on_sleeping_server({ probe, options }) {
    const started = performance.now();
    const error = await failure(() => probe.probe({ sleepMs: 5_000 }, { ...options, timeoutMs: 100 }));
    const elapsed = Math.round(performance.now() - started);
    const problems = expectError("Probe (100 ms deadline)", Code.DeadlineExceeded, undefined, error);
    return problems.length === 0 ? [] : [...problems, `(after ${elapsed} ms)`];
  },

  async error_details({ probe, options }) {
    const error = await failure(() =>
      probe.probe({ failCode: Code.FailedPrecondition, failMessage: "precondition", failDetail: "why" }, options)
    );
    const problems = expectError("Probe", Code.FailedPrecondition, "precondition", error);
    if (error instanceof ConnectError) {
      const details = error.findDetails(ProbeDetailSchema);
      const got = details.map((d) => ({ text: d.text, pod: d.pod }));
      if (details.length !== 1 || details[0]?.text !== "why" || details[0].pod === "") {
        problems.push(
          `expected one detail ProbeDetail{text: "why", pod: <set>}, got ${JSON.stringify(got)} ` +
            `(${error.details.length} detail(s) in all)`,
        );
      }
    }
    return problems;
  },

  async health({ transport, options }) {
    const health = createClient(Health, transport);
    const problems: string[] = [];
    for (const service of ["", "probe.v1.ProbeService"]) {
      try {
        const res = await health.check({ service }, options);
        problems.push(
          ...expectEqual(
            `Check("${service}")`,
            servingStatus(HealthCheckResponse_ServingStatus.SERVING),
            servingStatus(res.status),
          ),
        );
      } catch (e) {
        problems.push(`Check("${service}"): expected SERVING, got ${describeError(e)}`);
      }
    }
    const error = await failure(() => health.check({ service: "no.such.Service" }, options));
    problems.push(...expectError(`Check("no.such.Service")`, Code.NotFound, undefined, error));
    return problems;
  },
};

function createTransport(kind: PageTransport, baseUrl: string): Transport {
  switch (kind) {
    case "connect-json":
      return createConnectTransport({ baseUrl, useBinaryFormat: false });
    case "connect-binary":
      return createConnectTransport({ baseUrl, useBinaryFormat: true });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl });
  }
}

async function runCase(request: PageCaseRequest): Promise<PageCaseResult> {
  const fn = cases[request.case];
  if (fn === undefined) {
    return { ok: false, detail: `the connect-web page has no case ${request.case}` };
  }
  const transport = createTransport(request.transport, request.baseUrl);
  const controller = new AbortController();
  const ctx: CaseContext = {
    transport,
    probe: createClient(ProbeService, transport),
    options: { signal: controller.signal },
    signal: controller.signal,
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new ConnectError(`the case did not finish within ${CASE_TIMEOUT_MS} ms`, Code.DeadlineExceeded));
      resolve([`expected the case to finish within ${CASE_TIMEOUT_MS} ms, it did not`]);
    }, CASE_TIMEOUT_MS);
  });
  try {
    const problems = await Promise.race([
      fn(ctx).catch((e: unknown) => [`expected success, got ${describeError(e)}`]),
      timedOut,
    ]);
    return { ok: problems.length === 0, detail: problems.join("; ") };
  } finally {
    clearTimeout(timer);
  }
}

/** The error a call failed with, or `undefined` when it succeeded. */
async function failure(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (e) {
    return e;
  }
}

function expectEqual(what: string, expected: unknown, got: unknown): string[] {
  return expected === got ? [] : [`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`];
}

/** Checks a failure's code and, when given, its message (exactly as the pod set it). */
function expectError(what: string, code: Code, message: string | undefined, error: unknown): string[] {
  const expected = `${Code[code]}${message === undefined ? "" : ` ${JSON.stringify(message)}`}`;
  if (error === undefined) {
    return [`${what}: expected ${expected}, got success`];
  }
  if (!(error instanceof ConnectError)) {
    return [`${what}: expected ${expected}, got ${describeError(error)}`];
  }
  if (error.code !== code || (message !== undefined && error.rawMessage !== message)) {
    return [`${what}: expected ${expected}, got ${Code[error.code]} ${JSON.stringify(error.rawMessage)}`];
  }
  return [];
}

/** Checks the echo of custom_metadata: the initial value as a header, the binary one as a trailer. */
function expectEcho(what: string, header: Headers | undefined, trailer: Headers | undefined): string[] {
  const problems: string[] = [];
  const initial = header?.get(ECHO_INITIAL) ?? null;
  if (initial !== ECHO_INITIAL_VALUE) {
    problems.push(
      `${what}: expected header ${ECHO_INITIAL}: ${ECHO_INITIAL_VALUE}, got ${initial === null ? "none" : JSON.stringify(initial)}` +
        ` (response headers the page can read: ${names(header)})`,
    );
  }
  const trailing = trailer?.get(ECHO_TRAILING) ?? null;
  let bytes: string | undefined;
  try {
    bytes = trailing === null ? undefined : hex(decodeBinaryHeader(trailing));
  } catch {
    bytes = undefined;
  }
  if (bytes !== hex(ECHO_TRAILING_VALUE)) {
    problems.push(
      `${what}: expected trailer ${ECHO_TRAILING}: ${hex(ECHO_TRAILING_VALUE)} (base64 ${encodeBinaryHeader(ECHO_TRAILING_VALUE)}), ` +
        `got ${trailing === null ? "none" : `${JSON.stringify(trailing)}${bytes === undefined ? "" : ` (${bytes})`}`}` +
        ` (trailers the page can read: ${names(trailer)})`,
    );
  }
  return problems;
}

function names(headers: Headers | undefined): string {
  if (headers === undefined) {
    return "none";
  }
  const list = [...headers.keys()];
  return list.length === 0 ? "none" : list.join(", ");
}

function hex(bytes: Uint8Array): string {
  return `0x${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function servingStatus(status: number): string {
  return HealthCheckResponse_ServingStatusSchema.values.find((v) => v.number === status)?.name ?? String(status);
}

function describeError(e: unknown): string {
  if (e instanceof ConnectError) {
    return `${Code[e.code]} ${JSON.stringify(e.rawMessage)}`;
  }
  return `a non-ConnectError ${e instanceof Error ? `${e.name}: ${e.message}` : JSON.stringify(e)}`;
}

window.interopCase = runCase;
window.interopReady = true;
