import { createRegistry, type DescFile } from "@bufbuild/protobuf";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import { reflectionFiles, reflectionServices, serveReflection } from "../reflection/serve-reflection.ts";
import { SchemaUnavailableError } from "../schema/backend-schema.ts";
import { binaryResultToJson, jsonRequestToBinary } from "../transcode/json-transcoder.ts";
import type { CallHandlerOptions } from "./create-call-handler.ts";

const reflectionRegistry = createRegistry(...reflectionFiles);

/**
 * The gateway's answer to a reflection call: the union of the schemas of
 * every backend the host routes to (a backend without a schema adds
 * nothing). Connect JSON clients are served too, through the reflection
 * service's own schema.
 */
export function answerReflectionForHost(call: CallRequest, host: string, options: CallHandlerOptions): CallResult {
  const files = async (): Promise<readonly DescFile[]> => {
    const all: DescFile[] = [];
    for (const name of options.routes.backendsForHost(host)) {
      const backend = options.backends.get(name);
      if (backend === undefined) continue;
      try {
        all.push(...(await backend.schema.files()));
      } catch (error) {
        if (!(error instanceof SchemaUnavailableError)) throw error;
      }
    }
    return all;
  };
  const context = { compressions: options.protocol.compressions, readMaxBytes: options.protocol.readMaxBytes };
  const method = reflectionServices.get(call.service)?.method.serverReflectionInfo;
  if (call.codec !== "json" || method === undefined) {
    return serveReflection(call, files, context);
  }
  const json = { ...context, registry: reflectionRegistry, ignoreUnknownFields: false };
  return binaryResultToJson(serveReflection(jsonRequestToBinary(call, method, json), files, context), method, json);
}
