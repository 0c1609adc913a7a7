import {
  create,
  createFileRegistry,
  type DescFile,
  type DescMethod,
  type FileRegistry,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Lease } from "../balance/balancer.ts";
import type { Endpoint } from "../balance/endpoint.ts";
import type { SchemasConfig } from "../config/gateway-config.ts";
import {
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
  ServerReflection as ServerReflectionV1,
} from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import type { Logger } from "../log/logger.ts";
import type { UpstreamContext } from "../upstream/call-upstream.ts";
import { describeConnectFailure } from "../upstream/describe-connect-failure.ts";
import { type BackendSchema, SchemaUnavailableError } from "./backend-schema.ts";
import { buildFileRegistry } from "./build-file-registry.ts";
import { podTransport } from "../upstream/pod-transport.ts";
import { defaultSchedule, type Schedule } from "../time/schedule.ts";

export interface BackendSchemaOptions {
  /** The backend's name, for messages and logs. */
  readonly name: string;
  readonly config: SchemasConfig;
  /** How the backend's pods are reached (the reflection stream goes through its client). */
  readonly upstream: UpstreamContext;
  /** An endpoint to ask for reflection (the backend's balancer); its lease is released once the answer is in. */
  readonly pick: () => Lease | undefined;
  /** Reads a descriptor set file (Runtime.readBytes). */
  readonly readBytes: (path: string) => Promise<Uint8Array>;
  readonly now: () => number;
  readonly log: Logger;
  /** Runs `run` once after `ms`; returns the cancel function. Default: setTimeout, unref'd where the runtime can. */
  readonly schedule?: Schedule;
}

/** A miss (or a failed load) asks the sources again at most this often. */
export const SCHEMA_RETRY_MS = 2_000;
/** The longest one reflection exchange with a pod may take. */
export const REFLECTION_TIMEOUT_MS = 10_000;

/** How long a pod may take to end the reflection call once the gateway has asked everything. */
const CLOSE_GRACE_MS = 1_000;

/** How to give a backend a schema, for every message that says it has none. */
const HOW_TO_CONFIGURE =
  "set backends[].schemas.reflection: true for pods that serve grpc.reflection, " +
  "or backends[].schemas.descriptorSets: [x.binpb] with a file made by `buf build -o x.binpb`";

interface Loaded {
  readonly registry: FileRegistry;
  readonly files: readonly DescFile[];
  /** Identifies the content, so an unchanged refresh keeps the very same descriptors. */
  readonly fingerprint: string;
}

/**
 * The schema of one backend, from gRPC server reflection on its pods and/or
 * descriptor sets, loaded on first need and cached.
 *
 * - Sources: with `reflection`, one pod (picked like a call, its lease held
 *   for the exchange) is asked over native gRPC: `list_services`, the file of
 *   every service, then every import not yet known, v1 first and v1alpha when
 *   v1 is Unimplemented. Descriptor sets are read on the same occasions.
 *   Both together merge by file name, and **a descriptor set wins** over a
 *   reflected file of the same name: it is the operator's explicit word, the
 *   way to correct or complete what pods say. Imports found nowhere are taken
 *   from the well-known types protobuf-es ships.
 * - Refresh: every `refreshMs` in the background once the schema has been
 *   needed, and on a `method()` miss at most every {@link SCHEMA_RETRY_MS}
 *   (concurrent misses share one load). A failed refresh keeps the last
 *   schema; a refresh that finds the same content keeps the same descriptors.
 * - Failure: only SchemaUnavailableError, whose message says what is wrong
 *   (a descriptor set naming its file, pods without reflection) and how to
 *   configure a schema. Without a schema, loading is retried at most every
 *   {@link SCHEMA_RETRY_MS}; the last error is thrown in between.
 */
