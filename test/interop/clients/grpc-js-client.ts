import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import {
  decodeProbeDetail,
  decodeRpcStatus,
  echoInitial,
  echoTrailing,
  loadProbePackage,
  probeDetailTypeUrl,
  type ProbeRequestInit,
  type ProbeResponse,
  type ProbeServiceClient,
  probeServiceConstructor,
  statusDetailsKey,
} from "../stacks/grpc-js/probe-proto.ts";
import { type CaseOutcome, type InteropCase, type InteropClient, interopCases, type InteropTarget } from "./interop-client.ts";

/**
 * @grpc/grpc-js as the client of the interop matrix (issue 14: grpc-js
 * clients got every error of a real pod as INTERNAL through the gateway,
 * while the suite, whose clients were ours, stayed green). It calls as a
 * grpc-js user does: a client class from proto-loader + grpc-js for
 * probe.v1, grpc-health-check's service definition for grpc.health.v1,
 * `makeUnaryRequest` for methods no .proto has; TLS through
 * `grpc.credentials.createSsl` with the target name override, h2c otherwise;
 * client compression through the channel option
 * `grpc.default_compression_algorithm`. Each case (test/interop/README.md,
 * named as grpc/grpc doc/interop-test-descriptions.md names them) has its
 * own 10 s deadline and checks every expectation the README gives, saying
 * what it expected and what came.
 */

const packageDefinition = loadProbePackage();
const ProbeService = probeServiceConstructor(packageDefinition);
const HealthService = grpc.makeClientConstructor(healthService as grpc.ServiceDefinition, "grpc.health.v1.Health");

/** grpc-js's values for `grpc.default_compression_algorithm` (compression-algorithms.ts). */
const gzip = 2;

const caseDeadlineMs = 10_000;

interface HealthClient extends grpc.Client {
  Check(
    request: { service: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<{ status: string }>,
  ): grpc.ClientUnaryCall;
}

/** The channels of one run; every client made is closed when the run ends. */
class Channels {
  private readonly clients: grpc.Client[] = [];
  private plain: ProbeServiceClient | undefined;
  private readonly target: InteropTarget;
  constructor(target: InteropTarget) {
    this.target = target;
  }

  private options(extra: grpc.ChannelOptions = {}): grpc.ChannelOptions {
    const tls = this.target.tls;
    return tls === undefined ? extra : { "grpc.ssl_target_name_override": tls.serverName, ...extra };
  }

  private credentials(): grpc.ChannelCredentials {
    const tls = this.target.tls;
    return tls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(readFileSync(tls.caFile));
  }

  private keep<C extends grpc.Client>(client: C): C {
    this.clients.push(client);
    return client;
  }

  /** The channel the uncompressed cases share, as one client of an app would. */
  probe(): ProbeServiceClient {
    this.plain ??= this.keep(new ProbeService(this.target.address, this.credentials(), this.options()) as unknown as ProbeServiceClient);
    return this.plain;
  }

  /**
   * A new channel that gzips every request message. New for each case: grpc-js
   * stops compressing on a channel whose server once answered a
   * `grpc-accept-encoding` without gzip, so a fresh channel's first call is
   * the one certain to go compressed.
   */
  gzipProbe(): ProbeServiceClient {
    return this.keep(
      new ProbeService(
        this.target.address,
        this.credentials(),
        this.options({ "grpc.default_compression_algorithm": gzip }),
      ) as unknown as ProbeServiceClient,
    );
  }

  health(): HealthClient {
    return this.keep(new HealthService(this.target.address, this.credentials(), this.options()) as unknown as HealthClient);
  }

  generic(): grpc.Client {
    return this.keep(new grpc.Client(this.target.address, this.credentials(), this.options()));
  }

