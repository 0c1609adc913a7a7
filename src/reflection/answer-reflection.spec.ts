import { create, createFileRegistry, type DescFile, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { file_greet_v1_greet } from "../gen/greet/v1/greet_pb.ts";
import { file_probe_v1_probe } from "../gen/probe/v1/probe_pb.ts";
import {
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import {
  answerReflection,
  answerReflectionStream,
  answerReflectionV1alpha,
  indexReflectionFiles,
} from "./answer-reflection.ts";

const LABEL_OPTIONAL = FieldDescriptorProto_Label.OPTIONAL;
const TYPE_STRING = FieldDescriptorProto_Type.STRING;
const TYPE_MESSAGE = FieldDescriptorProto_Type.MESSAGE;
const TYPE_ENUM = FieldDescriptorProto_Type.ENUM;

/**
 * acme/v1/acme.proto (proto2, so it can declare extensions): imports
 * greet.v1 and google.protobuf.Timestamp, nests a message and an enum,
 * extends its own message, serves a service.
 */
const acmeProto: FileDescriptorProto = create(FileDescriptorProtoSchema, {
  name: "acme/v1/acme.proto",
  package: "acme.v1",
  syntax: "proto2",
  dependency: ["greet/v1/greet.proto", "google/protobuf/timestamp.proto"],
  messageType: [
    {
      name: "Order",
      field: [
        { name: "id", number: 1, label: LABEL_OPTIONAL, type: TYPE_STRING, jsonName: "id" },
        { name: "at", number: 2, label: LABEL_OPTIONAL, type: TYPE_MESSAGE, typeName: ".google.protobuf.Timestamp", jsonName: "at" },
        { name: "state", number: 3, label: LABEL_OPTIONAL, type: TYPE_ENUM, typeName: ".acme.v1.Order.State", jsonName: "state" },
        { name: "greeting", number: 4, label: LABEL_OPTIONAL, type: TYPE_MESSAGE, typeName: ".greet.v1.GreetRequest", jsonName: "greeting" },
      ],
      nestedType: [{ name: "Line", field: [{ name: "sku", number: 1, label: LABEL_OPTIONAL, type: TYPE_STRING, jsonName: "sku" }] }],
      enumType: [{ name: "State", value: [{ name: "STATE_OPEN", number: 0 }, { name: "STATE_SHIPPED", number: 1 }] }],
      extensionRange: [{ start: 100, end: 200 }],
    },
  ],
  enumType: [{ name: "Priority", value: [{ name: "PRIORITY_LOW", number: 0 }, { name: "PRIORITY_HIGH", number: 1 }] }],
  extension: [
    { name: "note", number: 100, label: LABEL_OPTIONAL, type: TYPE_STRING, extendee: ".acme.v1.Order", jsonName: "note" },
    { name: "tag", number: 150, label: LABEL_OPTIONAL, type: TYPE_STRING, extendee: ".acme.v1.Order", jsonName: "tag" },
  ],
  service: [
    {
      name: "OrderService",
      method: [{ name: "Place", inputType: ".acme.v1.Order", outputType: ".google.protobuf.Timestamp" }],
    },
  ],
});

const acme: DescFile = (() => {
  const registry = createFileRegistry(acmeProto, (name) =>
    [file_greet_v1_greet, file_google_protobuf_timestamp].find((f) => f.proto.name === name),
  );
  const file = registry.getFile(acmeProto.name);
  if (file === undefined) {
    throw new Error("acme.proto did not build");
  }
  return file;
})();

const files = indexReflectionFiles([acme, file_probe_v1_probe]);

type RequestInit = MessageInitShape<typeof ServerReflectionRequestSchema>;

function ask(init: RequestInit, sent = new Set<string>()): ServerReflectionResponse {
  return answerReflection(files, create(ServerReflectionRequestSchema, init), sent);
}

/** The names of the files a file_descriptor_response carries, in order. */
function fileNames(response: ServerReflectionResponse): string[] {
  if (response.messageResponse.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${response.messageResponse.case}: ${JSON.stringify(response.messageResponse.value)}`);
  }
  return response.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

function errorOf(response: ServerReflectionResponse): { code: number; message: string } {
  if (response.messageResponse.case !== "errorResponse") {
    throw new Error(`expected an error, got ${response.messageResponse.case}`);
  }
  return { code: response.messageResponse.value.errorCode, message: response.messageResponse.value.errorMessage };
}

describe("answerReflection", () => {
  it("lists every service, imported files' included", () => {
    const response = ask({ messageRequest: { case: "listServices", value: "*" } });
    expect(response.messageResponse.case).toBe("listServicesResponse");
    const names =
      response.messageResponse.case === "listServicesResponse"
        ? response.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names.sort()).toEqual(["acme.v1.OrderService", "greet.v1.GreetService", "probe.v1.ProbeService"]);
  });

  it("echoes the request and its host", () => {
    const request = create(ServerReflectionRequestSchema, {
      host: "pods.example:443",
      messageRequest: { case: "fileContainingSymbol", value: "greet.v1.GreetService" },
    });
    const response = answerReflection(files, request, new Set());
    expect(response.validHost).toBe("pods.example:443");
    expect(response.originalRequest).toEqual(request);
  });

  it.each([
    ["a service", "acme.v1.OrderService"],
    ["a method", "acme.v1.OrderService.Place"],
    ["a message", "acme.v1.Order"],
    ["a nested message", "acme.v1.Order.Line"],
    ["a field", "acme.v1.Order.id"],
    ["a nested field", "acme.v1.Order.Line.sku"],
    ["a nested enum", "acme.v1.Order.State"],
    ["a nested enum's value, scoped as protobuf scopes it", "acme.v1.Order.STATE_SHIPPED"],
    ["a top-level enum", "acme.v1.Priority"],
    ["a top-level enum's value", "acme.v1.PRIORITY_HIGH"],
    ["an enum value under its enum's name", "acme.v1.Priority.PRIORITY_HIGH"],
    ["an extension", "acme.v1.note"],
    ["a name with a leading dot", ".acme.v1.Order"],
  ])("finds the file of %s, with every import on the first answer", (_, symbol) => {
    const response = ask({ messageRequest: { case: "fileContainingSymbol", value: symbol } });
    expect(fileNames(response)).toEqual([
      "acme/v1/acme.proto",
      "greet/v1/greet.proto",
      "google/protobuf/timestamp.proto",
    ]);
  });

  it("sends an import once per stream, but always the file asked for", () => {
    const sent = new Set<string>();
    expect(fileNames(ask({ messageRequest: { case: "fileContainingSymbol", value: "acme.v1.Order" } }, sent))).toHaveLength(3);
    expect(fileNames(ask({ messageRequest: { case: "fileContainingSymbol", value: "acme.v1.Priority" } }, sent))).toEqual([
      "acme/v1/acme.proto",
    ]);
    expect(fileNames(ask({ messageRequest: { case: "fileByFilename", value: "greet/v1/greet.proto" } }, sent))).toEqual([
      "greet/v1/greet.proto",
    ]);
    // A new stream starts over.
    expect(fileNames(ask({ messageRequest: { case: "fileContainingSymbol", value: "acme.v1.Order" } }))).toHaveLength(3);
  });

  it("finds files by name, well-known types imported by a served file included", () => {
    expect(fileNames(ask({ messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } }))).toEqual([
      "google/protobuf/timestamp.proto",
    ]);
    expect(fileNames(ask({ messageRequest: { case: "fileByFilename", value: "probe/v1/probe.proto" } }))).toEqual([
      "probe/v1/probe.proto",
      "google/protobuf/timestamp.proto",
    ]);
    expect(fileNames(ask({ messageRequest: { case: "fileContainingSymbol", value: "google.protobuf.Timestamp" } }))).toEqual([
      "google/protobuf/timestamp.proto",
    ]);
  });

  it("sends descriptors that describe the file faithfully", () => {
    const response = ask({ messageRequest: { case: "fileByFilename", value: "acme/v1/acme.proto" } });
    if (response.messageResponse.case !== "fileDescriptorResponse") {
      throw new Error("expected files");
    }
    const [bytes] = response.messageResponse.value.fileDescriptorProto;
    expect(fromBinary(FileDescriptorProtoSchema, bytes ?? new Uint8Array())).toEqual(acmeProto);
  });

  it("finds extensions by the type they extend and their number", () => {
    expect(
      fileNames(
        ask({
          messageRequest: { case: "fileContainingExtension", value: { containingType: "acme.v1.Order", extensionNumber: 150 } },
        }),
      )[0],
    ).toBe("acme/v1/acme.proto");
    const numbers = ask({ messageRequest: { case: "allExtensionNumbersOfType", value: "acme.v1.Order" } });
    expect(numbers.messageResponse).toEqual({
      case: "allExtensionNumbersResponse",
      value: expect.objectContaining({ baseTypeName: "acme.v1.Order", extensionNumber: [100, 150] }),
    });
    const none = ask({ messageRequest: { case: "allExtensionNumbersOfType", value: "greet.v1.GreetRequest" } });
    expect(none.messageResponse).toEqual({
      case: "allExtensionNumbersResponse",
      value: expect.objectContaining({ baseTypeName: "greet.v1.GreetRequest", extensionNumber: [] }),
    });
  });

  it.each<[string, RequestInit, string]>([
    ["symbol", { messageRequest: { case: "fileContainingSymbol", value: "acme.v1.Nope" } }, "symbol not found: acme.v1.Nope"],
    ["file", { messageRequest: { case: "fileByFilename", value: "acme/v2/acme.proto" } }, "file not found: acme/v2/acme.proto"],
    [
      "extension number",
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "acme.v1.Order", extensionNumber: 101 } } },
      "extension not found: number 101 of acme.v1.Order",
    ],
    [
      "extended type",
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "acme.v1.Nope", extensionNumber: 100 } } },
      "extension not found: number 100 of acme.v1.Nope",
    ],
    ["type", { messageRequest: { case: "allExtensionNumbersOfType", value: "acme.v1.Nope" } }, "message type not found: acme.v1.Nope"],
    ["type that is no message", { messageRequest: { case: "allExtensionNumbersOfType", value: "acme.v1.Priority" } }, "message type not found: acme.v1.Priority"],
  ])("answers an unknown %s with NOT_FOUND", (_, init, message) => {
    const response = ask(init);
    expect(errorOf(response)).toEqual({ code: 5, message });
    expect(response.originalRequest?.messageRequest).toEqual(create(ServerReflectionRequestSchema, init).messageRequest);
  });

  it("answers an empty request with INVALID_ARGUMENT", () => {
    expect(errorOf(ask({})).code).toBe(3);
  });
});

describe("answerReflectionV1alpha", () => {
  it("answers v1alpha requests in v1alpha messages, with the same content", () => {
    const sent = new Set<string>();
    const request = create(v1alpha.ServerReflectionRequestSchema, {
      host: "h",
      messageRequest: { case: "fileContainingSymbol", value: "acme.v1.OrderService.Place" },
    });
    const response = answerReflectionV1alpha(files, request, sent);
    expect(response.$typeName).toBe("grpc.reflection.v1alpha.ServerReflectionResponse");
    expect(response.originalRequest).toEqual(request);
    expect(response.validHost).toBe("h");
    expect(response.messageResponse.case).toBe("fileDescriptorResponse");
    expect(sent).toEqual(new Set(["acme/v1/acme.proto", "greet/v1/greet.proto", "google/protobuf/timestamp.proto"]));
    const missing = answerReflectionV1alpha(
      files,
      create(v1alpha.ServerReflectionRequestSchema, { messageRequest: { case: "fileByFilename", value: "x.proto" } }),
      sent,
    );
    expect(missing.messageResponse).toEqual({
      case: "errorResponse",
      value: expect.objectContaining({ errorCode: 5, errorMessage: "file not found: x.proto" }),
    });
  });
});

describe("answerReflectionStream", () => {
  it("answers each request in order, sending imports once on the stream", async () => {
    async function* requests(): AsyncIterable<ServerReflectionRequest> {
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "fileContainingSymbol", value: "acme.v1.Order" } });
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "fileByFilename", value: "acme/v1/acme.proto" } });
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
    }
    const answers: ServerReflectionResponse[] = [];
    for await (const answer of answerReflectionStream(() => files, requests())) {
      answers.push(answer);
    }
    expect(answers.map((a) => a.messageResponse.case)).toEqual([
      "fileDescriptorResponse",
      "fileDescriptorResponse",
      "listServicesResponse",
    ]);
    expect(fileNames(answers[1] as ServerReflectionResponse)).toEqual(["acme/v1/acme.proto"]);
  });
});
