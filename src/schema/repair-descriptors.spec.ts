import { create, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { buildFileRegistry, wellKnownFiles } from "./build-file-registry.ts";
import { repairDescriptors } from "./repair-descriptors.ts";

const { OPTIONAL, REPEATED } = FieldDescriptorProto_Label;
const { STRING, MESSAGE, ENUM, INT64, INT32 } = FieldDescriptorProto_Type;

/** Round-trips through the wire, so field presence is what a reflection answer gives. */
function wire(init: Parameters<typeof create<typeof FileDescriptorProtoSchema>>[1]): FileDescriptorProto {
  return fromBinary(FileDescriptorProtoSchema, toBinary(FileDescriptorProtoSchema, create(FileDescriptorProtoSchema, init)));
}

/** The two files @grpc/reflection serves for a proto importing timestamp.proto (as seen from a grpc-js pod, issue 14). */
function grpcJsReflection(): FileDescriptorProto[] {
  return [
    wire({
      name: "probe_v1.proto",
      package: "probe.v1",
      syntax: "proto3",
      messageType: [
        {
          name: "ProbeRequest",
          field: [
            { name: "fail_message", number: 2, label: OPTIONAL, type: STRING },
            { name: "response_headers", number: 5, label: REPEATED, type: MESSAGE, typeName: "Response_headers" },
            { name: "at", number: 12, label: OPTIONAL, type: MESSAGE, typeName: "google.protobuf.Timestamp" },
            { name: "color", number: 14, label: OPTIONAL, type: ENUM, typeName: "Color" },
          ],
          nestedType: [
            {
              name: "Response_headers",
              options: { mapEntry: true },
              field: [
                { name: "key", number: 1, label: OPTIONAL, type: STRING },
                { name: "value", number: 2, label: OPTIONAL, type: STRING },
              ],
            },
          ],
        },
      ],
      enumType: [{ name: "Color", value: [{ name: "COLOR_UNSPECIFIED", number: 0 }, { name: "COLOR_RED", number: 1 }] }],
      service: [{ name: "ProbeService", method: [{ name: "Probe", inputType: ".probe.v1.ProbeRequest", outputType: ".probe.v1.ProbeRequest" }] }],
    }),
    wire({
      name: "google_protobuf.proto",
      package: "google.protobuf",
      syntax: "proto3",
      messageType: [
        {
          name: "Timestamp",
          field: [
            { name: "seconds", number: 1, label: OPTIONAL, type: INT64 },
            { name: "nanos", number: 2, label: OPTIONAL, type: INT32 },
          ],
        },
      ],
    }),
  ];
}

describe("repairDescriptors()", () => {
  it("qualifies relative type names, names map entries as protoc does, adds the dependencies, and swaps a made-up well-known file for the canonical one", () => {
    const files = repairDescriptors(grpcJsReflection(), wellKnownFiles);
    expect(files.map((f) => f.name)).toEqual(["probe_v1.proto"]);
    const [probe] = files;
    expect(probe?.messageType[0]?.field.map((f) => f.typeName)).toEqual([
      "",
      ".probe.v1.ProbeRequest.ResponseHeadersEntry",
      ".google.protobuf.Timestamp",
      ".probe.v1.Color",
    ]);
    expect(probe?.dependency).toEqual(["google/protobuf/timestamp.proto"]);
    expect(probe?.messageType[0]?.nestedType.map((n) => n.name)).toEqual(["ResponseHeadersEntry"]);
  });

  it("makes a registry of them that writes protobuf JSON (map, enum by name, Timestamp as RFC 3339)", () => {
    const { registry, dropped } = buildFileRegistry(grpcJsReflection());
    expect(dropped).toEqual([]);
    const schema = registry.getMessage("probe.v1.ProbeRequest");
    if (schema === undefined) throw new Error("no probe.v1.ProbeRequest");
    const message = create(schema, {
      failMessage: "no",
      responseHeaders: { "x-a": "1" },
      at: { seconds: 1n, nanos: 0 },
      color: 1,
    } as never);
    expect(JSON.parse(toJsonString(schema, message))).toEqual({
      failMessage: "no",
      responseHeaders: { "x-a": "1" },
      at: "1970-01-01T00:00:01Z",
      color: "COLOR_RED",
    });
    expect(registry.getService("probe.v1.ProbeService")?.methods[0]?.input.typeName).toBe("probe.v1.ProbeRequest");
  });

  it("leaves canonical descriptors as protoc wrote them", () => {
    const canonical = create(FileDescriptorProtoSchema, file_google_protobuf_timestamp.proto);
    const before = toBinary(FileDescriptorProtoSchema, canonical);
    const [after] = repairDescriptors([canonical], wellKnownFiles);
    expect(after === undefined ? undefined : toBinary(FileDescriptorProtoSchema, after)).toEqual(before);
  });
});
