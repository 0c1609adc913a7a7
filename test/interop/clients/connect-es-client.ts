import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { LookupFunction } from "node:net";
import { create, createFileRegistry, type DescMethodUnary, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, file_google_protobuf_empty } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../../src/gen/grpc/health/v1/health_pb.ts";
import {
  ProbeDetailSchema,
  type ProbeRequestSchema,
  type ProbeResponse,
  ProbeService,
} from "../../../src/gen/probe/v1/probe_pb.ts";
import { type CaseOutcome, type InteropCase, type InteropClient, type InteropTarget, interopCases } from "./interop-client.ts";

// connect-es (@connectrpc/connect + @connectrpc/connect-node) as one of the
// interop matrix's clients (issue 14, test/interop/README.md): the gateway's
// own suites call it with connect-es too, but here every case checks exactly
// what the gRPC interop test descriptions (grpc/grpc
// doc/interop-test-descriptions.md) expect, for each of the three protocols
// connect-es speaks, so a pod stack we did not write meets a client whose
// expectations are the spec's and not our gateway's habits.

/**
 * The inputs and expectations of the cases, as test/interop/README.md gives
 * them; the `buf curl` client (buf-curl-client.ts) runs the same numbers.
 */
export const interopInputs = {
  /** large_unary: request payload bytes (zeros) and response payload size. */
  largeRequestBytes: 271828,
  largeResponseBytes: 314159,
  /** client_streaming: one request per size; the pod counts 4 and sums 74922 bytes. */
  clientStreamBytes: [27182, 8, 1828, 45904],
  /** server_streaming: 4 answers of 31415 bytes. */
  serverStreamCount: 4,
  serverStreamBytes: 31415,
  /** ping_pong: request payload sizes and the response sizes asked for, round by round. */
  pingPongRequestBytes: [27182, 8, 1828, 45904],
  pingPongResponseBytes: [31415, 9, 2653, 58979],
  /** custom_metadata: the header echoed as a header, and the binary one echoed as a trailer. */
  echoInitialName: "x-grpc-test-echo-initial",
  echoInitialValue: "test_initial_metadata_value",
  echoTrailingName: "x-grpc-test-echo-trailing-bin",
  echoTrailingValue: new Uint8Array([0xab, 0xab, 0xab]),
  statusMessage: "test status message",
  specialStatusMessage: "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n",
  /** timeout_on_sleeping_server: the pod sleeps this long; the call's deadline is `deadlineMs`. */
  sleepMs: 5000,
  deadlineMs: 100,
  /** error_details: FAILED_PRECONDITION with ProbeDetail{text: "why", pod}. */
  detailCode: 9,
  detailMessage: "precondition",
  detailText: "why",
  /** health: SERVING for these names, NOT_FOUND for `healthUnknown`. */
  healthServing: ["", "probe.v1.ProbeService"],
  healthUnknown: "no.such.Service",
  /** Every case's own limit: a case that hangs fails by itself instead of stalling the matrix. */
  caseTimeoutMs: 10_000,
} as const;

/**
 * A schema that claims what no pod serves: `probe.v1.ProbeService/NoSuchMethod`
 * and `probe.v1.NoSuchService/Probe` (google.protobuf.Empty in and out), for
 * the unimplemented_method and unimplemented_service cases. Clients need a
 * method descriptor to call anything; this one is made by hand, as a client
 * built from a newer proto than the pod's would have it.
 */