export function createBackendSchema(options: BackendSchemaOptions): BackendSchema {
  const { name, config, log, now } = options;
  const schedule = options.schedule ?? defaultSchedule;
  const unconfigured =
    !config.reflection && config.descriptorSets.length === 0
      ? new SchemaUnavailableError(
          `backend "${name}" has no schema: reflection is off and no descriptor set is configured; ${HOW_TO_CONFIGURE}`,
        )
      : undefined;
  let current: Loaded | undefined;
  let failure: SchemaUnavailableError | undefined;
  let loading: Promise<void> | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let cancelTimer: (() => void) | undefined;
  let closed = false;
  /** The last reason reflection could not be used while descriptor sets could, logged once per change. */
  let reflectionNote: string | undefined;

  const armRefresh = () => {
    if (closed || cancelTimer !== undefined) {
      return;
    }
    cancelTimer = schedule(() => {
      cancelTimer = undefined;
      if (closed) {
        return;
      }
      void reload().finally(armRefresh);
    }, config.refreshMs);
  };

  const reload = (): Promise<void> => {
    loading ??= (async () => {
      lastAttemptAt = now();
      try {
        await loadOnce();
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  async function loadOnce(): Promise<void> {
    try {
      const loaded = await gather();
      failure = undefined;
      if (current?.fingerprint === loaded.fingerprint) {
        log.debug("schema unchanged", { backend: name });
        return;
      }
      const first = current === undefined;
      current = loaded;
      log.info(first ? "schema loaded" : "schema reloaded", {
        backend: name,
        services: serviceNames(loaded.files),
        files: loaded.files.length,
      });
    } catch (e) {
      const error =
        e instanceof SchemaUnavailableError
          ? e
          : new SchemaUnavailableError(`backend "${name}" has no schema: ${messageOf(e)}`);
      if (current === undefined) {
        failure = error;
        log.warn("schema unavailable", { backend: name, error: error.message });
      } else {
        log.warn("schema refresh failed, keeping the last schema", { backend: name, error: error.message });
      }
    }
  }

  async function gather(): Promise<Loaded> {
    const fromSets = await readDescriptorSets();
    let reflected: FileDescriptorProto[] = [];
    if (config.reflection) {
      try {
        reflected = await reflect();
        reflectionNote = undefined;
      } catch (e) {
        if (config.descriptorSets.length === 0) {
          throw e;
        }
        const note = messageOf(e);
        if (note !== reflectionNote) {
          reflectionNote = note;
          log.info("schema from descriptor sets only: reflection unavailable", { backend: name, reason: note });
        }
      }
    }
    const byName = new Map<string, FileDescriptorProto>();
    for (const proto of [...reflected, ...fromSets]) {
      byName.set(proto.name, proto);
    }
    let built: ReturnType<typeof buildFileRegistry>;
    try {
      built = buildFileRegistry(byName.values());
    } catch (e) {
      throw new SchemaUnavailableError(`backend "${name}" has no schema: its descriptors are inconsistent: ${messageOf(e)}`);
    }
    for (const dropped of built.dropped) {
      log.warn("schema file left out: an import is missing", { backend: name, file: dropped.file, missing: dropped.missing });
    }
    return { registry: built.registry, files: built.files, fingerprint: fingerprint(built.files) };
  }

  async function readDescriptorSets(): Promise<FileDescriptorProto[]> {
    const protos: FileDescriptorProto[] = [];
    for (const path of config.descriptorSets) {
      const bad = (problem: string) =>
        new SchemaUnavailableError(`descriptor set "${path}" of backend "${name}" ${problem}`);
      let bytes: Uint8Array;
      try {
        bytes = await options.readBytes(path);
      } catch (e) {
        throw bad(`cannot be read: ${messageOf(e)}`);
      }
      let files: FileDescriptorProto[];
      try {
        files = fromBinary(FileDescriptorSetSchema, bytes).file;
      } catch (e) {
        throw bad(`is not a FileDescriptorSet (make one with \`buf build -o x.binpb\`): ${messageOf(e)}`);
      }
      if (files.length === 0) {
        throw bad("holds no files (make one with `buf build -o x.binpb`)");
      }
      let dropped: ReturnType<typeof buildFileRegistry>["dropped"];
      try {
        dropped = buildFileRegistry(files).dropped;
      } catch (e) {
        throw bad(`is invalid: ${messageOf(e)}`);
      }
      const [first] = dropped;
      if (first !== undefined) {
        throw bad(
          `lacks ${first.missing}, imported by ${first.file} (build it with its imports: \`buf build -o x.binpb\` without --exclude-imports)`,
        );
      }
      protos.push(...files);
    }
    return protos;
  }

  async function reflect(): Promise<FileDescriptorProto[]> {
    const lease = options.pick();
    if (lease === undefined) {
      throw new SchemaUnavailableError(`backend "${name}" has no schema yet: no endpoint is available to ask for reflection`, {
        transient: true,
      });
    }
    try {
      try {
        return await reflectFrom(lease.endpoint, "v1");
      } catch (e) {
        if (ConnectError.from(e).code !== Code.Unimplemented) {
          throw e;
        }
      }
      return await reflectFrom(lease.endpoint, "v1alpha");
    } catch (e) {
      const error = ConnectError.from(e);
      if (error.code === Code.Unimplemented) {
        throw new SchemaUnavailableError(
          `backend "${name}" has no schema: its pods do not serve gRPC server reflection ` +
            "(grpc.reflection.v1 and v1alpha are unimplemented); register reflection on the pods, " +
            "or set backends[].schemas.descriptorSets: [x.binpb] with a file made by `buf build -o x.binpb`",
        );
      }
      throw new SchemaUnavailableError(
        `backend "${name}" has no schema: asking a pod for reflection failed: ${describeReflectionFailure(error)}`,
        { transient: error.code === Code.Unavailable || error.code === Code.DeadlineExceeded },
      );
    } finally {
      lease.release();
    }
  }

  async function reflectFrom(endpoint: Endpoint, version: "v1" | "v1alpha"): Promise<FileDescriptorProto[]> {
    const session = openReflection(options.upstream, endpoint, version);
    try {
      return await fetchFiles(session, (service, message) =>
        log.warn("reflection left a service out", { backend: name, service, error: message }),
      );
    } finally {
      await session.close();
    }
  }

  const ensure = async (): Promise<Loaded> => {
    if (unconfigured !== undefined) {
      throw unconfigured;
    }
    armRefresh();
    if (current !== undefined) {
      return current;
    }
    if (loading !== undefined) {
      await loading;
    } else if (failure === undefined || now() - lastAttemptAt >= SCHEMA_RETRY_MS) {
      await reload();
    }
    if (current !== undefined) {
      return current;
    }
    throw failure ?? new SchemaUnavailableError(`backend "${name}" has no schema yet`);
  };

  const find = (loaded: Loaded, service: string, method: string): DescMethod | undefined =>
    loaded.registry.getService(service)?.methods.find((m) => m.name === method);

  return {
    async method(service, method) {
      const found = find(await ensure(), service, method);
      if (found !== undefined || closed) {
        return found;
      }
      if (loading !== undefined) {
        await loading;
      } else if (now() - lastAttemptAt >= SCHEMA_RETRY_MS) {
        await reload();
      } else {
        return undefined;
      }
      return current === undefined ? undefined : find(current, service, method);
    },
    registry() {
      return current?.registry ?? emptyRegistry;
    },
    async files() {
      return (await ensure()).files;
    },
    close() {
      closed = true;
      cancelTimer?.();
      cancelTimer = undefined;
    },
  };
}

const emptyRegistry: FileRegistry = createFileRegistry();


function serviceNames(files: readonly DescFile[]): string[] {
  return files.flatMap((f) => f.services.map((s) => s.typeName));
}

/** FNV-1a over every file's name and bytes: equal content, equal fingerprint. */
function fingerprint(files: readonly DescFile[]): string {
  let hash = 0x811c9dc5;
  let length = 0;
  const mix = (bytes: Uint8Array) => {
    for (const byte of bytes) {
      hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    }
    length += bytes.length;
  };
  const text = new TextEncoder();
  for (const file of [...files].sort((a, b) => (a.proto.name < b.proto.name ? -1 : 1))) {
    mix(text.encode(file.proto.name));
    mix(toBinary(FileDescriptorProtoSchema, file.proto));
  }
  return `${files.length}:${length}:${hash.toString(16)}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What went wrong, without the runtime's text (it carries pod addresses) when the pod was not reached. */
function describeReflectionFailure(error: ConnectError): string {
  if (error.code === Code.Unavailable || error.code === Code.Unknown) {
    const described = describeConnectFailure(error);
    if (described !== "upstream unavailable: connection failed") {
      return described;
    }
  }
  return `${Code[error.code]}: ${error.rawMessage}`;
}

/** One `ServerReflectionInfo` stream, spoken in v1 terms whichever version is on the wire. */
interface ReflectionSession {
  /** Sends the requests and returns their answers, in order (the protocol answers each request once, in order). */
  ask(requests: readonly ServerReflectionRequest[]): Promise<ServerReflectionResponse[]>;
  /** Ends the request stream and waits (briefly) for the pod to end the call. */
  close(): Promise<void>;
}

function openReflection(upstream: UpstreamContext, endpoint: Endpoint, version: "v1" | "v1alpha"): ReflectionSession {
  const transport = podTransport(upstream, endpoint);
  const requests = createChannel<ServerReflectionRequest>();
  const abort = new AbortController();
  const callOptions = { timeoutMs: REFLECTION_TIMEOUT_MS, signal: abort.signal };
  let responses: AsyncIterator<ServerReflectionResponse>;
  if (version === "v1") {
    responses = createClient(ServerReflectionV1, transport)
      .serverReflectionInfo(requests.iterable, callOptions)
      [Symbol.asyncIterator]();
  } else {
    // v1alpha's messages are v1's under another package: convert through the wire format.
    const alphaRequests = mapAsync(requests.iterable, (r) =>
      fromBinary(v1alpha.ServerReflectionRequestSchema, toBinary(ServerReflectionRequestSchema, r)),
    );
    const alphaResponses = createClient(v1alpha.ServerReflection, transport).serverReflectionInfo(alphaRequests, callOptions);
    responses = mapAsync(alphaResponses, (r) =>
      fromBinary(ServerReflectionResponseSchema, toBinary(v1alpha.ServerReflectionResponseSchema, r)),
    )[Symbol.asyncIterator]();
  }
  return {
    async ask(batch) {
      for (const request of batch) {
        requests.push(request);
      }
      const answers: ServerReflectionResponse[] = [];
      for (let i = 0; i < batch.length; i++) {
        const next = await responses.next();
        if (next.done === true) {
          throw new ConnectError("the pod ended the reflection stream before answering", Code.Internal);
        }
        answers.push(next.value);
      }
      return answers;
    },
    async close() {
      requests.close();
      const drained = (async () => {
        try {
          while ((await responses.next()).done !== true) {
            // the pod has nothing more to say after its last answer
          }
        } catch {
          // the answers are in (or the exchange failed already); how the call ended adds nothing
        }
      })();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
      });
      await Promise.race([drained, grace]);
      clearTimeout(timer);
      abort.abort();
    },
  };
}

/**
 * The reflection exchange: `list_services`, the file of every service, then
 * every import not yet known (a pod may answer with the file alone or with
 * its imports), until nothing is missing or the pod does not know it. A
 * service whose file the pod cannot give is left out (reported).
 */
async function fetchFiles(
  session: ReflectionSession,
  onServiceLeftOut: (service: string, message: string) => void,
): Promise<FileDescriptorProto[]> {
  const [listed] = await session.ask([request({ case: "listServices", value: "*" })]);
  const list = expectCase(listed, "listServicesResponse");
  const files = new Map<string, FileDescriptorProto>();
  const take = (response: ServerReflectionResponse | undefined) => {
    for (const bytes of expectCase(response, "fileDescriptorResponse").fileDescriptorProto) {
      const proto = fromBinary(FileDescriptorProtoSchema, bytes);
      if (!files.has(proto.name)) {
        files.set(proto.name, proto);
      }
    }
  };
  const services = list.service.map((s) => s.name);
  const answers = await session.ask(services.map((value) => request({ case: "fileContainingSymbol", value })));
  answers.forEach((answer, i) => {
    if (answer.messageResponse.case === "errorResponse") {
      onServiceLeftOut(services[i] ?? "", answer.messageResponse.value.errorMessage);
      return;
    }
    take(answer);
  });
  const asked = new Set<string>();
  for (;;) {
    const missing = [...files.values()]
      .flatMap((f) => f.dependency)
      .filter((dep) => !files.has(dep) && !asked.has(dep));
    const unique = [...new Set(missing)];
    if (unique.length === 0) {
      return [...files.values()];
    }
    for (const dep of unique) {
      asked.add(dep);
    }
    const found = await session.ask(unique.map((value) => request({ case: "fileByFilename", value })));
    for (const answer of found) {
      // Not found: the well-known types fill in for google/protobuf/*; anything else leaves its importer out.
      if (answer.messageResponse.case !== "errorResponse") {
        take(answer);
      }
    }
  }
}

function request(messageRequest: ServerReflectionRequest["messageRequest"]): ServerReflectionRequest {
  return create(ServerReflectionRequestSchema, { messageRequest });
}

type ResponseCase = NonNullable<ServerReflectionResponse["messageResponse"]["case"]>;
type ResponseValue<C extends ResponseCase> = Extract<ServerReflectionResponse["messageResponse"], { case: C }>["value"];

/** The answer of the expected kind; an error answer becomes its status, anything else a protocol error. */
function expectCase<C extends ResponseCase>(response: ServerReflectionResponse | undefined, expected: C): ResponseValue<C> {
  const answer = response?.messageResponse;
  if (answer?.case === expected) {
    return answer.value as ResponseValue<C>;
  }
  if (answer?.case === "errorResponse") {
    throw new ConnectError(answer.value.errorMessage, answer.value.errorCode as Code);
  }
  throw new ConnectError(`reflection answered ${answer?.case ?? "nothing"} instead of ${expected}`, Code.Internal);
}

/** A request stream fed one message at a time. */
function createChannel<T>(): { iterable: AsyncIterable<T>; push(value: T): void; close(): void } {
  const queue: T[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const signal = () => {
    wake?.();
    wake = undefined;
  };
  return {
    iterable: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const value = queue.shift();
          if (value !== undefined) {
            yield value;
          } else if (closed) {
            return;
          } else {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          }
        }
      },
    },
    push(value) {
      queue.push(value);
      signal();
    },
    close() {
      closed = true;
      signal();
    },
  };
}

async function* mapAsync<A, B>(source: AsyncIterable<A>, map: (a: A) => B): AsyncIterable<B> {
  for await (const value of source) {
    yield map(value);
  }
}
