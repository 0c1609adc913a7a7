import * as fc from "fast-check";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  encodeEnvelope,
  type EnvelopedMessage,
  pipe,
  type UniversalServerRequest,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  endStreamFlag,
  endStreamFromJson,
  parseContentType as parseConnectContentType,
  parseTimeout as parseConnectTimeout,
} from "@connectrpc/connect/protocol-connect";
import { findTrailerError, parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import type { CallResult } from "../../src/call/call-result.ts";
import { callResultFromError } from "../../src/call/call-result-from-error.ts";
import { formatGrpcTimeout, maxTimeoutMs } from "../../src/call/grpc-timeout.ts";
import { adaptEncoding, parseEncodingList, requireEncoding } from "../../src/call/message-encoding.ts";
import { splitEnvelopes } from "../../src/call/split-envelopes.ts";
import { grpcProtocolHeaders, metadataFromHeaders } from "../../src/call/metadata.ts";
import { connectProtocolHeaders } from "../../src/protocol/connect/connect-protocol-headers.ts";
import { openConnectExchange } from "../../src/protocol/connect/open-connect-exchange.ts";
import { openConnectGet } from "../../src/protocol/connect/open-connect-get.ts";
import { decodeBase64Stream } from "../../src/protocol/grpc-web/decode-base64-stream.ts";
import { openGrpcWebExchange } from "../../src/protocol/grpc-web/open-grpc-web-exchange.ts";
import { openGrpcExchange } from "../../src/protocol/grpc/open-grpc-exchange.ts";
import { readGrpcRequestHeader } from "../../src/protocol/grpc/read-grpc-request-header.ts";
import type { InboundExchange, OpenExchange, ProtocolContext } from "../../src/protocol/inbound-exchange.ts";
import { negotiateProtocol } from "../../src/protocol/negotiate-protocol.ts";
import { parseRpcPath, type RpcPath } from "../../src/protocol/rpc-path.ts";
import {
  anyUtf16,
  checkProperty,
  chunk,
  collect,
  expectConnectError,
  fromChunks,
  fromItems,
  fuzzBudget,
  reportInputs,
} from "./fuzz-support.ts";

const startedAt = performance.now();
fuzzBudget(8000);
afterAll(() => reportInputs("protocol-parsers", startedAt));

const readMaxBytes = 1024;
const context: ProtocolContext = {
  compressions: new Map([
    ["gzip", compressionGzip],
    ["br", compressionBrotli],
  ]),
  acceptEncodingHeader: "gzip,br",
  readMaxBytes,
};

// ---------------------------------------------------------------------------
// Arbitraries: what a hostile client can put in a request.

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** Any header name HTTP allows (a token). */
const anyHeaderName = fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 16 });
/** Any header value a server can receive: every byte but NUL, CR and LF (Latin-1 above 0x7f included). */
const anyHeaderValue = fc.string({
  unit: fc.integer({ min: 1, max: 255 }).filter((c) => c !== 10 && c !== 13).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});
const protocolHeaderNames = [
  ...grpcProtocolHeaders,
  ...connectProtocolHeaders,
  "te",
  "connection",
  "host",
  "content-length",
  "transfer-encoding",
  "upgrade",
  "keep-alive",
  "x-grpc-web",
  "grpc-status-details-bin",
  "x-user-bin",
  "authorization",
];
const headerName = fc.oneof(anyHeaderName, fc.constantFrom(...protocolHeaderNames));
const headerList = fc.array(fc.tuple(headerName, anyHeaderValue), { maxLength: 12 });

/** A grpc-timeout that is valid, nearly valid, or garbage. */
const grpcTimeoutValue = fc.oneof(
  fc.stringMatching(/^\d{1,8}[HMSmun]$/),
  fc.stringMatching(/^[-+ ]?\d{0,12}[HMSmunhsx ]{0,2}$/),
  anyHeaderValue,
);
/** A connect-timeout-ms that is valid, nearly valid, or garbage. */
const connectTimeoutValue = fc.oneof(
  fc.stringMatching(/^\d{1,10}$/),
  fc.stringMatching(/^[-+ ]?\d{0,14}(\.\d{0,3})?(e\d)?$/),
  anyHeaderValue,
);

/** Content types near the ones the gateway speaks, with stray parameters, suffixes and cases, and garbage. */
const contentType = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        "application/grpc",
        "application/grpc-web",
        "application/grpc-web-text",
        "application/proto",
        "application/json",
        "application/connect+proto",
        "application/connect+json",
        "application/connect",
        "application/grpc-webtext",
        "text/plain",
        "",
      ),
      fc.constantFrom("", "+proto", "+json", "+thrift", "+", ";", "; charset=utf-8", ";charset=utf-8", ";charset=latin1", ";x=1", " ", "+json; charset=utf-8"),
      fc.boolean(),
    )
    .map(([base, suffix, upper]) => (upper ? `${base}${suffix}`.toUpperCase() : `${base}${suffix}`)),
  anyHeaderValue,
);

const methods = fc.oneof(
  fc.constantFrom("POST", "GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "CONNECT", "TRACE", "PRI"),
  fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 10 }),
);