  close(): void {
    for (const client of this.clients) {
      client.close();
    }
  }
}

/** A unary (or client-stream) call's end: the answer or the error, the response headers, the status with trailers. */
interface UnaryResult<T> {
  response: T | undefined;
  error: grpc.ServiceError | undefined;
  headers: grpc.Metadata | undefined;
  status: grpc.StatusObject;
}

/** Runs a call made with the callback `start` hands it; resolves once both the callback and 'status' came. */
function unaryCall<T, C extends grpc.ClientUnaryCall | grpc.ClientWritableStream<unknown>>(
  start: (callback: grpc.requestCallback<T>) => C,
  whileRunning: (call: C) => void = () => {},
): Promise<UnaryResult<T>> {
  let headers: grpc.Metadata | undefined;
  let call!: C;
  const answered = new Promise<{ response: T | undefined; error: grpc.ServiceError | undefined }>((resolve) => {
    call = start((error, response) => resolve({ response: error === null ? response : undefined, error: error ?? undefined }));
  });
  call.on("metadata", (metadata: grpc.Metadata) => {
    headers = metadata;
  });
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  whileRunning(call);
  return Promise.all([answered, status]).then(([a, s]) => ({ ...a, headers, status: s }));
}

/** A response stream read message by message (ping_pong waits for each answer before the next request). */
class StreamReader<T> {
  private readonly messages: T[] = [];
  private readonly waiting: ((m: T | undefined) => void)[] = [];
  private ended = false;
  headers: grpc.Metadata | undefined;
  error: grpc.ServiceError | undefined;
  readonly status: Promise<grpc.StatusObject>;
  received = 0;

  constructor(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>) {
    call.on("metadata", (metadata: grpc.Metadata) => {
      this.headers = metadata;
    });
    call.on("data", (message: T) => {
      this.received++;
      const waiter = this.waiting.shift();
      if (waiter === undefined) {
        this.messages.push(message);
      } else {
        waiter(message);
      }
    });
    const end = () => {
      this.ended = true;
      for (const waiter of this.waiting.splice(0)) {
        waiter(undefined);
      }
    };
    call.on("error", (error: grpc.ServiceError) => {
      this.error = error;
      end();
    });
    call.on("end", end);
    this.status = new Promise((resolve) => call.on("status", resolve));
  }

