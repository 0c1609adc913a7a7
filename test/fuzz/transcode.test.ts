import * as fc from "fast-check";
import {
  createRegistry,
  type DescField,
  type DescMessage,
  type DescMethod,
  fromBinary,
  fromJsonString,
  type JsonValue,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressedFlag, type EnvelopedMessage } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import type { CallRequest } from "../../src/call/call-request.ts";
import type { CallResult } from "../../src/call/call-result.ts";
import { file_greet_v1_greet, GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { file_probe_v1_probe, ProbeDetailSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { binaryResultToJson, type JsonTranscodeContext, jsonRequestToBinary } from "../../src/transcode/json-transcoder.ts";
import { anyUtf16, checkProperty, collect, expectConnectError, fromItems, fuzzBudget, reportInputs } from "./fuzz-support.ts";

const startedAt = performance.now();
fuzzBudget(6000);
afterAll(() => reportInputs("transcode", startedAt));

const registry = createRegistry(file_probe_v1_probe, file_greet_v1_greet);
const context = (ignoreUnknownFields: boolean): JsonTranscodeContext => ({
  registry,
  ignoreUnknownFields,
  compressions: new Map([
    ["gzip", compressionGzip],
    ["br", compressionBrotli],
  ]),
  readMaxBytes: 64 * 1024,
});

/** Every method of the test schemas: probe.v1 (well-known types, int64, enums, maps) and greet.v1. */
const allMethods: DescMethod[] = [...ProbeService.methods, ...GreetService.methods];
const methodArb = fc.constantFrom(...allMethods.map((m) => `${m.parent.typeName}/${m.name}`)).map(
  (name) => allMethods.find((m) => `${m.parent.typeName}/${m.name}` === name) as DescMethod,
);

// ---------------------------------------------------------------------------
// JSON a hostile client can send: shaped by the schema (right keys, values of
// every type) so the parser gets past the first key, and shapeless.

const numberish = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.nat(),
  fc.constantFrom("1", "-1", "1e3", "1.5", "0x10", "NaN", "Infinity", "-Infinity", "4294967296", "9223372036854775808", "-9223372036854775809", "", " 1", "01"),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => n.toString()),
);
const stringish = fc.oneof(fc.string({ maxLength: 20 }), anyUtf16({ maxLength: 12 }));
const bytesish = fc.oneof(
  fc.uint8Array({ maxLength: 20 }).chain((b) => fc.constantFrom(base64Encode(b, "std"), base64Encode(b, "url"), base64Encode(b, "std_raw"))),
  fc.string({ maxLength: 12 }),
);
const timestampish = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,12})?(Z|[+-]\d\d:\d\d)?$/),
  fc.constantFrom("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "10000-01-01T00:00:00Z", "1970-01-01T00:00:00+25:00", "now"),
);
const anyJson: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>;

function scalarValue(scalar: ScalarType): fc.Arbitrary<JsonValue> {
  switch (scalar) {
    case ScalarType.STRING:
      return stringish;
    case ScalarType.BYTES:
      return bytesish;
    case ScalarType.BOOL:
      return fc.oneof(fc.boolean(), fc.constantFrom("true", "false", 0, 1));
    default:
      return numberish as fc.Arbitrary<JsonValue>;
  }
}

function singularValue(field: DescField, depth: number): fc.Arbitrary<JsonValue> {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar);
    case "enum":
      return fc.oneof(fc.constantFrom(...field.enum.values.map((v) => v.name)), fc.integer({ min: -3, max: 5 }), stringish);
    case "message":
      return messageValue(field.message, depth + 1);
    default:
      return anyJson;
  }
}

function fieldValue(field: DescField, depth: number): fc.Arbitrary<JsonValue> {
  let typed: fc.Arbitrary<JsonValue>;
  switch (field.fieldKind) {
    case "list": {
      const item =
        field.listKind === "scalar"
          ? scalarValue(field.scalar)
          : field.listKind === "enum"
            ? fc.constantFrom(...field.enum.values.map((v) => v.name))
            : messageValue(field.message, depth + 1);
      typed = fc.array(item, { maxLength: 3 });
      break;
    }
    case "map":
      typed = fc.dictionary(
        fc.oneof(stringish, fc.integer().map(String), fc.constantFrom("true", "x-bin", "__proto__", "constructor")),
        field.mapKind === "scalar" ? scalarValue(field.scalar) : field.mapKind === "enum" ? fc.constantFrom(...field.enum.values.map((v) => v.name)) : messageValue(field.message, depth + 1),
        { maxKeys: 3 },
      );
      break;
    default:
      typed = singularValue(field, depth);
  }
  return fc.oneof({ weight: 4, arbitrary: typed }, { weight: 1, arbitrary: anyJson }, { weight: 1, arbitrary: fc.constant(null) });
}