const identifier = fc.stringMatching(/^[A-Za-z_]\w{0,12}$/);
const serviceName = fc.array(identifier, { minLength: 1, maxLength: 4 }).map((parts) => parts.join("."));

/** Request paths: RPC paths, near misses, and arbitrary text. */
const requestPath = fc.oneof(
  fc.tuple(serviceName, identifier).map(([s, m]) => `/${s}/${m}`),
  fc.tuple(serviceName, identifier, fc.constantFrom("/", "//", "/.", "?", "#", "%2F", "/x", "?a=b", "%00")).map(([s, m, x]) => `/${s}/${m}${x}`),
  fc.stringMatching(/^\/[\w./%?#&=-]{0,40}$/),
  anyUtf16({ maxLength: 30 }).map((s) => `/${s}`),
);

const base = "http://gateway.test:8080";

/** What connect-node makes of a request line's target and Host, which the RPC path parser then reads. */
function url(path: string): string {
  return new URL(path, base).toString();
}

/** Paths connect-node can make a URL of (it fails the others before the gateway sees them). */
const requestPathWithUrl = requestPath.filter((path) => URL.canParse(path, base));

interface FakeRequest {
  method?: string;
  path?: string;
  httpVersion?: string;
  headers?: readonly (readonly [string, string])[];
  body?: readonly Uint8Array[];
}

function request(init: FakeRequest): UniversalServerRequest & { body: AsyncIterable<Uint8Array> } {
  const header = new Headers();
  for (const [name, value] of init.headers ?? []) {
    header.append(name, value);
  }
  return {
    httpVersion: init.httpVersion ?? "2.0",
    method: init.method ?? "POST",
    url: url(init.path ?? "/probe.v1.ProbeService/Probe"),
    header,
    body: fromChunks(init.body ?? []),
    signal: new AbortController().signal,
  };
}

const rpc: RpcPath = { path: "/probe.v1.ProbeService/Probe", service: "probe.v1.ProbeService", method: "Probe" };

/** The inbound protocols by name (names, not functions, so a counterexample reads well). */
const inbound: Record<string, { open: OpenExchange; contentType: string }> = {
  grpc: { open: openGrpcExchange, contentType: "application/grpc" },
  "grpc-web": { open: openGrpcWebExchange, contentType: "application/grpc-web+proto" },
  "grpc-web-text": { open: openGrpcWebExchange, contentType: "application/grpc-web-text" },
  "connect unary": { open: openConnectExchange, contentType: "application/proto" },
  "connect stream": { open: openConnectExchange, contentType: "application/connect+proto" },
};
const protocolName = fc.constantFrom(...Object.keys(inbound));

function openInbound(name: string, headers: readonly (readonly [string, string])[] = [], body: readonly Uint8Array[] = []): InboundExchange {
  const protocol = inbound[name];
  if (protocol === undefined) throw new Error(`unknown protocol ${name}`);
  return protocol.open(request({ headers: [["content-type", protocol.contentType], ...headers], body }), rpc, context);
}

/** Drains a request's messages the way the upstream stage does: completes, or fails with a ConnectError. */
async function drainMessages(exchange: InboundExchange): Promise<EnvelopedMessage[] | ConnectError> {
  try {
    return await collect(exchange.request.messages);
  } catch (e) {
    return expectConnectError(e);
  }
}

async function readBody(response: UniversalServerResponse): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  if (response.body !== undefined && Symbol.asyncIterator in Object(response.body)) {
    for await (const part of response.body as AsyncIterable<Uint8Array>) {
      parts.push(part);
    }
  }
  return Buffer.concat(parts);
}

function responseFrames(bytes: Uint8Array): { flags: number; data: Uint8Array }[] {
  const frames = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + 5 <= bytes.byteLength) {
    const length = view.getUint32(offset + 1);
    frames.push({ flags: view.getUint8(offset), data: bytes.subarray(offset + 5, offset + 5 + length) });
    offset += 5 + length;
  }
  expect(offset, "the body is whole envelopes").toBe(bytes.byteLength);
  return frames;
}

const codes = fc.integer({ min: 1, max: 16 }) as fc.Arbitrary<Code>;

// ---------------------------------------------------------------------------

