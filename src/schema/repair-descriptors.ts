import { clearField, type DescFile, isFieldSet } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { protocJsonName } from "./fill-json-names.ts";

/**
 * Makes descriptors that a gRPC server made up at run time consistent enough
 * for a registry, in place where it can, and returns the files to use.
 *
 * protoc writes canonical descriptors. `@grpc/reflection` (grpc-js pods)
 * serves what protobufjs rebuilds from a loaded package definition (issue
 * 14; grpc/grpc-node#2595, #2958, #3018): files named after their package
 * (`probe_v1.proto`, `google_protobuf.proto`) with an empty `dependency`
 * list, field type names relative to their scope (`Color`,
 * `google.protobuf.Timestamp`, no leading dot), and well-known types in a
 * file of their own. protobuf-es rejects that as inconsistent, and `buf curl
 * --reflect` cannot find the service. So:
 *
 * - a relative type name is resolved as protoc resolves names (innermost
 *   scope outwards) and written fully qualified (`.probe.v1.Color`);
 * - every file gets the files defining the types it uses as dependencies;
 * - a made-up file holding only well-known types is dropped for the
 *   canonical ones (`google/protobuf/timestamp.proto`), so the registry does
 *   not meet the same type twice when another file imports it properly;
 * - a `oneof_index` that points past the message's oneofs is cleared;
 * - a map entry message is named as protoc names it (`ResponseHeadersEntry`
 *   for a field `response_headers`; protobufjs says `Response_headers`),
 *   which Go's protodesc (`buf curl`) insists on. Type names of messages
 *   never reach the wire, so renaming one changes no bytes.
 *
 * Canonical input comes out unchanged.
 */
export function repairDescriptors(
  protos: readonly FileDescriptorProto[],
  wellKnown: ReadonlyMap<string, DescFile>,
): FileDescriptorProto[] {
  const wellKnownTypes = new Map<string, { file: string; kind: "message" | "enum" }>();
  for (const file of wellKnown.values()) {
    indexTypes(file.proto, wellKnownTypes);
  }
  const files = protos.filter((proto) => !madeUpWellKnownCopy(proto, wellKnown, wellKnownTypes));
  const types = new Map(wellKnownTypes);
  for (const proto of files) {
    indexTypes(proto, types);
  }
  for (const proto of files) {
    const used = new Set<string>();
    const resolve = (name: string, scope: string): string => {
      const found = resolveTypeName(name, scope, types);
      if (found !== undefined) {
        const definedIn = types.get(found.slice(1))?.file;
        if (definedIn !== undefined && definedIn !== proto.name) {
          used.add(definedIn);
        }
        return found;
      }
      return name;
    };
    const fixField = (field: FieldDescriptorProto, scope: string) => {
      if (field.typeName !== "") {
        field.typeName = resolve(field.typeName, scope);
        if (!isFieldSet(field, FieldDescriptorProtoSchema.field.type)) {
          const kind = types.get(field.typeName.slice(1))?.kind;
          if (kind !== undefined) {
            field.type = kind === "enum" ? FieldDescriptorProto_Type.ENUM : FieldDescriptorProto_Type.MESSAGE;
          }
        }
      }
      if (field.extendee !== "") {
        field.extendee = resolve(field.extendee, scope);
      }
    };
    const fixMessage = (message: DescriptorProto, scope: string) => {
      const name = scope === "" ? message.name : `${scope}.${message.name}`;
      for (const field of [...message.field, ...message.extension]) {
        fixField(field, name);
        if (
          isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) &&
          field.oneofIndex >= message.oneofDecl.length
        ) {
          clearField(field, FieldDescriptorProtoSchema.field.oneofIndex);
        }
      }
      for (const nested of message.nestedType) {
        fixMessage(nested, name);
      }
      nameMapEntries(message, name);
    };
    for (const message of proto.messageType) {
      fixMessage(message, proto.package);
    }
    for (const extension of proto.extension) {
      fixField(extension, proto.package);
    }
    for (const service of proto.service) {
      for (const method of service.method) {
        method.inputType = resolve(method.inputType, proto.package);
        method.outputType = resolve(method.outputType, proto.package);
      }
    }
    for (const dependency of used) {
      if (!proto.dependency.includes(dependency)) {
        proto.dependency.push(dependency);
      }
    }
  }
  return files;
}

/** Renames the map entries of a message (its fields already fully qualified) to protoc's names. */
function nameMapEntries(message: DescriptorProto, fullName: string): void {
  for (const field of message.field) {
    const entry = message.nestedType.find(
      (nested) => nested.options?.mapEntry === true && field.typeName === `.${fullName}.${nested.name}`,
    );
    const expected = mapEntryName(field.name);
    if (entry !== undefined && entry.name !== expected && !message.nestedType.some((n) => n.name === expected)) {
      entry.name = expected;
      field.typeName = `.${fullName}.${expected}`;
    }
  }
}

/** protoc's name for the map entry message of a field (`MapEntryName` in descriptor.cc): `foo_bar` → `FooBarEntry`. */
function mapEntryName(fieldName: string): string {
  const camel = protocJsonName(fieldName);
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}

/** Every message and enum of a file by full name (no leading dot), nested ones included. */
function indexTypes(proto: FileDescriptorProto, into: Map<string, { file: string; kind: "message" | "enum" }>): void {
  const prefix = proto.package === "" ? "" : `${proto.package}.`;
  const visit = (message: DescriptorProto, scope: string) => {
    const name = `${scope}${message.name}`;
    into.set(name, { file: proto.name, kind: "message" });
    for (const nested of message.nestedType) {
      visit(nested, `${name}.`);
    }
    for (const e of message.enumType) {
      into.set(`${name}.${e.name}`, { file: proto.name, kind: "enum" });
    }
  };
  for (const message of proto.messageType) {
    visit(message, prefix);
  }
  for (const e of proto.enumType) {
    into.set(`${prefix}${e.name}`, { file: proto.name, kind: "enum" });
  }
}

/**
 * A type name as protoc resolves it from `scope` (a package or message full
 * name): fully qualified names (`.a.B`) as they are; else the innermost
 * scope first, then each enclosing one, then the root. `undefined` when the
 * name is defined nowhere.
 */
function resolveTypeName(
  name: string,
  scope: string,
  types: ReadonlyMap<string, unknown>,
): string | undefined {
  if (name.startsWith(".")) {
    return types.has(name.slice(1)) ? name : undefined;
  }
  const parts = scope === "" ? [] : scope.split(".");
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), name].join(".");
    if (types.has(candidate)) {
      return `.${candidate}`;
    }
  }
  return undefined;
}

/** A file not named as protoc names a well-known file, whose every type is a well-known one. */
function madeUpWellKnownCopy(
  proto: FileDescriptorProto,
  wellKnown: ReadonlyMap<string, DescFile>,
  wellKnownTypes: ReadonlyMap<string, unknown>,
): boolean {
  if (wellKnown.has(proto.name) || proto.service.length > 0 || proto.extension.length > 0) {
    return false;
  }
  const own = new Map<string, { file: string; kind: "message" | "enum" }>();
  indexTypes(proto, own);
  return own.size > 0 && [...own.keys()].every((name) => wellKnownTypes.has(name));
}
