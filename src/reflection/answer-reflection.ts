import {
  create,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";

/** gRPC status codes an `error_response` carries. */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/**
 * The files a reflection server answers from, indexed once: every file given
 * and, transitively, every file they import (well-known types included, as
 * their DescFiles come with the importing file's dependencies).
 */
export interface ReflectionFiles {
  /** Full names of every service, in file order. */
  readonly services: readonly string[];
  /** Files by name (`greet/v1/greet.proto`). */
  readonly byName: ReadonlyMap<string, DescFile>;
  /**
   * The file declaring each symbol, by full name: messages, enums, enum
   * values (`pkg.VALUE`, scoped as protobuf scopes them, and also
   * `pkg.Enum.VALUE`), fields, oneofs, services, methods, extensions.
   */
  readonly bySymbol: ReadonlyMap<string, DescFile>;
  /** Extensions by the full name of the message they extend. */
  readonly extensionsOf: ReadonlyMap<string, readonly DescExtension[]>;
}

/** Indexes files for answering reflection; keep the result while the files stay the same. */
export function indexReflectionFiles(files: Iterable<DescFile>): ReflectionFiles {
  const byName = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const extensionsOf = new Map<string, DescExtension[]>();
  const services: string[] = [];
  const addExtension = (file: DescFile, ext: DescExtension) => {
    bySymbol.set(ext.typeName, file);
    const list = extensionsOf.get(ext.extendee.typeName) ?? [];
    list.push(ext);
    extensionsOf.set(ext.extendee.typeName, list);
  };
  const addEnum = (file: DescFile, desc: DescEnum, scope: string) => {
    bySymbol.set(desc.typeName, file);
    for (const value of desc.values) {
      bySymbol.set(join(scope, value.name), file);
      bySymbol.set(join(desc.typeName, value.name), file);
    }
  };
  const addMessage = (file: DescFile, message: DescMessage) => {
    bySymbol.set(message.typeName, file);
    for (const field of message.fields) {
      bySymbol.set(join(message.typeName, field.name), file);
    }
    for (const oneof of message.oneofs) {
      bySymbol.set(join(message.typeName, oneof.name), file);
    }
    for (const nested of message.nestedMessages) {
      addMessage(file, nested);
    }
    for (const nested of message.nestedEnums) {
      addEnum(file, nested, message.typeName);
    }
    for (const ext of message.nestedExtensions) {
      addExtension(file, ext);
    }
  };
  const addFile = (file: DescFile) => {
    const name = file.proto.name;
    if (byName.has(name)) {
      return;
    }
    byName.set(name, file);
    for (const dep of file.dependencies) {
      addFile(dep);
    }
    const pkg = file.proto.package;
    for (const message of file.messages) {
      addMessage(file, message);
    }
    for (const desc of file.enums) {
      addEnum(file, desc, pkg);
    }
    for (const ext of file.extensions) {
      addExtension(file, ext);
    }
    for (const service of file.services) {
      services.push(service.typeName);
      bySymbol.set(service.typeName, file);
      for (const method of service.methods) {
        bySymbol.set(join(service.typeName, method.name), file);
      }
    }
  };
  for (const file of files) {
    addFile(file);
  }
  return { services, byName, bySymbol, extensionsOf };
}

function join(scope: string, name: string): string {
  return scope === "" ? name : `${scope}.${name}`;
}

/** Serialized FileDescriptorProtos, once per DescFile. */
const encoded = new WeakMap<DescFile, Uint8Array>();

function encode(file: DescFile): Uint8Array {
  let bytes = encoded.get(file);
  if (bytes === undefined) {
    bytes = toBinary(FileDescriptorProtoSchema, file.proto);
    encoded.set(file, bytes);
  }
  return bytes;
}

/**
 * The file and, breadth first, those of its imports not yet sent on this
 * stream, as gRPC's own servers answer: the requested file always goes out
 * (the client asked for it), a dependency only once per stream.
 */
function withDependencies(file: DescFile, sent: Set<string>): Uint8Array[] {
  const out: Uint8Array[] = [];
  const queue: DescFile[] = [file];
  const visited = new Set<string>();
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const name = next.proto.name;
    if (visited.has(name)) {
      continue;
    }
    visited.add(name);
    if (out.length === 0 || !sent.has(name)) {
      sent.add(name);
      out.push(encode(next));
    }
    queue.push(...next.dependencies);
  }
  return out;
}