describe("grpc-timeout and connect-timeout-ms", () => {
  it("formatGrpcTimeout: any number gives a valid header that parses to at least that much, at most one unit more", async () => {
    const units: Record<string, number> = { m: 1, S: 1_000, M: 60_000, H: 3_600_000 };
    await checkProperty(
      "grpc-timeout format/parse round trip",
      fc.property(fc.oneof(fc.double(), fc.integer({ min: -10, max: 2 ** 31 }), fc.nat({ max: 1e15 })), (ms) => {
        const text = formatGrpcTimeout(ms);
        expect(text).toMatch(/^\d{1,8}[mSMH]$/);
        const parsed = parseGrpcTimeout(text, Number.MAX_SAFE_INTEGER);
        expect(parsed.error).toBeUndefined();
        const value = parsed.timeoutMs as number;
        if (Number.isFinite(ms) && ms <= 99_999_999 * 3_600_000) {
          const unit = units[text.slice(-1)] as number;
          expect(value).toBeGreaterThanOrEqual(Math.max(0, ms));
          expect(value - Math.max(0, ms)).toBeLessThanOrEqual(unit);
        }
      }),
      { numRuns: 3000, timeLimitMs: 1500 },
    );
  });

  it("gRPC and gRPC-Web request headers: any values give a usable timeout or InvalidArgument, never a throw", async () => {
    await checkProperty(
      "gRPC request headers",
      fc.property(
        grpcTimeoutValue,
        fc.option(anyHeaderValue),
        fc.option(anyHeaderValue),
        contentType,
        (timeout, encoding, accept, type) => {
          const header = new Headers({ "grpc-timeout": timeout, "content-type": type });
          if (encoding !== null) header.set("grpc-encoding", encoding);
          if (accept !== null) header.set("grpc-accept-encoding", accept);
          const read = readGrpcRequestHeader(header, context);
          const value = header.get("grpc-timeout") ?? "";
          if (/^\d{1,8}[HMSmun]$/.test(value)) {
            expect(read.timeoutMs).toBeGreaterThanOrEqual(0);
            // Longer deadlines are capped where a timer can still wait for them (longer ones fire at once).
            expect(read.timeoutMs).toBeLessThanOrEqual(maxTimeoutMs);
          } else {
            expect(read.timeoutMs).toBeUndefined();
            expectConnectError(read.error, [Code.InvalidArgument]);
          }
          if (read.error !== undefined) {
            expectConnectError(read.error, [Code.InvalidArgument, Code.Unimplemented]);
          }
          for (const name of read.acceptEncoding) {
            expect(name).toBe(name.trim().toLowerCase());
            expect(name).not.toBe("");
          }
        },
      ),
      { numRuns: 3000, timeLimitMs: 1500 },
    );
  });

  it("Connect: any connect-timeout-ms gives a usable timeout or InvalidArgument", async () => {
    await checkProperty(
      "connect-timeout-ms",
      fc.property(connectTimeoutValue, fc.boolean(), (timeout, stream) => {
        const exchange = openConnectExchange(
          request({
            headers: [
              ["content-type", stream ? "application/connect+proto" : "application/proto"],
              ["connect-timeout-ms", timeout],
            ],
          }),
          rpc,
          context,
        );
        const value = new Headers({ v: timeout }).get("v") ?? "";
        if (/^\d{1,10}$/.test(value)) {
          expect(exchange.error).toBeUndefined();
          expect(exchange.request.timeoutMs).toBeGreaterThanOrEqual(0);
          expect(exchange.request.timeoutMs).toBeLessThanOrEqual(maxTimeoutMs);
        } else {
          expectConnectError(exchange.error, [Code.InvalidArgument]);
          expect(exchange.request.timeoutMs).toBeUndefined();
        }
        // The library parsers agree on what is valid.
        expect(parseConnectTimeout(value, Number.MAX_SAFE_INTEGER).error === undefined).toBe(/^\d{1,10}$/.test(value));
      }),
      { numRuns: 2000, timeLimitMs: 1500 },
    );
  });

  it("encoding lists: any header value parses, and an unknown encoding is Unimplemented", async () => {
    await checkProperty(
      "encoding lists",
      fc.property(fc.option(anyHeaderValue), (value) => {
        const names = parseEncodingList(value);
        expect(new Set(names).size).toBe(names.length);
        try {
          const encoding = requireEncoding(value, context.compressions);
          expect(["identity", "gzip", "br"]).toContain(encoding);
        } catch (e) {
          expectConnectError(e, [Code.Unimplemented]);
        }
      }),
      { numRuns: 2000, timeLimitMs: 1000 },
    );
  });
});

