import { isFieldSet } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";

/**
 * Gives every field of a file that has no `json_name` the one protoc would
 * have written, in place. `json_name` is optional in descriptor.proto, and
 * not every producer fills it: `@grpc/reflection` (grpc-js pods) serves
 * descriptors without it, and protobuf-es then takes the absent name as the
 * empty string, so Connect JSON through the gateway came out as
 * `{"":"hi"}` (issue 14). protoc always sets it, so a descriptor set from
 * `buf build` or `protoc --descriptor_set_out` is unchanged. A `json_name`
 * that is set, even to something unusual, is kept: it is the schema's word.
 * Extensions are left alone (their JSON name is `[full.name]`).
 */
export function fillJsonNames(file: FileDescriptorProto): void {
  for (const message of file.messageType) {
    fillMessage(message);
  }
}

function fillMessage(message: DescriptorProto): void {
  for (const field of message.field) {
    if (!isFieldSet(field, FieldDescriptorProtoSchema.field.jsonName)) {
      field.jsonName = protocJsonName(field.name);
    }
  }
  for (const nested of message.nestedType) {
    fillMessage(nested);
  }
}

/**
 * The JSON name protoc derives from a field name (`ToJsonName` in protoc's
 * descriptor.cc): each underscore is dropped and the character after it
 * upper-cased; everything else is kept as it is (`foo_bar_baz` → `fooBarBaz`,
 * `_foo` → `Foo`, `foo__bar` → `fooBar`, `foo_1` → `foo1`).
 */
export function protocJsonName(fieldName: string): string {
  let out = "";
  let upperNext = false;
  for (const c of fieldName) {
    if (c === "_") {
      upperNext = true;
    } else if (upperNext) {
      out += c.toUpperCase();
      upperNext = false;
    } else {
      out += c;
    }
  }
  return out;
}