function messageValue(message: DescMessage, depth: number): fc.Arbitrary<JsonValue> {
  if (message.typeName === "google.protobuf.Timestamp") {
    return fc.oneof(timestampish, anyJson);
  }
  if (depth > 2) return anyJson;
  const entries = message.fields.map((field) =>
    fc.tuple(fc.constantFrom(field.jsonName, field.name), fieldValue(field, depth)),
  );
  return fc
    .tuple(
      fc.subarray(entries.map((_, i) => i)).chain((picked) => fc.tuple(...picked.map((i) => entries[i] as fc.Arbitrary<[string, JsonValue]>))),
      fc.array(fc.tuple(fc.oneof(stringish, fc.constantFrom("__proto__", "constructor", "@type")), anyJson), { maxLength: 2 }),
    )
    .map(([known, unknown]) => Object.fromEntries([...known, ...unknown]) as JsonValue);
}

/** The bytes of a request message: JSON text as sent, mangled, or not JSON at all. */
function requestBytes(method: DescMethod): fc.Arbitrary<Uint8Array> {
  const encoder = new TextEncoder();
  const json = fc.oneof(messageValue(method.input, 0), anyJson).map((v) => JSON.stringify(v));
  return fc.oneof(
    { weight: 6, arbitrary: json.map((t) => encoder.encode(t)) },
    { weight: 1, arbitrary: fc.tuple(json, fc.nat()).map(([t, cut]) => encoder.encode(t.slice(0, cut % (t.length + 1)))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.tuple(json, fc.uint8Array({ minLength: 1, maxLength: 3 })).map(([t, junk]) => new Uint8Array(Buffer.concat([encoder.encode(t), junk]))) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => encoder.encode(`{"payload":${"[".repeat(n)}${"]".repeat(n)}}`)) },
  );
}

function jsonCall(messages: EnvelopedMessage[], encoding = "identity"): CallRequest {
  return {
    protocol: "connect",
    path: "/x.v1.X/Y",
    service: "x.v1.X",
    method: "Y",
    authority: "gateway.test",
    metadata: new Headers(),
    timeoutMs: undefined,
    encoding,
    acceptEncoding: [],
    messages: fromItems(messages),
    signal: new AbortController().signal,
    codec: "json",
    readOnly: false,
    unary: false,
  };
}

describe("Connect JSON to binary", () => {
  it("any request bytes for any method: the binary message the library would make, or InvalidArgument", async () => {
    const seen = { accepted: 0, rejected: 0 };
    await checkProperty(
      "JSON requests",
      fc.asyncProperty(
        methodArb.chain((method) => fc.tuple(fc.constant(method), fc.array(requestBytes(method), { minLength: 1, maxLength: 3 }))),
        fc.boolean(),
        async ([method, bodies], ignoreUnknown) => {
          const call = jsonRequestToBinary(jsonCall(bodies.map((data) => ({ flags: 0, data }))), method, context(ignoreUnknown));
          expect(call.codec).toBe("proto");
          const out: EnvelopedMessage[] = [];
          let failure: ConnectError | undefined;
          try {
            for await (const m of call.messages) out.push(m);
          } catch (e) {
            failure = expectConnectError(e, [Code.InvalidArgument]);
            expect(failure.message).toContain(`invalid JSON for ${method.input.typeName}`);
          }
          // Every message before the failing one is exactly what the library makes of it.
          out.forEach((m, i) => {
            const text = new TextDecoder("utf-8", { fatal: true }).decode(bodies[i]);
            const expected = toBinary(method.input, fromJsonString(method.input, text, { registry, ignoreUnknownFields: ignoreUnknown }));
            expect(m.flags).toBe(0);
            expect([...m.data]).toEqual([...expected]);
          });
          expect(out.length).toBe(failure === undefined ? bodies.length : out.length);
          seen.accepted += out.length;
          seen.rejected += failure === undefined ? 0 : 1;
        },
      ),
      { numRuns: 2500, timeLimitMs: 4000, runTimeoutMs: 3000 },
    );
    // The inputs reach both sides: messages the schema accepts, and ones it rejects.
    console.log(`JSON requests: ${seen.accepted} messages accepted, ${seen.rejected} calls rejected`);
    expect(seen.accepted).toBeGreaterThan(100);
    expect(seen.rejected).toBeGreaterThan(100);
  });

  it("compressed JSON: valid gzip or br, corrupt bytes, or a bomb past the limit give the message or a ConnectError", async () => {
    const method = ProbeService.method.probe;
    await checkProperty(
      "compressed JSON requests",
      fc.asyncProperty(
        requestBytes(method),
        fc.constantFrom("gzip", "br", "snappy"),
        fc.constantFrom("valid", "corrupt", "bomb"),
        fc.nat(),
        async (body, encoding, kind, flip) => {
          const compression = encoding === "br" ? compressionBrotli : compressionGzip;
          let data = kind === "bomb" ? await compression.compress(new Uint8Array(200_000)) : await compression.compress(body);
          if (kind === "corrupt") {
            data = new Uint8Array(data);
            const at = flip % data.byteLength;
            data[at] = (data[at] ?? 0) ^ (1 + (flip % 255));
          }
          const call = jsonRequestToBinary(jsonCall([{ flags: compressedFlag, data }], encoding), method, context(false));
          try {
            await collect(call.messages);
          } catch (e) {
            expectConnectError(e, [Code.InvalidArgument, Code.ResourceExhausted, Code.Internal]);
          }
        },
      ),
      { numRuns: 600, timeLimitMs: 2500, runTimeoutMs: 3000 },
    );
  });
});

