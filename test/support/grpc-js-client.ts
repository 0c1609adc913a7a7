import * as grpc from "@grpc/grpc-js";
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";

/**
 * @grpc/grpc-js as a native gRPC client of the gateway, without
 * proto-loader: the service definition is built from the generated
 * protobuf-es descriptors, and messages are (de)serialized with
 * toBinary/fromBinary.
 */

/** A method descriptor with its message types, e.g. `ProbeService.method.probe`. */
export type TypedMethod<I extends DescMessage, O extends DescMessage> = DescMethod & { input: I; output: O };

/** A client made by `grpc.makeGenericClientConstructor`; methods are keyed by `localName`. */
export type GenericGrpcClient = grpc.Client & Record<string, (...args: never[]) => unknown>;

/** The grpc-js service definition of a protobuf-es service descriptor. */
export function grpcJsServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const encode = (schema: DescMessage) => (value: unknown) =>
      Buffer.from(toBinary(schema, create(schema, value as MessageInitShape<DescMessage>)));
    const decode = (schema: DescMessage) => (bytes: Buffer) => fromBinary(schema, bytes);
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: encode(method.input),
      requestDeserialize: decode(method.input),
      responseSerialize: encode(method.output),
      responseDeserialize: decode(method.output),
    };
  }
  return definition;
}

/** One channel (one HTTP/2 connection) to `address` (`127.0.0.1:PORT`), cleartext unless credentials say TLS. */
export function createGrpcJsClient(
  service: DescService,
  address: string,
  options: grpc.ChannelOptions = {},
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): GenericGrpcClient {
  const Client = grpc.makeGenericClientConstructor(grpcJsServiceDefinition(service), service.typeName);
  return new Client(address, credentials, options) as unknown as GenericGrpcClient;
}

/** The address `host:port` of a `http://host:port` base URL. */
export function grpcAddress(baseUrl: string): string {
  return new URL(baseUrl).host;
}

function method(client: GenericGrpcClient, m: DescMethod): (...args: unknown[]) => unknown {
  const fn = client[m.localName];
  if (fn === undefined) {
    throw new Error(`client has no method ${m.localName}`);
  }
  return (fn as (...args: unknown[]) => unknown).bind(client);
}

/** How a call ended, as grpc-js reports it. Never rejects: a failure is in `error`. */
export interface GrpcJsOutcome<O> {
  readonly response: O | undefined;
  readonly error: grpc.ServiceError | undefined;
  /** Response headers (the 'metadata' event); empty when none arrived. */
  readonly header: grpc.Metadata;
  /** The final status, including trailers in `status.metadata`. */
  readonly status: grpc.StatusObject;
}

function outcome<O>(
  call: grpc.ClientUnaryCall | grpc.ClientWritableStream<unknown>,
  result: Promise<{ response: O | undefined; error: grpc.ServiceError | undefined }>,
): Promise<GrpcJsOutcome<O>> {
  let header = new grpc.Metadata();
  call.on("metadata", (m: grpc.Metadata) => {
    header = m;
  });
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  return Promise.all([result, status]).then(([r, s]) => ({ ...r, header, status: s }));
}

function callback<O>(): {
  cb: (error: grpc.ServiceError | null, response?: O) => void;
  result: Promise<{ response: O | undefined; error: grpc.ServiceError | undefined }>;
} {
  let cb!: (error: grpc.ServiceError | null, response?: O) => void;
  const result = new Promise<{ response: O | undefined; error: grpc.ServiceError | undefined }>((resolve) => {
    cb = (error, response) => resolve({ response: error === null ? response : undefined, error: error ?? undefined });
  });
  return { cb, result };
}

export function grpcJsUnary<I extends DescMessage, O extends DescMessage>(
  client: GenericGrpcClient,
  m: TypedMethod<I, O>,
  request: MessageInitShape<I>,
  metadata: grpc.Metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<GrpcJsOutcome<MessageShape<O>>> {
  const { cb, result } = callback<MessageShape<O>>();
  const call = method(client, m)(request, metadata, options, cb) as grpc.ClientUnaryCall;
  return outcome(call, result);
}

export function grpcJsClientStream<I extends DescMessage, O extends DescMessage>(
  client: GenericGrpcClient,
  m: TypedMethod<I, O>,
  metadata: grpc.Metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): { call: grpc.ClientWritableStream<MessageInitShape<I>>; outcome: Promise<GrpcJsOutcome<MessageShape<O>>> } {
  const { cb, result } = callback<MessageShape<O>>();
  const call = method(client, m)(metadata, options, cb) as grpc.ClientWritableStream<MessageInitShape<I>>;
  return { call, outcome: outcome(call, result) };
}

export function grpcJsServerStream<I extends DescMessage, O extends DescMessage>(
  client: GenericGrpcClient,
  m: TypedMethod<I, O>,
  request: MessageInitShape<I>,
  metadata: grpc.Metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): grpc.ClientReadableStream<MessageShape<O>> {
  return method(client, m)(request, metadata, options) as grpc.ClientReadableStream<MessageShape<O>>;
}

export function grpcJsBidi<I extends DescMessage, O extends DescMessage>(
  client: GenericGrpcClient,
  m: TypedMethod<I, O>,
  metadata: grpc.Metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): grpc.ClientDuplexStream<MessageInitShape<I>, MessageShape<O>> {
  return method(client, m)(metadata, options) as grpc.ClientDuplexStream<MessageInitShape<I>, MessageShape<O>>;
}

/** Reads a response stream to its end; resolves with the messages and the final status (never rejects). */
export async function readGrpcJsStream<O>(
  call: grpc.ClientReadableStream<O> | grpc.ClientDuplexStream<unknown, O>,
): Promise<{ messages: O[]; status: grpc.StatusObject; error: grpc.ServiceError | undefined }> {
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  const messages: O[] = [];
  let error: grpc.ServiceError | undefined;
  try {
    for await (const message of call) {
      messages.push(message as O);
    }
  } catch (e) {
    error = e as grpc.ServiceError;
  }
  return { messages, status: await status, error };
}