export const unimplementedFile: FileDescriptorProto = create(FileDescriptorProtoSchema, {
  name: "interop/unimplemented.proto",
  package: "probe.v1",
  dependency: [file_google_protobuf_empty.proto.name],
  syntax: "proto3",
  service: [
    {
      name: "ProbeService",
      method: [{ name: "NoSuchMethod", inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty" }],
    },
    {
      name: "NoSuchService",
      method: [{ name: "Probe", inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty" }],
    },
  ],
});

/** The canonical gRPC name of a status code (UNKNOWN, DEADLINE_EXCEEDED, ...), as CaseOutcome details print it. */
export function codeName(code: number): string {
  return codeNames[code] ?? `CODE_${code}`;
}

const codeNames = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

export type ConnectEsProtocol = "connect" | "grpc" | "grpc-web";

export interface ConnectEsClientOptions {
  /** HTTP/2 (h2c, or h2 over TLS) by default; "1.1" for Connect and gRPC-Web as browsers without HTTP/2 send them. */
  readonly httpVersion: "1.1" | "2";
  /** JSON messages (`useBinaryFormat: false`): the gateway transcodes, with the schema it got by reflection. */
  readonly json?: boolean;
}

/** Cases that need a client or bidi stream: HTTP/2 only in connect-node (HTTP/1.1 has no full duplex). */
const fullDuplexCases: readonly InteropCase[] = [
  "client_streaming",
  "ping_pong",
  "empty_stream",
  "cancel_after_begin",
  "cancel_after_first_response",
  "client_compressed_streaming",
];

/**
 * connect-es with one protocol: `connect-es/<protocol>[-json][-h1]`. Over
 * HTTP/2 (the default) it runs every case, gRPC-Web included (connect-node
 * streams requests and responses at once over HTTP/2 whatever the protocol,
 * which a browser's fetch cannot). Over HTTP/1.1 it runs the unary and
 * server-stream cases only, and custom_metadata and status_code_and_message
 * use ProbeStream where the description has a full-duplex call.
 */
export function connectEsClient(protocol: ConnectEsProtocol, options?: ConnectEsClientOptions): InteropClient {
  const httpVersion = options?.httpVersion ?? "2";
  const json = options?.json === true;
  if (protocol === "grpc" && httpVersion === "1.1") {
    throw new Error("gRPC needs HTTP/2");
  }
  const id = `connect-es/${protocol}${json ? "-json" : ""}${httpVersion === "1.1" ? "-h1" : ""}`;
  const cases = httpVersion === "2" ? interopCases : interopCases.filter((c) => !fullDuplexCases.includes(c));
  return {
    id,
    cases,
    unavailable: () => undefined,
    async run(target, wanted) {
      const transports = new Transports(protocol, httpVersion, json, target);
      const outcomes: CaseOutcome[] = [];
      try {
        for (const name of wanted) {
          if (!cases.includes(name)) {
            outcomes.push({ case: name, ok: false, detail: `${id} cannot express ${name}` });
            continue;
          }
          outcomes.push(await runCase(name, transports, httpVersion === "2"));
        }
      } finally {
        transports.close();
      }
      return outcomes;
    },
  };
}

/**
 * The transports of one run, made on first use, each on its own connection:
 * plain (no compression offered either way, as the uncompressed cases of the
 * descriptions are), `gzipSend` (requests compressed, gzip accepted) for the
 * client_compressed cases, `gzipAccept` (gzip accepted only) for the
 * server_compressed ones.
 */
class Transports {
  readonly #made = new Map<string, Transport>();
  readonly #closers: (() => void)[] = [];
  readonly #baseUrl: string;
  readonly #protocol: ConnectEsProtocol;
  readonly #httpVersion: "1.1" | "2";
  readonly #json: boolean;
  readonly #tls: { ca: Buffer; servername: string; lookup: LookupFunction } | undefined;

  constructor(protocol: ConnectEsProtocol, httpVersion: "1.1" | "2", json: boolean, target: InteropTarget) {
    this.#protocol = protocol;
    this.#httpVersion = httpVersion;
    this.#json = json;
    const colon = target.address.lastIndexOf(":");
    const host = target.address.slice(0, colon);
    const port = target.address.slice(colon + 1);
    if (target.tls === undefined) {
      this.#baseUrl = `http://${target.address}`;
      this.#tls = undefined;
    } else {
      // Dialled by name, as a client that resolved the name by DNS would: SNI and
      // :authority carry the name, the socket goes to the target's address.
      this.#baseUrl = `https://${target.tls.serverName}:${port}`;
      this.#tls = { ca: readFileSync(target.tls.caFile), servername: target.tls.serverName, lookup: lookupTo(host) };
    }
  }

  get plain(): Transport {
    return this.#get("plain");
  }
  get gzipSend(): Transport {
    return this.#get("gzipSend");
  }
  get gzipAccept(): Transport {
    return this.#get("gzipAccept");
  }

  close(): void {
    for (const close of this.#closers) {
      close();
    }
  }

  #get(kind: "plain" | "gzipSend" | "gzipAccept"): Transport {
    const made = this.#made.get(kind);
    if (made !== undefined) {
      return made;
    }
    const compression =
      kind === "plain"
        ? { acceptCompression: [] }
        : kind === "gzipSend"
          ? { sendCompression: compressionGzip, acceptCompression: [compressionGzip] }
          : { acceptCompression: [compressionGzip] };
    const common = { baseUrl: this.#baseUrl, useBinaryFormat: !this.#json, ...compression };
    let transport: Transport;
    if (this.#httpVersion === "2") {
      const sessionManager = new Http2SessionManager(this.#baseUrl, {}, this.#tls ?? {});
      this.#closers.push(() => sessionManager.abort());
      const options = { ...common, httpVersion: "2" as const, sessionManager };
      transport =
        this.#protocol === "grpc"
          ? createGrpcTransport(options)
          : this.#protocol === "connect"
            ? createConnectTransport(options)
            : createGrpcWebTransport(options);
    } else {
      const agent = this.#tls === undefined ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true, ...this.#tls });
      this.#closers.push(() => agent.destroy());
      const options = { ...common, httpVersion: "1.1" as const, nodeOptions: { agent } };
      transport = this.#protocol === "connect" ? createConnectTransport(options) : createGrpcWebTransport(options);
    }
    this.#made.set(kind, transport);
    return transport;
  }
}

/** A `lookup` that answers every name with `host` (an IP address), so a name dials the target. */
function lookupTo(host: string): LookupFunction {
  const family = host.includes(":") ? 6 : 4;
  return ((_name: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
    if (options.all === true) callback(null, [{ address: host, family }]);
    else callback(null, host, family);
  }) as unknown as LookupFunction;
}

type ProbeInit = MessageInitShape<typeof ProbeRequestSchema>;

/** What one case found wrong; empty when it went as described. */
type Problems = string[];

async function runCase(name: InteropCase, transports: Transports, fullDuplex: boolean): Promise<CaseOutcome> {
  // Calls carry their own 10 s deadline; this guard only catches a client that
  // ignores it (a read that never settles), so one case cannot stall the run.
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<Problems>((resolve) => {
    timer = setTimeout(
      () => resolve([`no outcome within ${interopInputs.caseTimeoutMs + 2000} ms`]),
      interopInputs.caseTimeoutMs + 2000,
    );
  });
  try {
    const problems = await Promise.race([caseBody(name, transports, fullDuplex), guard]);
    return { case: name, ok: problems.length === 0, detail: problems.join("; ") };
  } catch (error) {
    return { case: name, ok: false, detail: `unexpected ${describeError(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

const timeoutMs = interopInputs.caseTimeoutMs;

function caseBody(name: InteropCase, t: Transports, fullDuplex: boolean): Promise<Problems> {
  const probe = () => createClient(ProbeService, t.plain);
  switch (name) {
    case "empty_unary":
      return emptyUnary(probe());
    case "large_unary":
      return largeUnary(probe(), {});
    case "client_compressed_unary":
      return largeUnary(createClient(ProbeService, t.gzipSend), {});
    case "server_compressed_unary":
      return largeUnary(createClient(ProbeService, t.gzipAccept), { responseCompression: "gzip" });
    case "client_streaming":
      return clientStreaming(probe());
    case "client_compressed_streaming":
      return clientStreaming(createClient(ProbeService, t.gzipSend));
    case "server_streaming":
      return serverStreaming(probe(), {});
    case "server_compressed_streaming":
      return serverStreaming(createClient(ProbeService, t.gzipAccept), { responseCompression: "gzip" });
    case "ping_pong":
      return pingPong(probe());
    case "empty_stream":
      return emptyStream(probe());
    case "custom_metadata":
      return customMetadata(probe(), fullDuplex);
    case "status_code_and_message":
      return statusCodeAndMessage(probe(), fullDuplex);
    case "special_status_message":
      return specialStatusMessage(probe());
    case "unimplemented_method":
      return unimplemented(t.plain, "probe.v1.ProbeService");
    case "unimplemented_service":
      return unimplemented(t.plain, "probe.v1.NoSuchService");
    case "timeout_on_sleeping_server":
      return timeoutOnSleepingServer(probe());
    case "cancel_after_begin":
      return cancelAfterBegin(probe());
    case "cancel_after_first_response":
      return cancelAfterFirstResponse(probe());
    case "error_details":
      return errorDetails(probe());
    case "health":
      return health(createClient(Health, t.plain));
  }
}

type Probe = Client<typeof ProbeService>;

async function emptyUnary(client: Probe): Promise<Problems> {
  const res = await expectOk("Probe({})", client.probe({}, { timeoutMs }));
  if (typeof res === "string") return [res];
  const problems: Problems = [];
  if (res.pod === "") problems.push("Probe({}): expected pod set, got pod empty");
  if (res.payload.length !== 0) problems.push(`Probe({}): expected an empty payload, got ${res.payload.length} bytes`);
  return problems;
}

async function largeUnary(client: Probe, extra: ProbeInit): Promise<Problems> {
  const { largeRequestBytes, largeResponseBytes } = interopInputs;
  const what = `Probe(${largeRequestBytes} bytes, payload_size ${largeResponseBytes})`;
  const res = await expectOk(
    what,
    client.probe({ payload: new Uint8Array(largeRequestBytes), payloadSize: largeResponseBytes, ...extra }, { timeoutMs }),
  );
  if (typeof res === "string") return [res];
  return [
    ...checkPayload(what, res.payload, largeResponseBytes),
    ...checkEqual(`${what} received_bytes`, BigInt(largeRequestBytes), res.receivedBytes),
  ];
}

async function clientStreaming(client: Probe): Promise<Problems> {
  const sizes = interopInputs.clientStreamBytes;
  const what = `ProbeClientStream(${sizes.join(", ")} bytes)`;
  const res = await expectOk(what, client.probeClientStream(requestsOf(sizes.map((n) => ({ payload: new Uint8Array(n) }))), { timeoutMs }));
  if (typeof res === "string") return [res];
  const total = sizes.reduce((a, b) => a + b, 0);
  return [
    ...checkEqual(`${what} count`, sizes.length, res.count),
    ...checkEqual(`${what} received_bytes`, BigInt(total), res.receivedBytes),
  ];
}

async function serverStreaming(client: Probe, extra: ProbeInit): Promise<Problems> {
  const { serverStreamCount: count, serverStreamBytes: size } = interopInputs;
  const what = `ProbeStream(count ${count}, payload_size ${size})`;
  const answers: ProbeResponse[] = [];
  try {
    for await (const res of client.probeStream({ count, payloadSize: size, ...extra }, { timeoutMs })) {
      answers.push(res);
    }
  } catch (error) {
    return [`${what}: expected OK after ${count} answers, got ${describeError(error)} after ${answers.length}`];
  }
  const problems = checkEqual(`${what} answers`, count, answers.length);
  for (const [i, res] of answers.entries()) {
    problems.push(...checkEqual(`${what} answer ${i} index`, i, res.index), ...checkPayload(`${what} answer ${i}`, res.payload, size));
  }
  return problems;
}

async function pingPong(client: Probe): Promise<Problems> {
  const { pingPongRequestBytes: sent, pingPongResponseBytes: asked } = interopInputs;
  const requests = createWritableIterable<ProbeInit>();
  const responses = client.probeBidi(requests, { timeoutMs })[Symbol.asyncIterator]();
  const problems: Problems = [];
  try {
    for (const [i, size] of asked.entries()) {
      const what = `ProbeBidi round ${i} (payload_size ${size})`;
      // Not awaited before reading: the answer to this request is what lets the round end.
      void requests.write({ payload: new Uint8Array(sent[i] ?? 0), payloadSize: size }).catch(() => undefined);
      const next = await responses.next();
      if (next.done === true) {
        requests.close();
        return [...problems, `${what}: expected an answer, got the end of the stream`];
      }
      problems.push(...checkEqual(`${what} index`, i, next.value.index), ...checkPayload(what, next.value.payload, size));
    }
    requests.close();
    const end = await responses.next();
    if (end.done !== true) problems.push("ProbeBidi after half-close: expected the end, got another answer");
  } catch (error) {
    requests.close();
    problems.push(`ProbeBidi: expected OK, got ${describeError(error)}`);
  }
  return problems;
}

async function emptyStream(client: Probe): Promise<Problems> {
  const answers: ProbeResponse[] = [];
  try {
    for await (const res of client.probeBidi(requestsOf([]), { timeoutMs })) {
      answers.push(res);
    }
  } catch (error) {
    return [`ProbeBidi(no requests): expected OK with no answers, got ${describeError(error)}`];
  }
  return checkEqual("ProbeBidi(no requests) answers", 0, answers.length);
}

async function customMetadata(client: Probe, fullDuplex: boolean): Promise<Problems> {
  const { echoInitialName, echoInitialValue, echoTrailingName, echoTrailingValue } = interopInputs;
  // The binary header goes out base64-encoded (a `-bin` name), as gRPC metadata does.
  const headers = { [echoInitialName]: echoInitialValue, [echoTrailingName]: Buffer.from(echoTrailingValue).toString("base64") };
  const problems: Problems = [];
  const check = (what: string, header: Headers | undefined, trailer: Headers | undefined) => {
    const initial = header?.get(echoInitialName) ?? null;
    if (initial !== echoInitialValue) {
      problems.push(`${what}: expected header ${echoInitialName}: ${echoInitialValue}, got ${initial ?? "none"}`);
    }
    const trailing = trailer?.get(echoTrailingName) ?? null;
    const bytes = trailing === null ? undefined : Buffer.from(trailing, "base64");
    if (bytes === undefined || !bytes.equals(echoTrailingValue)) {
      problems.push(`${what}: expected trailer ${echoTrailingName} 0xababab, got ${bytes === undefined ? "none" : `0x${bytes.toString("hex")}`}`);
    }
  };
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const options = { timeoutMs, headers, onHeader: (h: Headers) => (header = h), onTrailer: (h: Headers) => (trailer = h) };
  const unary = await expectOk("Probe", client.probe({ payloadSize: 1 }, options));
  if (typeof unary === "string") problems.push(unary);
  else check("Probe", header, trailer);
  // The description's second call is full duplex; without one (HTTP/1.1), a server stream.
  header = undefined;
  trailer = undefined;
  const what = fullDuplex ? "ProbeBidi" : "ProbeStream";
  try {
    if (fullDuplex) {
      for await (const _ of client.probeBidi(requestsOf([{ payloadSize: 1 }]), options)) {
        // drained for the trailers
      }
    } else {
      for await (const _ of client.probeStream({ count: 1, payloadSize: 1 }, options)) {
        // drained for the trailers
      }
    }
    check(what, header, trailer);
  } catch (error) {
    problems.push(`${what}: expected OK, got ${describeError(error)}`);
  }
  return problems;
}

async function statusCodeAndMessage(client: Probe, fullDuplex: boolean): Promise<Problems> {
  const message = interopInputs.statusMessage;
  const request = { failCode: Code.Unknown, failMessage: message };
  const problems: Problems = [];
  problems.push(...(await expectError("Probe", client.probe(request, { timeoutMs }), Code.Unknown, message)));
  // Full duplex where there is one; else a server stream failing before its first answer.
  const stream = fullDuplex
    ? drain(client.probeBidi(requestsOf([request]), { timeoutMs }))
    : drain(client.probeStream({ ...request, count: 0 }, { timeoutMs }));
  problems.push(...(await expectError(fullDuplex ? "ProbeBidi" : "ProbeStream", stream, Code.Unknown, message)));
  return problems;
}

async function specialStatusMessage(client: Probe): Promise<Problems> {
  const message = interopInputs.specialStatusMessage;
  return expectError("Probe", client.probe({ failCode: Code.Unknown, failMessage: message }, { timeoutMs }), Code.Unknown, message);
}

/** The hand-made services of `unimplementedFile`, resolved once. */
let unimplementedServices: { probe: DescService; noSuch: DescService } | undefined;

function unimplementedService(name: string): DescService {
  if (unimplementedServices === undefined) {
    const registry = createFileRegistry(unimplementedFile, (file) =>
      file === file_google_protobuf_empty.proto.name ? file_google_protobuf_empty : undefined,
    );
    const probe = registry.getService("probe.v1.ProbeService");
    const noSuch = registry.getService("probe.v1.NoSuchService");
    if (probe === undefined || noSuch === undefined) {
      throw new Error("the unimplemented schema lacks its services");
    }
    unimplementedServices = { probe, noSuch };
  }
  return name === "probe.v1.ProbeService" ? unimplementedServices.probe : unimplementedServices.noSuch;
}

async function unimplemented(transport: Transport, service: string): Promise<Problems> {
  const method = unimplementedService(service).methods[0];
  if (method === undefined || method.methodKind !== "unary") {
    throw new Error(`no unary method in ${service}`);
  }
  const what = `/${service}/${method.name}`;
  // Checked above; DescMethod's kind does not narrow its type.
  const unary = method as DescMethodUnary;
  return expectError(what, transport.unary(unary, undefined, timeoutMs, undefined, {}), Code.Unimplemented);
}

async function timeoutOnSleepingServer(client: Probe): Promise<Problems> {
  const { sleepMs, deadlineMs } = interopInputs;
  const what = `Probe(sleep_ms ${sleepMs}) with a ${deadlineMs} ms deadline`;
  return expectError(what, client.probe({ sleepMs }, { timeoutMs: deadlineMs }), Code.DeadlineExceeded);
}

async function cancelAfterBegin(client: Probe): Promise<Problems> {
  const abort = new AbortController();
  const requests = createWritableIterable<ProbeInit>();
  const call = client.probeClientStream(requests, { timeoutMs, signal: abort.signal });
  // Long enough for the stream to be open upstream: the cancel then has something to end.
  await delay(100);
  abort.abort();
  const problems = await expectError("ProbeClientStream cancelled before any request", call, Code.Canceled);
  requests.close();
  return problems;
}

async function cancelAfterFirstResponse(client: Probe): Promise<Problems> {
  const abort = new AbortController();
  const requests = createWritableIterable<ProbeInit>();
  const responses = client.probeBidi(requests, { timeoutMs, signal: abort.signal })[Symbol.asyncIterator]();
  const [sent, asked] = [interopInputs.pingPongRequestBytes[0], interopInputs.pingPongResponseBytes[0]];
  void requests.write({ payload: new Uint8Array(sent), payloadSize: asked }).catch(() => undefined);
  const first = await expectOk("ProbeBidi first answer", responses.next());
  if (typeof first === "string") {
    requests.close();
    return [first];
  }
  if (first.done === true) {
    requests.close();
    return ["ProbeBidi: expected a first answer, got the end of the stream"];
  }
  abort.abort();
  const problems = await expectError("ProbeBidi cancelled after its first answer", drainIterator(responses), Code.Canceled);
  requests.close();
  return problems;
}

async function errorDetails(client: Probe): Promise<Problems> {
  const { detailCode, detailMessage, detailText } = interopInputs;
  const what = "Probe(fail_detail)";
  try {
    await client.probe({ failCode: detailCode, failMessage: detailMessage, failDetail: detailText }, { timeoutMs });
    return [`${what}: expected ${codeName(detailCode)} "${detailMessage}", got OK`];
  } catch (error) {
    const problems = checkError(what, error, detailCode, detailMessage);
    if (error instanceof ConnectError) {
      const details = error.findDetails(ProbeDetailSchema);
      const detail = details[0];
      if (details.length !== 1 || detail === undefined) {
        problems.push(`${what}: expected 1 probe.v1.ProbeDetail, got ${details.length} (of ${error.details.length} details)`);
      } else {
        if (detail.text !== detailText) problems.push(`${what}: expected detail text "${detailText}", got "${detail.text}"`);
        if (detail.pod === "") problems.push(`${what}: expected detail pod set, got empty`);
      }
    }
    return problems;
  }
}

async function health(client: Client<typeof Health>): Promise<Problems> {
  const problems: Problems = [];
  for (const service of interopInputs.healthServing) {
    const what = `Health/Check("${service}")`;
    const res = await expectOk(what, client.check({ service }, { timeoutMs }));
    if (typeof res === "string") problems.push(res);
    else if (res.status !== HealthCheckResponse_ServingStatus.SERVING) {
      const got = Object.entries(HealthCheckResponse_ServingStatus).find(([, v]) => v === res.status)?.[0];
      problems.push(`${what}: expected SERVING, got ${got ?? res.status}`);
    }
  }
  const unknown = interopInputs.healthUnknown;
  problems.push(...(await expectError(`Health/Check("${unknown}")`, client.check({ service: unknown }, { timeoutMs }), Code.NotFound)));
  return problems;
}

function requestsOf(requests: readonly ProbeInit[]): AsyncIterable<ProbeInit> {
  return (async function* () {
    yield* requests;
  })();
}

async function drain(responses: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of responses) {
    // only the end matters
  }
}

async function drainIterator(responses: AsyncIterator<unknown>): Promise<void> {
  while ((await responses.next()).done !== true) {
    // only the end matters
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The value, or what went wrong as a detail ("what: expected OK, got CODE "message""). */
async function expectOk<T>(what: string, call: Promise<T>): Promise<T | string> {
  try {
    return await call;
  } catch (error) {
    return `${what}: expected OK, got ${describeError(error)}`;
  }
}

async function expectError(what: string, call: Promise<unknown>, code: Code, message?: string): Promise<Problems> {
  try {
    await call;
  } catch (error) {
    return checkError(what, error, code, message);
  }
  return [`${what}: expected ${expectation(code, message)}, got OK`];
}

function checkError(what: string, error: unknown, code: Code, message?: string): Problems {
  if (error instanceof ConnectError && error.code === code && (message === undefined || error.rawMessage === message)) {
    return [];
  }
  return [`${what}: expected ${expectation(code, message)}, got ${describeError(error)}`];
}

function expectation(code: Code, message: string | undefined): string {
  return message === undefined ? codeName(code) : `${codeName(code)} ${JSON.stringify(message)}`;
}

function describeError(error: unknown): string {
  if (error instanceof ConnectError) {
    return `${codeName(error.code)} ${JSON.stringify(error.rawMessage)}`;
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function checkEqual<T>(what: string, expected: T, got: T): Problems {
  return expected === got ? [] : [`${what}: expected ${String(expected)}, got ${String(got)}`];
}

/** The payload a pod makes for `payload_size`: that many bytes of "a" (0x61). */
function checkPayload(what: string, payload: Uint8Array, size: number): Problems {
  if (payload.length !== size) {
    return [`${what}: expected ${size} payload bytes, got ${payload.length}`];
  }
  const wrong = payload.findIndex((b) => b !== 0x61);
  return wrong === -1 ? [] : [`${what}: expected ${size} bytes of "a", got 0x${payload[wrong]?.toString(16)} at ${wrong}`];
}
