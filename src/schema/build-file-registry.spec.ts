import { create } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { file_greet_v1_greet } from "../gen/greet/v1/greet_pb.ts";
import { buildFileRegistry } from "./build-file-registry.ts";

const file = (name: string, dependency: string[] = [], field?: { typeName: string }) =>
  create(FileDescriptorProtoSchema, {
    name,
    package: name.replace(/\.proto$/, "").replaceAll("/", "."),
    syntax: "proto3",
    dependency,
    messageType: [
      {
        name: "M",
        field:
          field === undefined
            ? []
            : [
                {
                  name: "f",
                  number: 1,
                  label: FieldDescriptorProto_Label.OPTIONAL,
                  type: FieldDescriptorProto_Type.MESSAGE,
                  typeName: field.typeName,
                  jsonName: "f",
                },
              ],
      },
    ],
  });

describe("buildFileRegistry", () => {
  it("orders imports first, whatever the input order", () => {
    const built = buildFileRegistry([
      file("c.proto", ["b.proto"], { typeName: ".b.M" }),
      file("b.proto", ["a.proto"], { typeName: ".a.M" }),
      file("a.proto"),
    ]);
    expect(built.files.map((f) => f.proto.name)).toEqual(["a.proto", "b.proto", "c.proto"]);
    expect(built.registry.getMessage("c.M")?.fields[0]?.message?.typeName).toBe("b.M");
    expect(built.dropped).toEqual([]);
  });

  it("fills in the well-known types a file imports", () => {
    const built = buildFileRegistry([
      file("t.proto", ["google/protobuf/timestamp.proto"], { typeName: ".google.protobuf.Timestamp" }),
    ]);
    expect(built.files.map((f) => f.proto.name)).toEqual(["google/protobuf/timestamp.proto", "t.proto"]);
    expect(built.registry.getMessage("google.protobuf.Timestamp")).toBeDefined();
  });

  it("drops a file whose import is nowhere, with the files importing it, and keeps the rest", () => {
    const built = buildFileRegistry([
      file("lost.proto", ["nowhere.proto"]),
      file("user.proto", ["lost.proto"]),
      file_greet_v1_greet.proto,
    ]);
    expect(built.files.map((f) => f.proto.name)).toEqual(["greet/v1/greet.proto"]);
    expect(built.dropped).toEqual([
      { file: "lost.proto", missing: "nowhere.proto" },
      { file: "user.proto", missing: "nowhere.proto" },
    ]);
  });

  it("throws when a type refers to nothing", () => {
    expect(() => buildFileRegistry([file("x.proto", [], { typeName: ".y.Missing" })])).toThrow(/y\.Missing/);
  });
});
