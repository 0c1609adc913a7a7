import { type DescFile, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressedFlag, type EnvelopedMessage } from "@connectrpc/connect/protocol";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import { callResultFromError } from "../call/call-result-from-error.ts";
import { guardResult } from "../call/guard-result.ts";
import { type CompressionRegistry, identity } from "../call/message-encoding.ts";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import {
  answerReflectionStream,
  answerReflectionStreamV1alpha,
  indexReflectionFiles,
  type ReflectionFiles,
} from "./answer-reflection.ts";

/** The reflection services the gateway answers itself, whatever the routes say. */
export const reflectionServices: ReadonlyMap<string, typeof v1.ServerReflection | typeof v1alpha.ServerReflection> = new Map<
  string,
  typeof v1.ServerReflection | typeof v1alpha.ServerReflection
>([
  [v1.ServerReflection.typeName, v1.ServerReflection],
  [v1alpha.ServerReflection.typeName, v1alpha.ServerReflection],
]);

/** The files of the reflection services, so their own JSON calls can be transcoded. */
export const reflectionFiles: readonly DescFile[] = [v1.file_grpc_reflection_v1_reflection, v1alpha.file_grpc_reflection_v1alpha_reflection];

const indexes = new WeakMap<readonly DescFile[], ReflectionFiles>();

/**
 * Answers `ServerReflectionInfo` (v1 or v1alpha) at the gateway, from the
 * files of every backend the host routes to, so `buf curl --reflect` lists
 * every service a host serves even when its pods do not serve reflection
 * (descriptor sets) or sit behind several backends. The stream answers each
 * request as it arrives, so it works as a bidi stream on HTTP/2 and as a
 * half-duplex one on HTTP/1.1.
 */
export function serveReflection(
  call: CallRequest,
  files: () => Promise<readonly DescFile[]>,
  context: { readonly compressions: CompressionRegistry; readonly readMaxBytes: number },
): CallResult {
  const service = reflectionServices.get(call.service);
  if (service === undefined || call.method !== service.method.serverReflectionInfo.name) {
    return callResultFromError(new ConnectError(`${call.service}/${call.method} is not implemented`, Code.Unimplemented));
  }
  const index = async () => {
    const all = await files();
    let indexed = indexes.get(all);
    if (indexed === undefined) {
      indexed = indexReflectionFiles(all);
      indexes.set(all, indexed);
    }
    return indexed;
  };
  const method = service.method.serverReflectionInfo;
  const requests = decode(call, method.input, context);
  const responses: AsyncIterable<unknown> =
    service === v1.ServerReflection
      ? answerReflectionStream(index, requests as AsyncIterable<v1.ServerReflectionRequest>)
      : answerReflectionStreamV1alpha(index, requests as AsyncIterable<v1alpha.ServerReflectionRequest>);
  async function* messages(): AsyncIterable<EnvelopedMessage> {
    for await (const response of responses) {
      yield { flags: 0, data: toBinary(method.output as DescMessage, response as never) };
    }
  }
  const base: CallResult = {
    header: new Headers(),
    encoding: identity,
    messages: messages(),
    end: () => ({ error: undefined, trailer: new Headers() }),
    immediateError: undefined,
  };
  const guarded = guardResult(base, base.messages);
  return { ...base, messages: guarded.messages, end: guarded.end };
}

async function* decode(
  call: CallRequest,
  schema: DescMessage,
  context: { readonly compressions: CompressionRegistry; readonly readMaxBytes: number },
): AsyncIterable<unknown> {
  for await (const message of call.messages) {
    let data = message.data;
    if ((message.flags & compressedFlag) === compressedFlag) {
      const compression = context.compressions.get(call.encoding);
      if (compression === undefined) {
        throw new ConnectError(`message compressed with unsupported "${call.encoding}"`, Code.Internal);
      }
      data = await compression.decompress(data, context.readMaxBytes);
    }
    try {
      yield fromBinary(schema, data);
    } catch (error) {
      throw new ConnectError(
        `invalid ${schema.typeName}: ${error instanceof Error ? error.message : String(error)}`,
        Code.InvalidArgument,
      );
    }
  }
}