describe("grpc-message and error answers", () => {
  it("percent-encoding: any well-formed message survives the gRPC trailer unchanged", async () => {
    await checkProperty(
      "grpc-message round trip (gRPC)",
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 60 }), codes, async (message, code) => {
        const exchange = openGrpcExchange(request({ headers: [["content-type", "application/grpc"]] }), rpc, context);
        const response = await exchange.respond(callResultFromError(new ConnectError(message, code)));
        const header = response.header ?? new Headers();
        expect(header.get("grpc-message") ?? "").toMatch(/^[\x20-\x7e]*$/);
        const error = findTrailerError(header);
        expect(error?.code).toBe(code);
        expect(error?.rawMessage).toBe(message);
      }),
      { numRuns: 1500, timeLimitMs: 1500 },
    );
  });

  it("any message arrives intact as the status in every protocol, invalid UTF-16 included where it can occur (Connect)", async () => {
    // gRPC and gRPC-Web messages come from headers and protobuf strings, which are never invalid
    // UTF-16; Connect errors can quote JSON, whose escapes can be (a lone "\ud800").
    const message = fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), anyUtf16({ maxLength: 40 }));
    await checkProperty(
      "error message in every protocol",
      fc.asyncProperty(message, codes, protocolName, fc.boolean(), async (text, code, name, immediate) => {
        fc.pre(name.startsWith("connect") || text === wellFormed(text));
        const exchange = openInbound(name);
        const error = new ConnectError(text, code);
        const result: CallResult = immediate
          ? callResultFromError(error)
          : { ...callResultFromError(error), immediateError: undefined };
        const response = await exchange.respond(result);
        const received = statusOf(name, response, await readBody(response));
        expect(received.code).toBe(code);
        // JSON escapes what UTF-8 cannot hold ("\ud800"), so even that arrives unchanged.
        expect(received.message).toBe(text);
      }),
      { numRuns: 1500, timeLimitMs: 2000 },
    );
  });

  it("any status trailer a pod sends (bad percent-encoding, bad status, bad details) ends the client's call with a status", async () => {
    const podTrailer = fc.record(
      {
        "grpc-status": fc.oneof(fc.constantFrom("0", "1", "13", "16", "17", "-1", "99999999999", " 3", "x"), anyHeaderValue),
        "grpc-message": fc.oneof(
          fc.stringMatching(/^([\w %]|%[0-9A-Fa-f]{0,2}|%[EeFf][0-9A-Fa-f](%[89ABab][0-9A-Fa-f])?)*$/),
          anyHeaderValue,
        ),
        // google.rpc.Status with codes 17, 128 and -2147483647, a corrupt one, any base64, anything.
        "grpc-status-details-bin": fc.oneof(fc.constantFrom("CBE", "CIAB", "CIGAgIAI", "AA=="), fc.base64String({ maxLength: 24 }), anyHeaderValue),
      },
      { requiredKeys: [] },
    );
    await checkProperty(
      "pod status trailers",
      fc.asyncProperty(podTrailer, protocolName, async (fields, name) => {
        const trailer = new Headers();
        for (const [key, value] of Object.entries(fields)) {
          trailer.set(key, value);
        }
        const exchange = openInbound(name);
        // What the upstream stage does with a pod's trailers once its messages are read.
        const result: CallResult = {
          header: new Headers(),
          encoding: "identity",
          messages: fromItems<EnvelopedMessage>([]),
          end: () => ({ error: findTrailerError(trailer), trailer: metadataFromHeaders(trailer, grpcProtocolHeaders) }),
          immediateError: undefined,
        };
        const response = await exchange.respond(result);
        const body = await readBody(response);
        const received = statusOf(name, response, body);
        expect(received.code === undefined || (received.code >= 1 && received.code <= 16)).toBe(true);
      }),
      { numRuns: 1500, timeLimitMs: 2000 },
    );
  });
});

/** The status a client of each protocol reads from an answer. */
function statusOf(
  protocol: string,
  response: UniversalServerResponse,
  body: Uint8Array,
): { code: Code | undefined; message: string } {
  const header = response.header ?? new Headers();
  switch (protocol) {
    case "grpc": {
      const trailer = new Headers(header);
      (response.trailer ?? new Headers()).forEach((value, key) => trailer.set(key, value));
      expect(trailer.get("grpc-status")).toMatch(/^\d+$/);
      expect(trailer.get("grpc-message") ?? "").toMatch(/^[\x20-\x7e]*$/);
      const error = findTrailerError(trailer);
      return { code: error?.code, message: error?.rawMessage ?? "" };
    }
    case "grpc-web":
    case "grpc-web-text": {
      const bytes = protocol === "grpc-web-text" ? Buffer.from(Buffer.from(body).toString("latin1"), "base64") : body;
      const frames = responseFrames(bytes);
      const last = frames.at(-1);
      expect(last?.flags).toBe(trailerFlag);
      const trailer = trailerParse(last?.data ?? new Uint8Array());
      expect(trailer.get("grpc-status")).toMatch(/^\d+$/);
      const error = findTrailerError(trailer);
      return { code: error?.code, message: error?.rawMessage ?? "" };
    }
    case "connect unary": {
      if (response.status === 200) return { code: undefined, message: "" };
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(header.get("content-type")).toBe("application/json");
      const json = JSON.parse(new TextDecoder().decode(body)) as { code: string; message?: string };
      const codeName = json.code.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
      const code = Object.entries(Code).find(([k]) => k.toLowerCase() === codeName.toLowerCase())?.[1] as Code | undefined;
      expect(code, `a known code: ${json.code}`).toBeDefined();
      return { code, message: json.message ?? "" };
    }
    case "connect stream": {
      expect(response.status).toBe(200);
      const frames = responseFrames(body);
      const last = frames.at(-1);
      expect(last?.flags).toBe(endStreamFlag);
      const end = endStreamFromJson(last?.data ?? new Uint8Array());
      return { code: end.error?.code, message: end.error?.rawMessage ?? "" };
    }
  }
  throw new Error(`unknown protocol ${protocol}`);
}

/** A string as UTF-8 can carry it: lone surrogates become U+FFFD. */
function wellFormed(text: string): string {
  return new TextDecoder().decode(new TextEncoder().encode(text));
}