describe("binary answers to Connect JSON", () => {
  /** A pod's answer: the encoding of a message the client sent (valid), cut short, or random bytes. */
  const answerBytes = methodArb.chain((method) =>
    fc.tuple(
      fc.constant(method),
      fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 60 }),
          requestBytes(method).map((b) => {
            try {
              const text = new TextDecoder("utf-8", { fatal: true }).decode(b);
              return toBinary(method.output, fromJsonString(method.output, text, { registry, ignoreUnknownFields: true }));
            } catch {
              return b;
            }
          }),
          fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 60 }), fc.nat()).map(([b, cut]) => b.subarray(0, cut % b.byteLength)),
        ),
        { maxLength: 3 },
      ),
    ),
  );

  it("any bytes from a pod: each decodable message as JSON, then Internal for the first that is not; never a throw", async () => {
    const seen = { decoded: 0, failed: 0 };
    await checkProperty(
      "binary answers",
      fc.asyncProperty(answerBytes, async ([method, answers]) => {
        let ended = false;
        const result: CallResult = {
          header: new Headers(),
          encoding: "identity",
          messages: fromItems(answers.map((data) => ({ flags: 0, data }))),
          end() {
            ended = true;
            return { error: undefined, trailer: new Headers() };
          },
          immediateError: undefined,
        };
        const json = binaryResultToJson(result, method, context(false));
        const out = await collect(json.messages); // never throws: failures end the iteration
        const end = json.end();
        expect(ended).toBe(true);
        let decodable = 0;
        for (const data of answers) {
          try {
            fromBinary(method.output, data, { readUnknownFields: false });
            decodable++;
          } catch {
            break;
          }
        }
        expect(out).toHaveLength(decodable);
        seen.decoded += decodable;
        if (decodable < answers.length) {
          seen.failed++;
          expectConnectError(end.error, [Code.Internal]);
        } else {
          expect(end.error).toBeUndefined();
        }
        out.forEach((m, i) => {
          const text = new TextDecoder().decode(m.data);
          const expected = toBinary(method.output, fromBinary(method.output, answers[i] as Uint8Array, { readUnknownFields: false }));
          expect([...toBinary(method.output, fromJsonString(method.output, text))]).toEqual([...expected]);
        });
      }),
      { numRuns: 2500, timeLimitMs: 3000, runTimeoutMs: 3000 },
    );
    console.log(`binary answers: ${seen.decoded} messages decoded, ${seen.failed} calls ended with Internal`);
    expect(seen.decoded).toBeGreaterThan(100);
    expect(seen.failed).toBeGreaterThan(100);
  });

  it("any error details from a pod: kept, with a debug rendering when their type is known and they decode", async () => {
    const detail = fc.record({
      type: fc.oneof(fc.constant(ProbeDetailSchema.typeName), fc.constant("probe.v1.ProbeRequest"), fc.constant("google.protobuf.Timestamp"), fc.string({ maxLength: 20 })),
      value: fc.oneof(
        fc.uint8Array({ maxLength: 30 }),
        fc.record({ text: anyUtf16({ maxLength: 10 }), pod: fc.string({ maxLength: 5 }) }).map((v) =>
          toBinary(ProbeDetailSchema, { $typeName: ProbeDetailSchema.typeName, ...v }),
        ),
      ),
    });
    await checkProperty(
      "error details",
      fc.asyncProperty(fc.array(detail, { maxLength: 4 }), fc.boolean(), fc.integer({ min: 1, max: 16 }), async (details, immediate, code) => {
        const error = new ConnectError("failed", code as Code);
        error.details = details.map((d) => ({ ...d }));
        const result: CallResult = {
          header: new Headers(),
          encoding: "identity",
          messages: fromItems<EnvelopedMessage>([]),
          end: () => ({ error, trailer: new Headers() }),
          immediateError: immediate ? error : undefined,
        };
        const json = binaryResultToJson(result, ProbeService.method.probe, context(false));
        await collect(json.messages);
        const end = json.end();
        for (const e of [end.error, immediate ? json.immediateError : end.error]) {
          expect(e?.code).toBe(code);
          expect(e?.details).toHaveLength(details.length);
        }
      }),
      { numRuns: 1500, timeLimitMs: 1500 },
    );
  });
});