/**
 * Answers one `ServerReflectionRequest` (v1) from the given files. `sent`
 * holds the names of the files already sent on this stream (start each
 * stream with an empty set), so dependencies go out once per stream. An
 * unknown symbol, file, type or extension is answered with an
 * `error_response` of code 5 (NOT_FOUND); the stream goes on.
 */
export function answerReflection(
  files: ReflectionFiles,
  request: ServerReflectionRequest,
  sent: Set<string>,
): ServerReflectionResponse {
  const base = { validHost: request.host, originalRequest: request };
  const error = (code: number, message: string) =>
    create(ServerReflectionResponseSchema, {
      ...base,
      messageResponse: { case: "errorResponse", value: { errorCode: code, errorMessage: message } },
    });
  const fileResponse = (file: DescFile) =>
    create(ServerReflectionResponseSchema, {
      ...base,
      messageResponse: {
        case: "fileDescriptorResponse",
        value: { fileDescriptorProto: withDependencies(file, sent) },
      },
    });
  const req = request.messageRequest;
  switch (req.case) {
    case "listServices":
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "listServicesResponse",
          value: { service: files.services.map((name) => ({ name })) },
        },
      });
    case "fileContainingSymbol": {
      const symbol = req.value.startsWith(".") ? req.value.slice(1) : req.value;
      const file = files.bySymbol.get(symbol);
      return file === undefined ? error(NOT_FOUND, `symbol not found: ${req.value}`) : fileResponse(file);
    }
    case "fileByFilename": {
      const file = files.byName.get(req.value);
      return file === undefined ? error(NOT_FOUND, `file not found: ${req.value}`) : fileResponse(file);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = req.value;
      const ext = files.extensionsOf.get(containingType)?.find((e) => e.number === extensionNumber);
      return ext === undefined
        ? error(NOT_FOUND, `extension not found: number ${extensionNumber} of ${containingType}`)
        : fileResponse(ext.file);
    }
    case "allExtensionNumbersOfType": {
      const type = req.value;
      const file = files.bySymbol.get(type);
      const isMessage = file !== undefined && isMessageIn(file, type);
      if (!isMessage) {
        return error(NOT_FOUND, `message type not found: ${type}`);
      }
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "allExtensionNumbersResponse",
          value: {
            baseTypeName: type,
            extensionNumber: (files.extensionsOf.get(type) ?? []).map((e) => e.number),
          },
        },
      });
    }
    case undefined:
      return error(INVALID_ARGUMENT, "empty reflection request: set one of list_services, file_by_filename, file_containing_symbol, file_containing_extension, all_extension_numbers_of_type");
  }
}

function isMessageIn(file: DescFile, typeName: string): boolean {
  const search = (messages: readonly DescMessage[]): boolean =>
    messages.some((m) => m.typeName === typeName || search(m.nestedMessages));
  return search(file.messages);
}

/**
 * Answers one v1alpha request. v1alpha's messages are v1's under another
 * package (same fields, same numbers), so the request is read as v1 and the
 * answer written back as v1alpha through the wire format: one
 * implementation, both versions.
 */
export function answerReflectionV1alpha(
  files: ReflectionFiles,
  request: v1alpha.ServerReflectionRequest,
  sent: Set<string>,
): v1alpha.ServerReflectionResponse {
  const asV1 = fromBinary(ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, request));
  const answer = answerReflection(files, asV1, sent);
  return fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(ServerReflectionResponseSchema, answer));
}

/**
 * Answers a whole `ServerReflectionInfo` stream (v1): one answer per
 * request, in order, with one "already sent" set for the stream. `files`
 * is asked once, on the first request.
 */
export async function* answerReflectionStream(
  files: () => ReflectionFiles | Promise<ReflectionFiles>,
  requests: AsyncIterable<ServerReflectionRequest>,
): AsyncIterable<ServerReflectionResponse> {
  const sent = new Set<string>();
  let index: ReflectionFiles | undefined;
  for await (const request of requests) {
    index ??= await files();
    yield answerReflection(index, request, sent);
  }
}

/** {@link answerReflectionStream} for v1alpha. */
export async function* answerReflectionStreamV1alpha(
  files: () => ReflectionFiles | Promise<ReflectionFiles>,
  requests: AsyncIterable<v1alpha.ServerReflectionRequest>,
): AsyncIterable<v1alpha.ServerReflectionResponse> {
  const sent = new Set<string>();
  let index: ReflectionFiles | undefined;
  for await (const request of requests) {
    index ??= await files();
    yield answerReflectionV1alpha(index, request, sent);
  }
}
