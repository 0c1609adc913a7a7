import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * probe.v1 as a grpc-js user has it: proto/probe/v1/probe.proto loaded at
 * run time by @grpc/proto-loader, no code generated, messages as plain
 * objects. Shared by the grpc-js pod (probe-pod.ts) and the grpc-js client
 * of the interop matrix (test/interop/clients/grpc-js-client.ts), issue 14:
 * the matrix puts stacks we did not write on both sides of the gateway, so
 * this file uses only what such a user uses (@grpc/grpc-js, proto-loader)
 * and nothing of edgegate's.
 */

/** The repository's proto/ folder. */
export const protoRoot = path.resolve(import.meta.dirname, "../../../../proto");

/**
 * The options grpc-js users (and grpc-health-check itself) pass: field names
 * as in the .proto (`fail_code`), int64 and uint64 as decimal strings, enums
 * by name, every field present with its default, and a `oneof` name for
 * oneofs.
 */
export const protoLoaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoRoot],
};

/** probe.proto and what it imports (google/protobuf/timestamp.proto, which protobufjs bundles). */
export function loadProbePackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync("probe/v1/probe.proto", protoLoaderOptions);
}

/** google.protobuf.Timestamp as proto-loader gives it with `longs: String`. */
export interface Timestamp {
  seconds: string;
  nanos: number;
}

/** probe.v1.ProbeRequest as a server receives it (`defaults: true`: every field is there). */
export interface ProbeRequest {
  fail_code: number;
  fail_message: string;
  fail_detail: string;
  sleep_ms: number;
  response_headers: Record<string, string>;
  response_trailers: Record<string, string>;
  payload: Buffer;
  payload_size: number;
  count: number;
  interval_ms: number;
  tag: string;
  at: Timestamp | null;
  big: string;
  color: string;
  response_compression: string;
}

/** What a client may send: any subset of the fields. */
export type ProbeRequestInit = Partial<ProbeRequest>;

/** probe.v1.ProbeResponse as a client receives it. */
export interface ProbeResponse {
  pod: string;
  request_headers: Record<string, string>;
  payload: Buffer;
  count: number;
  index: number;
  at: Timestamp | null;
  big: string;
  color: string;
  received_bytes: string;
}

/** What a server may answer (uint64 as a number or a decimal string). */
export type ProbeResponseInit = Partial<Omit<ProbeResponse, "received_bytes">> & { received_bytes?: string | number };

/** The client class proto-loader + grpc-js make for probe.v1.ProbeService, typed as this suite calls it. */
export interface ProbeServiceClient extends grpc.Client {
  Probe(
    request: ProbeRequestInit,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<ProbeResponse>,
  ): grpc.ClientUnaryCall;
  ProbeStream(
    request: ProbeRequestInit,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
  ): grpc.ClientReadableStream<ProbeResponse>;
  ProbeClientStream(
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<ProbeResponse>,
  ): grpc.ClientWritableStream<ProbeRequestInit>;
  ProbeBidi(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<ProbeRequestInit, ProbeResponse>;
}

/** `probe.v1.ProbeService` of a loaded package, as `grpc.loadPackageDefinition` exposes it. */
export function probeServiceConstructor(pkg: protoLoader.PackageDefinition): grpc.ServiceClientConstructor {
  const loaded = grpc.loadPackageDefinition(pkg);
  const probe = loaded["probe"] as grpc.GrpcObject;
  const v1 = probe["v1"] as grpc.GrpcObject;
  return v1["ProbeService"] as grpc.ServiceClientConstructor;
}

/** The request headers the gRPC interop tests' servers echo (custom_metadata). */
export const echoInitial = "x-grpc-test-echo-initial";
export const echoTrailing = "x-grpc-test-echo-trailing-bin";

/** The metadata key gRPC carries a serialized google.rpc.Status in (the "richer error model"). */
export const statusDetailsKey = "grpc-status-details-bin";

export const probeDetailTypeUrl = "type.googleapis.com/probe.v1.ProbeDetail";

/** probe.v1.ProbeDetail. */
export interface ProbeDetail {
  text: string;
  pod: string;
}

/** A google.rpc.Status with its `details` (google.protobuf.Any) still packed. */
export interface RpcStatus {
  code: number;
  message: string;
  details: { typeUrl: string; value: Uint8Array }[];
}

/**
 * grpc-js has no helper for google.rpc.Status details (grpc-go has
 * status.WithDetails, connect-es ConnectError details): a grpc-js user
 * serializes the Status themselves and puts it in `grpc-status-details-bin`.
 * google.rpc.Status is {int32 code = 1; string message = 2; repeated
 * google.protobuf.Any details = 3}, Any {string type_url = 1; bytes value = 2},
 * ProbeDetail {string text = 1; string pod = 2}.
 */
export function encodeRpcStatus(code: number, message: string, detail: ProbeDetail): Buffer {
  const value = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string(detail.text)
    .tag(2, WireType.LengthDelimited)
    .string(detail.pod)
    .finish();
  const any = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string(probeDetailTypeUrl)
    .tag(2, WireType.LengthDelimited)
    .bytes(value)
    .finish();
  const status = new BinaryWriter()
    .tag(1, WireType.Varint)
    .int32(code)
    .tag(2, WireType.LengthDelimited)
    .string(message)
    .tag(3, WireType.LengthDelimited)
    .bytes(any)
    .finish();
  return Buffer.from(status);
}

/** The reverse of {@link encodeRpcStatus}, for any Status (unknown fields skipped). */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const status: RpcStatus = { code: 0, message: "", details: [] };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) {
      status.code = reader.int32();
    } else if (field === 2 && wireType === WireType.LengthDelimited) {
      status.message = reader.string();
    } else if (field === 3 && wireType === WireType.LengthDelimited) {
      const any = new BinaryReader(reader.bytes());
      let typeUrl = "";
      let value: Uint8Array = new Uint8Array();
      while (any.pos < any.len) {
        const [f, w] = any.tag();
        if (f === 1 && w === WireType.LengthDelimited) {
          typeUrl = any.string();
        } else if (f === 2 && w === WireType.LengthDelimited) {
          value = any.bytes();
        } else {
          any.skip(w);
        }
      }
      status.details.push({ typeUrl, value });
    } else {
      reader.skip(wireType);
    }
  }
  return status;
}

export function decodeProbeDetail(bytes: Uint8Array): ProbeDetail {
  const detail: ProbeDetail = { text: "", pod: "" };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) {
      detail.text = reader.string();
    } else if (field === 2 && wireType === WireType.LengthDelimited) {
      detail.pod = reader.string();
    } else {
      reader.skip(wireType);
    }
  }
  return detail;
}