describe("metadata", () => {
  it("any headers: protocol and hop-by-hop ones are dropped, every other one passes unchanged", async () => {
    const dropped = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "transfer-encoding", "upgrade", "te", "trailer", "host", "content-length", "http2-settings"]);
    await checkProperty(
      "metadata from headers",
      fc.property(headerList, fc.constantFrom(grpcProtocolHeaders, connectProtocolHeaders), (list, protocolHeaders) => {
        const headers = new Headers();
        for (const [name, value] of list) headers.append(name, value);
        const metadata = metadataFromHeaders(headers, protocolHeaders);
        headers.forEach((value, name) => {
          if (dropped.has(name) || protocolHeaders.has(name)) {
            expect(metadata.has(name)).toBe(false);
          } else {
            // Values pass unchanged (repeated headers arrive joined by ", ", as Headers joins them).
            expect(metadata.get(name)).toBe(value.replace(/^[\t ]+|[\t ]+$/g, ""));
          }
        });
        metadata.forEach((_, name) => expect(headers.has(name)).toBe(true));
      }),
      { numRuns: 2000, timeLimitMs: 1500 },
    );
  });

  it("no inbound protocol lets a client set the pod's gRPC protocol headers (deadline, encoding, status) as metadata", async () => {
    await checkProperty(
      "no gRPC protocol headers in metadata",
      fc.property(headerList, fc.constantFrom(...Object.keys(inbound), "connect GET"), (list, name) => {
        const exchange =
          name === "connect GET"
            ? openConnectGet(request({ method: "GET", path: "/greet.v1.GreetService/Greet?encoding=json&message={}", headers: list }), rpc, context)
            : openInbound(name, list);
        for (const header of grpcProtocolHeaders) {
          expect(exchange.request.metadata.has(header), header).toBe(false);
        }
      }),
      { numRuns: 1500, timeLimitMs: 1000 },
    );
  });

  it("-bin metadata: any bytes, base64 in a header, reach the other side as the same bytes in every protocol", async () => {
    await checkProperty(
      "-bin metadata round trip",
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/).map((n) => `${n}-bin`),
        protocolName,
        fc.constantFrom("std", "std_raw") as fc.Arbitrary<"std" | "std_raw">,
        (bytes, name, protocol, alphabet) => {
          const encoded = base64Encode(bytes, alphabet);
          const exchange = openInbound(protocol, [[name, encoded]]);
          const value = exchange.request.metadata.get(name);
          expect(value).toBe(encoded);
          expect(new Uint8Array(Buffer.from(value ?? "", "base64"))).toEqual(bytes);
        },
      ),
      { numRuns: 1500, timeLimitMs: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------
// Envelopes: truncated, oversize and garbage frames, in arbitrary chunks.

/** A request body: whole envelopes, then maybe a broken tail. */
const envelopeBody = fc
  .record({
    messages: fc.array(
      fc.record({ flags: fc.constantFrom(0, 0, 0, 1, 2, 0x80, 0xff), data: fc.uint8Array({ maxLength: 40 }) }),
      { maxLength: 5 },
    ),
    tail: fc.oneof(
      fc.constant({ kind: "none" as const }),
      fc.record({ kind: fc.constant("truncated" as const), cut: fc.nat() }),
      fc.record({ kind: fc.constant("oversize" as const), length: fc.integer({ min: readMaxBytes + 1, max: 0xffffffff }) }),
      fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 30 }) }),
    ),
    cuts: fc.array(fc.nat({ max: 400 }), { maxLength: 8 }),
  })
  .map(({ messages, tail, cuts }) => {
    const whole = messages.map((m) => encodeEnvelope(m.flags, m.data));
    let tailBytes = new Uint8Array(0);
    if (tail.kind === "truncated") {
      const next = encodeEnvelope(0, new Uint8Array(20).fill(7));
      tailBytes = next.subarray(0, 1 + (tail.cut % (next.byteLength - 1)));
    } else if (tail.kind === "oversize") {
      tailBytes = new Uint8Array(5);
      new DataView(tailBytes.buffer).setUint32(1, tail.length);
    } else if (tail.kind === "garbage") {
      tailBytes = tail.bytes;
    }
    const bytes = Buffer.concat([...whole, tailBytes]);
    return { messages, tail: tail.kind, bytes: new Uint8Array(bytes), chunks: chunk(new Uint8Array(bytes), cuts) };
  });

