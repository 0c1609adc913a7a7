import { create, createFileRegistry, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { fillJsonNames, protocJsonName } from "./fill-json-names.ts";

describe("protocJsonName()", () => {
  it("drops underscores and upper-cases what follows them, as protoc's ToJsonName", () => {
    expect(protocJsonName("payload")).toBe("payload");
    expect(protocJsonName("fail_code")).toBe("failCode");
    expect(protocJsonName("response_headers_bin")).toBe("responseHeadersBin");
    expect(protocJsonName("_leading")).toBe("Leading");
    expect(protocJsonName("double__under")).toBe("doubleUnder");
    expect(protocJsonName("trailing_")).toBe("trailing");
    expect(protocJsonName("field_1")).toBe("field1");
    expect(protocJsonName("alreadyCamel")).toBe("alreadyCamel");
  });
});

describe("fillJsonNames()", () => {
  // A file as @grpc/reflection serves it: no json_name anywhere (issue 14).
  function fileWithoutJsonNames() {
    const string = { label: FieldDescriptorProto_Label.OPTIONAL, type: FieldDescriptorProto_Type.STRING };
    return fromBinary(
      FileDescriptorProtoSchema,
      toBinary(
        FileDescriptorProtoSchema,
        create(FileDescriptorProtoSchema, {
          name: "acme/v1/echo.proto",
          package: "acme.v1",
          syntax: "proto3",
          messageType: [
            {
              name: "Echo",
              field: [
                { name: "payload", number: 1, ...string },
                { name: "fail_message", number: 2, ...string },
                { name: "custom", number: 3, ...string, jsonName: "theCustomOne" },
              ],
              nestedType: [{ name: "Inner", field: [{ name: "inner_value", number: 1, ...string }] }],
            },
          ],
        }),
      ),
    );
  }

  it("fills absent json_name with protoc's name, nested messages included, and keeps one that is set", () => {
    const file = fileWithoutJsonNames();
    expect(file.messageType[0]?.field.map((f) => f.jsonName)).toEqual(["", "", "theCustomOne"]);
    fillJsonNames(file);
    expect(file.messageType[0]?.field.map((f) => f.jsonName)).toEqual(["payload", "failMessage", "theCustomOne"]);
    expect(file.messageType[0]?.nestedType[0]?.field[0]?.jsonName).toBe("innerValue");
  });

  it("makes JSON come out with the field names, where it came out as {\"\":…} without", () => {
    const before = createFileRegistry(create(FileDescriptorSetSchema, { file: [fileWithoutJsonNames()] }));
    const schemaBefore = before.getMessage("acme.v1.Echo");
    if (schemaBefore === undefined) throw new Error("no acme.v1.Echo");
    expect(toJsonString(schemaBefore, create(schemaBefore, { payload: "hi" }))).toBe('{"":"hi"}');

    const file = fileWithoutJsonNames();
    fillJsonNames(file);
    const after = createFileRegistry(create(FileDescriptorSetSchema, { file: [file] }));
    const schema = after.getMessage("acme.v1.Echo");
    if (schema === undefined) throw new Error("no acme.v1.Echo");
    expect(toJsonString(schema, create(schema, { payload: "hi", failMessage: "no" }))).toBe('{"payload":"hi","failMessage":"no"}');
  });
});
