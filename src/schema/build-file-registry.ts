import { create, createFileRegistry, type DescFile, type FileRegistry } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorSetSchema,
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_compiler_plugin,
  file_google_protobuf_cpp_features,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_go_features,
  file_google_protobuf_java_features,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { fillJsonNames } from "./fill-json-names.ts";
import { repairDescriptors } from "./repair-descriptors.ts";

/** The well-known types protobuf-es ships, by file name: imports a schema may leave out. */
export const wellKnownFiles: ReadonlyMap<string, DescFile> = new Map(
  [
    file_google_protobuf_any,
    file_google_protobuf_api,
    file_google_protobuf_compiler_plugin,
    file_google_protobuf_cpp_features,
    file_google_protobuf_descriptor,
    file_google_protobuf_duration,
    file_google_protobuf_empty,
    file_google_protobuf_field_mask,
    file_google_protobuf_go_features,
    file_google_protobuf_java_features,
    file_google_protobuf_source_context,
    file_google_protobuf_struct,
    file_google_protobuf_timestamp,
    file_google_protobuf_type,
    file_google_protobuf_wrappers,
  ].map((file) => [file.proto.name, file]),
);

/** A file left out of a registry because an import of it (directly or through another file) is nowhere to be found. */
export interface DroppedFile {
  readonly file: string;
  readonly missing: string;
}

export interface BuiltRegistry {
  readonly registry: FileRegistry;
  /** Every file of the registry, imports (well-known types included) before the files importing them. */
  readonly files: readonly DescFile[];
  readonly dropped: readonly DroppedFile[];
}

/**
 * One registry from FileDescriptorProtos gathered from anywhere (reflection,
 * descriptor sets), unique by file name. Imports missing from the input are
 * taken from the well-known types; a file importing something found nowhere
 * is dropped (with those importing it) and reported, so one broken file does
 * not cost the rest. Files are ordered imports first, as a registry needs.
 * Descriptors a server made up at run time are made consistent first
 * (`repairDescriptors`: relative type names, missing dependencies, made-up
 * well-known files), and fields without `json_name` get protoc's
 * (`fillJsonNames`); both in place.
 * @throws Error when the descriptors are inconsistent (a type referring to
 *   nothing, a duplicate name): protobuf-es's message says what.
 */
export function buildFileRegistry(protos: Iterable<FileDescriptorProto>): BuiltRegistry {
  const byName = new Map<string, FileDescriptorProto>();
  for (const proto of repairDescriptors([...protos], wellKnownFiles)) {
    fillJsonNames(proto);
    byName.set(proto.name, proto);
  }
  const ordered: FileDescriptorProto[] = [];
  const dropped: DroppedFile[] = [];
  // name -> the missing import that sank it, or undefined when it made it in
  const done = new Map<string, string | undefined>();
  const visiting = new Set<string>();
  const visit = (name: string): string | undefined => {
    if (done.has(name)) {
      return done.get(name);
    }
    const proto = byName.get(name) ?? wellKnownFiles.get(name)?.proto;
    if (proto === undefined) {
      return name;
    }
    if (visiting.has(name)) {
      // An import cycle: protoc rejects them, so no valid schema has one.
      return name;
    }
    visiting.add(name);
    let missing: string | undefined;
    for (const dep of proto.dependency) {
      missing ??= visit(dep);
    }
    visiting.delete(name);
    done.set(name, missing);
    if (missing === undefined) {
      ordered.push(proto);
    } else if (byName.has(name)) {
      dropped.push({ file: name, missing });
    }
    return missing;
  };
  for (const name of byName.keys()) {
    visit(name);
  }
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
  return { registry, files: [...registry.files], dropped };
}