describe("envelopes", () => {
  it("splitting: whole envelopes come out as sent; a truncated tail is InvalidArgument, an oversize one ResourceExhausted", async () => {
    await checkProperty(
      "envelope splitting",
      fc.asyncProperty(envelopeBody, async ({ messages, tail, chunks, bytes }) => {
        const out: EnvelopedMessage[] = [];
        let failure: ConnectError | undefined;
        try {
          for await (const m of pipe(fromChunks(chunks), splitEnvelopes(readMaxBytes))) {
            out.push(m);
          }
        } catch (e) {
          failure = expectConnectError(e, [Code.InvalidArgument, Code.ResourceExhausted]);
        }
        expect(out.slice(0, messages.length).map((m) => [m.flags, [...m.data]])).toEqual(
          messages.slice(0, out.length).map((m) => [m.flags, [...m.data]]),
        );
        if (tail === "none") {
          expect(failure).toBeUndefined();
          expect(out).toHaveLength(messages.length);
        }
        if (tail === "truncated") expect(failure?.code).toBe(Code.InvalidArgument);
        if (tail === "oversize") expect(failure?.code).toBe(Code.ResourceExhausted);
        if (failure === undefined) {
          expect(Buffer.concat(out.map((m) => encodeEnvelope(m.flags, m.data)))).toEqual(Buffer.from(bytes));
        }
      }),
      { numRuns: 2000, timeLimitMs: 2000, runTimeoutMs: 2000 },
    );
  });

  it("every protocol: any body bytes, in any chunks, give messages or a ConnectError, never a throw or a hang", async () => {
    await checkProperty(
      "request bodies per protocol",
      fc.asyncProperty(
        fc.oneof(
          envelopeBody.map((b) => b.chunks),
          fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 6 }),
        ),
        protocolName,
        fc.option(fc.constantFrom("gzip", "br", "identity")),
        fc.option(fc.constantFrom("0", "5", "1025", "x")),
        async (chunks, name, encoding, length) => {
          const headers: [string, string][] = [];
          if (encoding !== null) {
            headers.push([name === "connect unary" ? "content-encoding" : name === "connect stream" ? "connect-content-encoding" : "grpc-encoding", encoding]);
          }
          if (length !== null) headers.push(["content-length", length]);
          const bodyChunks = name === "grpc-web-text" ? [Buffer.from(Buffer.concat(chunks).toString("base64"))] : chunks;
          const exchange = openInbound(name, headers, bodyChunks);
          const drained = await drainMessages(exchange);
          if (drained instanceof ConnectError) {
            expect([Code.InvalidArgument, Code.ResourceExhausted]).toContain(drained.code);
            return;
          }
          // What goes upstream: compressed messages are decompressed for a pod that accepts none.
          const adapted = adaptEncoding(fromItems(drained), exchange.request.encoding, [], context.compressions, readMaxBytes);
          try {
            await collect(adapted.messages);
          } catch (e) {
            expectConnectError(e, [Code.InvalidArgument, Code.ResourceExhausted, Code.Internal]);
          }
        },
      ),
      { numRuns: 2000, timeLimitMs: 2500, runTimeoutMs: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------

describe("gRPC-Web text (base64 stream)", () => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  async function decodeText(chunks: readonly string[]): Promise<number[] | ConnectError> {
    try {
      const out: number[] = [];
      for await (const bytes of decodeBase64Stream(fromChunks(chunks.map((c) => Buffer.from(c, "latin1"))))) {
        out.push(...bytes);
      }
      return out;
    } catch (e) {
      return expectConnectError(e, [Code.InvalidArgument]);
    }
  }

  /** The decoding the gRPC-Web spec asks for: 4-character groups, each padded or not, whitespace ignored. */
  function reference(text: string): number[] | undefined {
    // The decoder skips whitespace (JavaScript's \s over Latin-1), between groups and within them.
    const stripped = text.replace(/\s/g, "");
    if (stripped.length % 4 !== 0) return undefined;
    const out: number[] = [];
    for (let i = 0; i < stripped.length; i += 4) {
      const group = stripped.slice(i, i + 4);
      if (!/^[A-Za-z0-9+/]{2}(==|[A-Za-z0-9+/]=|[A-Za-z0-9+/]{2})$/.test(group)) return undefined;
      out.push(...Buffer.from(group, "base64"));
    }
    return out;
  }

  it("segments each base64-encoded on their own, with whitespace, in any chunks, decode to the bytes sent", async () => {
    await checkProperty(
      "grpc-web-text valid streams",
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 6 }),
        fc.array(fc.nat({ max: 200 }), { maxLength: 6 }),
        fc.array(fc.tuple(fc.nat({ max: 200 }), fc.constantFrom(" ", "\r\n", "\n", "\t")), { maxLength: 3 }),
        async (segments, cuts, spaces) => {
          let text = segments.map((s) => Buffer.from(s).toString("base64")).join("");
          for (const [at, space] of spaces) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + space + text.slice(i);
          }
          const chunks = chunk(Buffer.from(text, "latin1"), cuts).map((c) => Buffer.from(c).toString("latin1"));
          expect(await decodeText(chunks)).toEqual(segments.flatMap((s) => [...s]));
        },
      ),
      { numRuns: 1500, timeLimitMs: 1500 },
    );
  });

  it("any text in any chunks: the reference decoding or InvalidArgument, the same however it is chunked", async () => {
    const textArb = fc.oneof(
      fc.string({ unit: fc.constantFrom(...`${alphabet}====\r\n \t`), maxLength: 40 }),
      fc.string({ unit: fc.constantFrom(...`${alphabet}=-_*.\x00\xff\u00e9 `), maxLength: 24 }),
      fc.string({ unit: "binary-ascii", maxLength: 24 }),
    );
    await checkProperty(
      "grpc-web-text any input",
      fc.asyncProperty(textArb, fc.array(fc.nat({ max: 60 }), { maxLength: 5 }), async (text, cuts) => {
        const chunks = chunk(Buffer.from(text, "latin1"), cuts).map((c) => Buffer.from(c).toString("latin1"));
        const whole = await decodeText([text]);
        const chunked = await decodeText(chunks);
        const expected = reference(text);
        if (expected === undefined) {
          expect(whole).toBeInstanceOf(ConnectError);
          expect(chunked).toBeInstanceOf(ConnectError);
        } else {
          expect(whole).toEqual(expected);
          expect(chunked).toEqual(expected);
        }
      }),
      { numRuns: 3000, timeLimitMs: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------

describe("negotiation and RPC paths", () => {
  it("any method, path, content type and HTTP version: a protocol that can read the request, or a plain 404/405/415/505", async () => {
    await checkProperty(
      "protocol negotiation",
      fc.asyncProperty(methods, requestPathWithUrl, fc.option(contentType), fc.constantFrom("1.1", "2.0"), async (method, path, type, version) => {
        const req = request({ method, path, httpVersion: version, headers: type === null ? [] : [["content-type", type]] });
        const ct = req.header.get("content-type") ?? "";
        const negotiated = negotiateProtocol(req);
        if (!("open" in negotiated)) {
          expect([404, 405, 415, 505]).toContain(negotiated.status);
          expect(negotiated.header?.get("content-type")).toMatch(/^text\/plain/);
          expect(new TextDecoder().decode(await readBody(negotiated))).toMatch(/\n$/);
          return;
        }
        expect(parseRpcPath(req.url)).toEqual(negotiated.rpc);
        const exchange = negotiated.open(req, negotiated.rpc, context);
        if (negotiated.open === openConnectGet) {
          expect(method).toBe("GET");
        } else if (negotiated.open === openConnectExchange) {
          // The codec and the unary/stream shape come from the content type: it must be one Connect defines.
          const parsed = parseConnectContentType(ct);
          expect(parsed, `Connect content type ${JSON.stringify(ct)}`).toBeDefined();
          expect(exchange.request.codec).toBe(parsed?.binary === true ? "proto" : "json");
        } else if (negotiated.open === openGrpcWebExchange) {
          // Text or binary decides how the body is read.
          const text = /^application\/grpc-web-text/i.test(ct);
          const response = await exchange.respond(callResultFromError(new ConnectError("x", Code.Internal)));
          expect(response.header?.get("content-type")?.startsWith(text ? "application/grpc-web-text" : "application/grpc-web+")).toBe(true);
        } else {
          expect(negotiated.open).toBe(openGrpcExchange);
          expect(version).toBe("2.0");
          expect(ct).toMatch(/^application\/grpc/i);
        }
      }),
      { numRuns: 3000, timeLimitMs: 2500 },
    );
  });

  it("parseRpcPath: any URL gives a well-formed service and method or none; RPC URLs round-trip", async () => {
    await checkProperty(
      "rpc path (arbitrary)",
      fc.property(fc.oneof(anyUtf16({ maxLength: 60 }), requestPathWithUrl.map(url), requestPath), (text) => {
        const parsed = parseRpcPath(text);
        if (parsed !== undefined) {
          expect(parsed.service).toMatch(/^[A-Za-z_][\w.]*$/);
          expect(parsed.method).toMatch(/^[A-Za-z_]\w*$/);
          expect(parsed.path).toBe(`/${parsed.service}/${parsed.method}`);
        }
      }),
      { numRuns: 3000, timeLimitMs: 1000 },
    );
    await checkProperty(
      "rpc path (round trip)",
      fc.property(serviceName, identifier, fc.option(fc.stringMatching(/^[\w=&%.-]{0,20}$/)), (service, method, query) => {
        const parsed = parseRpcPath(url(`/${service}/${method}${query === null ? "" : `?${query}`}`));
        expect(parsed).toEqual({ path: `/${service}/${method}`, service, method });
      }),
      { numRuns: 1000, timeLimitMs: 1000 },
    );
  });

  it("Connect GET: any query (bad percent-encoding, bad base64, unknown keys) gives the request or a ConnectError", async () => {
    const queryValue = fc.oneof(
      fc.constantFrom("v1", "v2", "json", "proto", "1", "0", "gzip", "br", "snappy", "%", "%zz", "%E0%A4", "%FF", "%00", "%2", "+", "=", "&"),
      fc.stringMatching(/^[\w%+=/.-]{0,20}$/),
      anyUtf16({ maxLength: 12 }).map((s) => encodeURIComponent(wellFormed(s))),
    );
    const queryKey = fc.oneof(fc.constantFrom("connect", "encoding", "message", "base64", "compression"), fc.stringMatching(/^\w{1,6}$/));
    await checkProperty(
      "connect GET query",
      fc.property(
        fc.array(fc.tuple(queryKey, queryValue), { maxLength: 7 }),
        fc.option(connectTimeoutValue),
        (pairs, timeout) => {
          const query = pairs.map(([k, v]) => `${k}=${v}`).join("&");
          const exchange = openConnectGet(
            request({ method: "GET", path: `/greet.v1.GreetService/Greet?${query}`, headers: timeout === null ? [] : [["connect-timeout-ms", timeout]] }),
            rpc,
            context,
          );
          expect(exchange.request.readOnly).toBe(true);
          if (exchange.error !== undefined) {
            expectConnectError(exchange.error, [Code.InvalidArgument, Code.Unimplemented, Code.ResourceExhausted]);
          } else {
            const params = new URL(url(`/x?${query}`)).searchParams;
            expect(["json", "proto"]).toContain(params.get("encoding"));
            expect(exchange.request.codec).toBe(params.get("encoding"));
          }
        },
      ),
      { numRuns: 3000, timeLimitMs: 2000 },
    );
  });

  it("Connect GET: any message, as a client encodes it, arrives as the same bytes", async () => {
    await checkProperty(
      "connect GET round trip",
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), fc.string({ unit: "binary", maxLength: 40 }), fc.boolean(), async (bytes, text, binary) => {
        const message = binary ? base64Encode(bytes, "url") : encodeURIComponent(text);
        const path = `/greet.v1.GreetService/Greet?connect=v1&encoding=${binary ? "proto" : "json"}${binary ? "&base64=1" : ""}&message=${message}`;
        const exchange = openConnectGet(request({ method: "GET", path }), rpc, context);
        expect(exchange.error).toBeUndefined();
        const [sent] = await collect(exchange.request.messages);
        expect(sent?.data).toEqual(binary ? bytes : new TextEncoder().encode(text));
      }),
      { numRuns: 1500, timeLimitMs: 1000 },
    );
  });
});

/** The bugs these properties found, pinned as plain examples. */
describe("regressions found by fuzzing", () => {
  it("a valid grpc-timeout or connect-timeout-ms longer than a timer can wait is capped, not an immediate deadline", () => {
    expect(readGrpcRequestHeader(new Headers({ "grpc-timeout": "99999999H" }), context)).toMatchObject({ timeoutMs: maxTimeoutMs, error: undefined });
    expect(readGrpcRequestHeader(new Headers({ "grpc-timeout": "2000H" }), context).timeoutMs).toBe(maxTimeoutMs);
    const connect = openConnectExchange(request({ headers: [["content-type", "application/proto"], ["connect-timeout-ms", "9999999999"]] }), rpc, context);
    expect(connect.request.timeoutMs).toBe(maxTimeoutMs);
    // The remaining time sent upstream stays within a timer's reach too.
    expect(parseGrpcTimeout(formatGrpcTimeout(maxTimeoutMs), Number.MAX_SAFE_INTEGER).timeoutMs).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it("a Connect client's grpc-timeout header is not passed to the pod as metadata (it would set the pod's deadline)", () => {
    const exchange = openInbound("connect unary", [["grpc-timeout", "99999999H"], ["grpc-encoding", "gzip"], ["x-kept", "1"]]);
    expect([...exchange.request.metadata.keys()]).toEqual(["x-kept"]);
  });

  it("a request body that ends right after a message's 5-byte prefix is InvalidArgument, not a message that vanishes", async () => {
    for (const name of ["grpc", "grpc-web", "connect stream"]) {
      const exchange = openInbound(name, [], [new Uint8Array([0, 0, 0, 0, 20])]);
      expect(await drainMessages(exchange)).toMatchObject({ code: Code.InvalidArgument });
    }
  });

  it("Connect content types with parameters Connect does not define are 415, not JSON read as binary", () => {
    for (const type of ["application/json;x", "application/connect+json;x=1", "application/proto; charset=utf-8"]) {
      const negotiated = negotiateProtocol(request({ headers: [["content-type", type]] }));
      expect("open" in negotiated ? "negotiated" : negotiated.status).toBe(415);
    }
  });

  it("a grpc-web-text type with a codec or parameters is still read as base64", async () => {
    const envelope = Buffer.from(encodeEnvelope(0, new Uint8Array([8, 1]))).toString("base64");
    for (const type of ["application/grpc-web-text+thrift", "application/grpc-web-text;x=1"]) {
      const exchange = openGrpcWebExchange(request({ headers: [["content-type", type]], body: [Buffer.from(envelope)] }), rpc, context);
      expect(await drainMessages(exchange)).toEqual([{ flags: 0, data: new Uint8Array([8, 1]) }]);
    }
  });

  it("a pod status that cannot be read (corrupt grpc-status-details-bin, grpc-message not percent-encoded, a code beyond 16) ends the call with a status", async () => {
    const trailers: Record<string, string>[] = [
      { "grpc-status-details-bin": "AA==" },
      { "grpc-status": "3", "grpc-message": "100%" },
      { "grpc-status-details-bin": "CBE" }, // google.rpc.Status{code: 17}
      { "grpc-status-details-bin": "CIGAgIAI" }, // google.rpc.Status{code: -2147483647}
    ];
    for (const trailer of trailers) {
      const exchange = openInbound("grpc-web");
      const response = await exchange.respond({
        header: new Headers(),
        encoding: "identity",
        messages: fromItems<EnvelopedMessage>([]),
        end: () => ({ error: findTrailerError(new Headers(trailer)), trailer: new Headers() }),
        immediateError: undefined,
      });
      const code = statusOf("grpc-web", response, await readBody(response)).code ?? 0;
      expect(code).toBeGreaterThan(0);
      expect(code).toBeLessThanOrEqual(16);
    }
  });
});
