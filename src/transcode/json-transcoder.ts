import {
  type DescMethod,
  fromBinary,
  fromJson,
  fromJsonString,
  type JsonValue,
  type Registry,
  toBinary,
  toJson,
  toJsonString,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressedFlag, type EnvelopedMessage } from "@connectrpc/connect/protocol";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import { guardResult } from "../call/guard-result.ts";
import { type CompressionRegistry, identity } from "../call/message-encoding.ts";

/** What transcoding needs besides the method: the types for Any and error details, and the limits. */
export interface JsonTranscodeContext {
  readonly registry: Registry;
  /** Drop JSON fields the schema does not know instead of rejecting the call. */
  readonly ignoreUnknownFields: boolean;
  readonly compressions: CompressionRegistry;
  readonly readMaxBytes: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * A Connect JSON call made binary for the pod: every request message is
 * decompressed if it was, parsed with the protobuf JSON mapping (well-known
 * types, int64 as strings, enums by name; unknown fields rejected unless
 * configured) and serialized as binary protobuf. A message that does not
 * match the schema fails the call with InvalidArgument naming the field, as
 * the pod itself would for a bad binary message.
 */
export function jsonRequestToBinary(call: CallRequest, method: DescMethod, context: JsonTranscodeContext): CallRequest {
  const options = { registry: context.registry, ignoreUnknownFields: context.ignoreUnknownFields };
  async function* messages(): AsyncIterable<EnvelopedMessage> {
    for await (const message of call.messages) {
      const text = decodeText(await plain(message, call.encoding, context), method.input.typeName);
      let parsed;
      try {
        parsed = fromJsonString(method.input, text, options);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const field = failingField(method.input, text, options);
        const named = field === undefined || reason.includes(`${method.input.typeName}.${field}`);
        throw new ConnectError(
          `invalid JSON for ${method.input.typeName}: ${named ? "" : `field ${method.input.typeName}.${field}: `}${reason}`,
          Code.InvalidArgument,
        );
      }
      yield { flags: 0, data: toBinary(method.input, parsed) };
    }
  }
  return { ...call, codec: "proto", encoding: identity, messages: messages() };
}

/**
 * The pod's binary answer made JSON for the client: each message decoded
 * with the method's output type and written with the protobuf JSON mapping;
 * error details of known types get their `debug` rendering, so a browser
 * sees `{"type":"…","value":"…","debug":{…}}` it can read. A message the
 * schema cannot decode ends the call with Internal (the schema is stale).
 */
export function binaryResultToJson(result: CallResult, method: DescMethod, context: JsonTranscodeContext): CallResult {
  const options = { registry: context.registry };
  async function* messages(): AsyncIterable<EnvelopedMessage> {
    for await (const message of result.messages) {
      const data = await plain(message, result.encoding, context);
      let decoded;
      try {
        decoded = fromBinary(method.output, data, { readUnknownFields: false });
      } catch (error) {
        throw new ConnectError(
          `the pod's answer does not decode as ${method.output.typeName} (is the schema stale?): ${error instanceof Error ? error.message : String(error)}`,
          Code.Internal,
        );
      }
      yield { flags: 0, data: encoder.encode(toJsonString(method.output, decoded, options)) };
    }
  }
  const guarded = guardResult(result, messages());
  const withDebug = (error: ConnectError | undefined) =>
    error === undefined ? undefined : withDetailDebug(error, context.registry);
  return {
    ...result,
    encoding: identity,
    messages: guarded.messages,
    immediateError: withDebug(result.immediateError),
    end() {
      const end = guarded.end();
      return { error: withDebug(end.error), trailer: end.trailer };
    },
  };
}

/** Adds the JSON rendering of each error detail whose type the registry knows. */
function withDetailDebug(error: ConnectError, registry: Registry): ConnectError {
  if (error.details.length === 0) {
    return error;
  }
  const details = error.details.map((detail) => {
    if ("desc" in detail || detail.debug !== undefined) {
      return detail;
    }
    const desc = registry.getMessage(detail.type);
    if (desc === undefined) {
      return detail;
    }
    try {
      return { ...detail, debug: toJson(desc, fromBinary(desc, detail.value), { registry }) };
    } catch {
      return detail;
    }
  });
  // The constructor takes outgoing details only; incoming ones (type, bytes, debug) are set after.
  const enriched = new ConnectError(error.rawMessage, error.code, error.metadata, undefined, error.cause);
  enriched.details = details;
  return enriched;
}

/**
 * The top-level field whose value made a JSON message fail to parse. The
 * library names the field for scalar errors but only the type for an enum or
 * a well-known type (two Timestamps would be indistinguishable), so on
 * failure, and only then, each key is tried on its own.
 */
function failingField(
  schema: DescMethod["input"],
  text: string,
  options: { registry: Registry; ignoreUnknownFields: boolean },
): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return undefined;
  }
  for (const [key, field] of Object.entries(value)) {
    try {
      fromJson(schema, { [key]: field } as JsonValue, options);
    } catch {
      // The JSON key may be the camelCase JSON name; report the field's proto name.
      return schema.fields.find((f) => f.jsonName === key || f.name === key)?.name ?? key;
    }
  }
  return undefined;
}

async function plain(message: EnvelopedMessage, encoding: string, context: JsonTranscodeContext): Promise<Uint8Array> {
  if ((message.flags & compressedFlag) !== compressedFlag) {
    return message.data;
  }
  const compression = context.compressions.get(encoding);
  if (compression === undefined) {
    throw new ConnectError(`message compressed with unsupported "${encoding}"`, Code.Internal);
  }
  return compression.decompress(message.data, context.readMaxBytes);
}

function decodeText(data: Uint8Array, typeName: string): string {
  try {
    return utf8.decode(data);
  } catch {
    throw new ConnectError(`invalid JSON for ${typeName}: not UTF-8`, Code.InvalidArgument);
  }
}