  /** The next message, or `undefined` when the stream ended (with `error`, or OK). */
  next(): Promise<T | undefined> {
    const message = this.messages.shift();
    if (message !== undefined || this.ended) {
      return Promise.resolve(message);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Every message left, then the status. */
  async rest(): Promise<{ messages: T[]; status: grpc.StatusObject }> {
    const messages: T[] = [];
    for (let m = await this.next(); m !== undefined; m = await this.next()) {
      messages.push(m);
    }
    return { messages, status: await this.status };
  }
}

function codeName(code: number): string {
  return grpc.status[code] ?? String(code);
}

function describeStatus(s: { code: number; details: string }): string {
  return `${codeName(s.code)} ${JSON.stringify(s.details)}`;
}

/** The problems of a call expected to end OK. */
function expectOk(what: string, status: grpc.StatusObject): string[] {
  return status.code === grpc.status.OK ? [] : [`${what}: expected OK, got ${describeStatus(status)}`];
}

/** The problems of a call expected to fail with `code` (and `details`, when given). */
function expectStatus(what: string, status: grpc.StatusObject, code: grpc.status, details?: string): string[] {
  if (status.code === code && (details === undefined || status.details === details)) {
    return [];
  }
  const wanted = details === undefined ? codeName(code) : `${codeName(code)} ${JSON.stringify(details)}`;
  return [`${what}: expected ${wanted}, got ${describeStatus(status)}`];
}

/** The problems of a payload expected to be `size` bytes of `a`. */
function expectPayload(what: string, payload: Buffer | undefined, size: number): string[] {
  const length = payload?.length ?? 0;
  if (length !== size) {
    return [`${what}: expected a payload of ${size} bytes, got ${length}`];
  }
  if (payload !== undefined && size > 0 && !payload.every((b) => b === 0x61)) {
    return [`${what}: expected ${size} bytes of 0x61, got other bytes`];
  }
  return [];
}

function expectEqual(what: string, got: unknown, wanted: unknown): string[] {
  return got === wanted ? [] : [`${what}: expected ${JSON.stringify(wanted)}, got ${JSON.stringify(got)}`];
}

function options(deadlineMs = caseDeadlineMs): grpc.CallOptions {
  return { deadline: new Date(Date.now() + deadlineMs) };
}

/** The request sizes of the interop tests' large_unary, client_streaming, ping_pong and server_streaming. */
const largeRequest = 271828;
const largeResponse = 314159;
const streamRequests = [27182, 8, 1828, 45904] as const;
const pingPongResponses = [31415, 9, 2653, 58979] as const;
const streamResponse = 31415;

async function largeUnary(client: ProbeServiceClient, extra: ProbeRequestInit = {}): Promise<string[]> {
  const r = await unaryCall<ProbeResponse, grpc.ClientUnaryCall>((cb) =>
    client.Probe(
      { payload: Buffer.alloc(largeRequest), payload_size: largeResponse, ...extra },
      new grpc.Metadata(),
      options(),
      cb,
    ),
  );
  if (r.response === undefined) {
    return expectOk("Probe", r.status);
  }
  return [
    ...expectOk("Probe", r.status),
    ...expectPayload("Probe", r.response.payload, largeResponse),
    ...expectEqual("Probe received_bytes", String(r.response.received_bytes), String(largeRequest)),
  ];
}

async function clientStreaming(client: ProbeServiceClient): Promise<string[]> {
  const r = await unaryCall<ProbeResponse, grpc.ClientWritableStream<ProbeRequestInit>>(
    (cb) => client.ProbeClientStream(new grpc.Metadata(), options(), cb),
    (call) => {
      for (const size of streamRequests) {
        call.write({ payload: Buffer.alloc(size) });
      }
      call.end();
    },
  );
  if (r.response === undefined) {
    return expectOk("ProbeClientStream", r.status);
  }
  const total = streamRequests.reduce((a, b) => a + b, 0);
  return [
    ...expectOk("ProbeClientStream", r.status),
    ...expectEqual("ProbeClientStream count", r.response.count, streamRequests.length),
    ...expectEqual("ProbeClientStream received_bytes", String(r.response.received_bytes), String(total)),
  ];
}

async function serverStreaming(client: ProbeServiceClient, extra: ProbeRequestInit = {}): Promise<string[]> {
  const reader = new StreamReader(
    client.ProbeStream({ count: 4, payload_size: streamResponse, ...extra }, new grpc.Metadata(), options()),
  );
  const { messages, status } = await reader.rest();
  const problems = [...expectOk("ProbeStream", status), ...expectEqual("ProbeStream answers", messages.length, 4)];
  messages.forEach((m, i) => {
    problems.push(...expectEqual(`ProbeStream answer ${i} index`, m.index, i));
    problems.push(...expectPayload(`ProbeStream answer ${i}`, m.payload, streamResponse));
  });
  return problems;
}

function echoMetadata(): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(echoInitial, "test_initial_metadata_value");
  metadata.set(echoTrailing, Buffer.from([0xab, 0xab, 0xab]));
  return metadata;
}

/** The problems of headers and trailers expected to carry the custom_metadata echoes. */
function expectEchoes(what: string, headers: grpc.Metadata | undefined, trailers: grpc.Metadata): string[] {
  const problems: string[] = [];
  const initial = headers?.get(echoInitial) ?? [];
  if (initial.length !== 1 || initial[0] !== "test_initial_metadata_value") {
    problems.push(`${what}: expected response header ${echoInitial}: test_initial_metadata_value, got ${JSON.stringify(initial.map(String))}`);
  }
  const trailing = trailers.get(echoTrailing);
  const value = trailing[0];
  if (trailing.length !== 1 || !Buffer.isBuffer(value) || !value.equals(Buffer.from([0xab, 0xab, 0xab]))) {
    const got = trailing.map((v) => (Buffer.isBuffer(v) ? `0x${v.toString("hex")}` : JSON.stringify(v)));
    problems.push(`${what}: expected trailer ${echoTrailing}: 0xababab, got [${got.join(", ")}]`);
  }
  return problems;
}

/** A failure both in Probe and in ProbeBidi (status_code_and_message, special_status_message). */
async function statusBothWays(channels: Channels, message: string): Promise<string[]> {
  const client = channels.probe();
  const unary = await unaryCall<ProbeResponse, grpc.ClientUnaryCall>((cb) =>
    client.Probe({ fail_code: 2, fail_message: message }, new grpc.Metadata(), options(), cb),
  );
  const bidi = client.ProbeBidi(new grpc.Metadata(), options());
  const reader = new StreamReader(bidi);
  bidi.write({ fail_code: 2, fail_message: message });
  bidi.end();
  const { messages, status } = await reader.rest();
  return [
    ...expectStatus("Probe", unary.status, grpc.status.UNKNOWN, message),
    ...expectStatus("ProbeBidi", status, grpc.status.UNKNOWN, message),
    ...expectEqual("ProbeBidi answers", messages.length, 0),
  ];
}

/** Calls `path`, which the pod does not serve, with an empty message. */
async function unimplemented(channels: Channels, path: string): Promise<string[]> {
  const client = channels.generic();
  const identity = (b: Buffer) => b;
  const r = await unaryCall<Buffer, grpc.ClientUnaryCall>((cb) =>
    client.makeUnaryRequest(path, identity, identity, Buffer.alloc(0), new grpc.Metadata(), options(), cb),
  );
  return expectStatus(path, r.status, grpc.status.UNIMPLEMENTED);
}

const runCase: Record<InteropCase, (channels: Channels) => Promise<string[]>> = {
  async empty_unary(channels) {
    const r = await unaryCall<ProbeResponse, grpc.ClientUnaryCall>((cb) =>
      channels.probe().Probe({}, new grpc.Metadata(), options(), cb),
    );
    if (r.response === undefined) {
      return expectOk("Probe", r.status);
    }
    return [
      ...expectOk("Probe", r.status),
      ...(r.response.pod === "" ? ["Probe: expected pod set, got an empty pod"] : []),
      ...expectPayload("Probe", r.response.payload, 0),
    ];
  },

  large_unary: (channels) => largeUnary(channels.probe()),

  client_streaming: (channels) => clientStreaming(channels.probe()),

  server_streaming: (channels) => serverStreaming(channels.probe()),

  async ping_pong(channels) {
    const call = channels.probe().ProbeBidi(new grpc.Metadata(), options());
    const reader = new StreamReader(call);
    const problems: string[] = [];
    for (let i = 0; i < streamRequests.length; i++) {
      call.write({ payload: Buffer.alloc(streamRequests[i]!), payload_size: pingPongResponses[i]! });
      const answer = await reader.next();
      if (answer === undefined) {
        const status = await reader.status;
        return [...problems, `ProbeBidi: expected answer ${i}, got the end of the stream: ${describeStatus(status)}`];
      }
      problems.push(...expectEqual(`ProbeBidi answer ${i} index`, answer.index, i));
      problems.push(...expectPayload(`ProbeBidi answer ${i}`, answer.payload, pingPongResponses[i]!));
    }
    call.end();
    const { messages, status } = await reader.rest();
    return [...problems, ...expectEqual("ProbeBidi answers after the last request", messages.length, 0), ...expectOk("ProbeBidi", status)];
  },

  async empty_stream(channels) {
    const call = channels.probe().ProbeBidi(new grpc.Metadata(), options());
    const reader = new StreamReader(call);
    call.end();
    const { messages, status } = await reader.rest();
    return [...expectEqual("ProbeBidi answers", messages.length, 0), ...expectOk("ProbeBidi", status)];
  },

  async custom_metadata(channels) {
    const client = channels.probe();
    const unary = await unaryCall<ProbeResponse, grpc.ClientUnaryCall>((cb) =>
      client.Probe({}, echoMetadata(), options(), cb),
    );
    const bidi = client.ProbeBidi(echoMetadata(), options());
    const reader = new StreamReader(bidi);
    bidi.write({});
    bidi.end();
    const { messages, status } = await reader.rest();
    return [
      ...expectOk("Probe", unary.status),
      ...expectEchoes("Probe", unary.headers, unary.status.metadata),
      ...expectOk("ProbeBidi", status),
      ...expectEqual("ProbeBidi answers", messages.length, 1),
      ...expectEchoes("ProbeBidi", reader.headers, status.metadata),
    ];
  },

  status_code_and_message: (channels) => statusBothWays(channels, "test status message"),

  special_status_message: (channels) =>
    statusBothWays(channels, "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"),

  unimplemented_method: (channels) => unimplemented(channels, "/probe.v1.ProbeService/NoSuchMethod"),

  unimplemented_service: (channels) => unimplemented(channels, "/probe.v1.NoSuchService/Probe"),

  async timeout_on_sleeping_server(channels) {
    const r = await unaryCall<ProbeResponse, grpc.ClientUnaryCall>((cb) =>
      channels.probe().Probe({ sleep_ms: 5000 }, new grpc.Metadata(), options(100), cb),
    );
    return expectStatus("Probe with a 100 ms deadline", r.status, grpc.status.DEADLINE_EXCEEDED);
  },

  async cancel_after_begin(channels) {
    const r = await unaryCall<ProbeResponse, grpc.ClientWritableStream<ProbeRequestInit>>(
      (cb) => channels.probe().ProbeClientStream(new grpc.Metadata(), options(), cb),
      (call) => call.cancel(),
    );
    return expectStatus("ProbeClientStream cancelled before any request", r.status, grpc.status.CANCELLED);
  },

  async cancel_after_first_response(channels) {
    const call = channels.probe().ProbeBidi(new grpc.Metadata(), options());
    const reader = new StreamReader(call);
    call.write({ payload: Buffer.alloc(streamRequests[0]), payload_size: streamResponse });
    const answer = await reader.next();
    if (answer === undefined) {
      return [`ProbeBidi: expected a first answer, got the end of the stream: ${describeStatus(await reader.status)}`];
    }
    call.cancel();
    const status = await reader.status;
    return [
      ...expectPayload("ProbeBidi answer 0", answer.payload, streamResponse),
      ...expectStatus("ProbeBidi cancelled after its first answer", status, grpc.status.CANCELLED),
    ];
  },

  client_compressed_unary: (channels) => largeUnary(channels.gzipProbe()),

  // grpc-js cannot tell whether an answer came compressed; a pod that cannot compress per call answers uncompressed.
  server_compressed_unary: (channels) => largeUnary(channels.probe(), { response_compression: "gzip" }),

  client_compressed_streaming: (channels) => clientStreaming(channels.gzipProbe()),

  server_compressed_streaming: (channels) => serverStreaming(channels.probe(), { response_compression: "gzip" }),

  async error_details(channels) {
    const r = await unaryCall<ProbeResponse, grpc.ClientUnaryCall>((cb) =>
      channels.probe().Probe({ fail_code: 9, fail_message: "precondition", fail_detail: "why" }, new grpc.Metadata(), options(), cb),
    );
    const problems = expectStatus("Probe", r.status, grpc.status.FAILED_PRECONDITION, "precondition");
    const bin = r.status.metadata.get(statusDetailsKey)[0];
    if (!Buffer.isBuffer(bin)) {
      return [...problems, `Probe: expected a ${statusDetailsKey} trailer, got none`];
    }
    const status = decodeRpcStatus(bin);
    problems.push(...expectEqual("google.rpc.Status code", status.code, 9));
    problems.push(...expectEqual("google.rpc.Status message", status.message, "precondition"));
    const typeUrls = status.details.map((d) => d.typeUrl);
    if (status.details.length !== 1 || typeUrls[0] !== probeDetailTypeUrl) {
      return [...problems, `google.rpc.Status details: expected one ${probeDetailTypeUrl}, got ${JSON.stringify(typeUrls)}`];
    }
    const detail = decodeProbeDetail(status.details[0]!.value);
    problems.push(...expectEqual("ProbeDetail text", detail.text, "why"));
    if (detail.pod === "") {
      problems.push("ProbeDetail pod: expected the pod's name, got an empty pod");
    }
    return problems;
  },

  async health(channels) {
    const client = channels.health();
    const check = (service: string) =>
      unaryCall<{ status: string }, grpc.ClientUnaryCall>((cb) => client.Check({ service }, new grpc.Metadata(), options(), cb));
    const problems: string[] = [];
    for (const service of ["", "probe.v1.ProbeService"]) {
      const r = await check(service);
      problems.push(...expectOk(`Check(${JSON.stringify(service)})`, r.status));
      if (r.response !== undefined) {
        problems.push(...expectEqual(`Check(${JSON.stringify(service)}) status`, r.response.status, "SERVING"));
      }
    }
    const unknown = await check("no.such.Service");
    problems.push(...expectStatus(`Check("no.such.Service")`, unknown.status, grpc.status.NOT_FOUND));
    return problems;
  },
};

export const grpcJsClient: InteropClient = {
  id: "grpc-js",
  cases: interopCases,
  unavailable: () => undefined,
  async run(target, cases) {
    const channels = new Channels(target);
    const outcomes: CaseOutcome[] = [];
    try {
      for (const name of cases) {
        let problems: string[];
        try {
          problems = await runCase[name](channels);
        } catch (error) {
          problems = [`the case threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`];
        }
        outcomes.push({ case: name, ok: problems.length === 0, detail: problems.join("; ") });
      }
    } finally {
      channels.close();
    }
    return outcomes;
  },
};
