import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import {
  echoInitial,
  echoTrailing,
  encodeRpcStatus,
  loadProbePackage,
  type ProbeRequest,
  type ProbeResponseInit,
  probeServiceConstructor,
  statusDetailsKey,
} from "./probe-proto.ts";

/**
 * A probe.v1 pod written the way a grpc-js user writes one: @grpc/grpc-js
 * serving the service proto-loader loads from probe.proto,
 * `grpc.health.v1.Health` from grpc-health-check, and server reflection from
 * @grpc/reflection built on the same package definition. Issue 14: the
 * gateway broke with real grpc-js pods while every pod of the test suite was
 * a connect-node server written here; this one is for the interop matrix
 * (test/interop/README.md gives the behaviour; test/support/probe-service.ts
 * is the reference it follows).
 *
 * What real grpc-js does, and this pod leaves as it is:
 * - An error before any response header goes out Trailers-Only (one HEADERS
 *   frame with END_STREAM): issue 14's first defect.
 * - @grpc/reflection serves descriptors without `json_name`: issue 14's
 *   second defect; the gateway has to derive the JSON names itself. They
 *   are proto-loader's (protobufjs) descriptors, which have more gaps: one
 *   file per package with a made-up name ("probe_v1.proto",
 *   "google_protobuf.proto"; `file_by_filename` of the real path answers
 *   NOT_FOUND), an empty `dependency` list, and type names without the
 *   leading dot ("google.protobuf.Timestamp"). `file_containing_symbol`
 *   still returns the Timestamp file beside probe's. buf curl --reflect
 *   straight to this pod fails on them ("failed to find service named
 *   probe.v1.ProbeService in schema"), as grpcurl does with any grpc-js pod
 *   whose proto imports another file (grpc/grpc-node#2595, #2958).
 * - grpc-js servers never compress responses (every message goes out with
 *   the compressed flag 0, whatever the channel options), so
 *   `response_compression` is ignored; compressed requests (gzip, deflate)
 *   are accepted.
 * - Response headers go out the moment `sendMetadata` is called, before any
 *   message: here when the call starts, if there are any to send.
 *
 * Usage: `node probe-pod.ts --name POD`; prints `listening on
 * 127.0.0.1:PORT` first, exits 0 on SIGTERM.
 */

const { values } = parseArgs({ options: { name: { type: "string" } } });
const pod: string = values.name ?? "";
if (pod === "") {
  process.stderr.write("usage: probe-pod.ts --name POD\n");
  process.exit(2);
}

/** What this pod uses of every kind of server call (grpc-js's ServerSurfaceCall, which it does not export). */
interface ServerCall {
  readonly cancelled: boolean;
  readonly metadata: grpc.Metadata;
  sendMetadata(responseMetadata: grpc.Metadata): void;
  once(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
}

const packageDefinition = loadProbePackage();
const ProbeService = probeServiceConstructor(packageDefinition);

/** The request metadata as the pod saw it: values joined by ", ", binary ones base64. */
function requestHeaders(metadata: grpc.Metadata): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const key of Object.keys(metadata.getMap())) {
    headers[key] = metadata
      .get(key)
      .map((v) => (typeof v === "string" ? v : v.toString("base64")))
      .join(", ");
  }
  return headers;
}

/** Metadata from a string map; a `-bin` value is taken as base64 (grpc-js wants a Buffer there). */
function metadataOf(entries: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) {
    if (key.toLowerCase().endsWith("-bin")) {
      metadata.set(key, Buffer.from(value, "base64"));
    } else {
      metadata.set(key, value);
    }
  }
  return metadata;
}

/**
 * What the first request of a call asks of its headers and trailers:
 * `response_headers` plus the echoed `x-grpc-test-echo-initial` go out at
 * once (only when there are any, so an error can still be Trailers-Only);
 * the returned trailers are `response_trailers` plus the echoed
 * `x-grpc-test-echo-trailing-bin`.
 */
function start(call: ServerCall, req: ProbeRequest): grpc.Metadata {
  const headers = metadataOf(req.response_headers);
  for (const value of call.metadata.get(echoInitial)) {
    headers.add(echoInitial, value);
  }
  if (Object.keys(headers.getMap()).length > 0) {
    call.sendMetadata(headers);
  }
  const trailers = metadataOf(req.response_trailers);
  for (const value of call.metadata.get(echoTrailing)) {
    trailers.add(echoTrailing, value);
  }
  return trailers;
}

function respond(
  req: ProbeRequest,
  call: ServerCall,
  extra: { count?: number; index?: number; received_bytes?: number } = {},
): ProbeResponseInit {
  return {
    pod,
    request_headers: requestHeaders(call.metadata),
    payload: req.payload_size > 0 ? Buffer.alloc(req.payload_size, 0x61) : req.payload,
    at: req.at,
    big: req.big,
    color: req.color,
    received_bytes: req.payload.length,
    ...extra,
  };
}

/** The error a request asks for (`fail_code` ≠ 0), with the call's trailers and the google.rpc.Status detail. */
function failure(req: ProbeRequest, trailers: grpc.Metadata): grpc.StatusObject | undefined {
  if (req.fail_code === 0) {
    return undefined;
  }
  const metadata = trailers.clone();
  if (req.fail_detail !== "") {
    metadata.set(statusDetailsKey, encodeRpcStatus(req.fail_code, req.fail_message, { text: req.fail_detail, pod }));
  }
  return { code: req.fail_code, details: req.fail_message, metadata };
}

/** A bug of this pod, reported to the caller rather than crashing the process. */
function internal(error: unknown): grpc.StatusObject {
  return { code: grpc.status.INTERNAL, details: `probe pod: ${String(error)}`, metadata: new grpc.Metadata() };
}

/** Waits `ms`; resolves false, at once, when the call is cancelled (by the client, the gateway or its deadline). */
function sleep(ms: number, call: ServerCall): Promise<boolean> {
  if (call.cancelled) {
    return Promise.resolve(false);
  }
  if (ms <= 0) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const onCancel = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      call.removeListener("cancelled", onCancel);
      resolve(true);
    }, ms);
    call.once("cancelled", onCancel);
  });
}

/** Writes one message, waiting for 'drain' when the stream is full; false when the call was cancelled. */
function send(
  call: grpc.ServerWritableStream<ProbeRequest, ProbeResponseInit> | grpc.ServerDuplexStream<ProbeRequest, ProbeResponseInit>,
  message: ProbeResponseInit,
): Promise<boolean> {
  if (call.cancelled) {
    return Promise.resolve(false);
  }
  if (call.write(message)) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const onDrain = () => {
      call.removeListener("cancelled", onCancel);
      resolve(true);
    };
    const onCancel = () => {
      call.removeListener("drain", onDrain);
      resolve(false);
    };
    call.once("drain", onDrain);
    call.once("cancelled", onCancel);
  });
}

const probeService: grpc.UntypedServiceImplementation = {
  Probe(call: grpc.ServerUnaryCall<ProbeRequest, ProbeResponseInit>, callback: grpc.sendUnaryData<ProbeResponseInit>) {
    const req = call.request;
    const trailers = start(call, req);
    void (async () => {
      if (!(await sleep(req.sleep_ms, call))) {
        return;
      }
      const failed = failure(req, trailers);
      if (failed !== undefined) {
        callback(failed);
        return;
      }
      callback(null, respond(req, call), trailers);
    })().catch((error: unknown) => callback(internal(error)));
  },

  ProbeStream(call: grpc.ServerWritableStream<ProbeRequest, ProbeResponseInit>) {
    const req = call.request;
    const trailers = start(call, req);
    void (async () => {
      for (let i = 0; i < req.count; i++) {
        if (!(await sleep(i === 0 ? req.sleep_ms : req.interval_ms, call))) {
          return;
        }
        if (!(await send(call, respond(req, call, { index: i })))) {
          return;
        }
      }
      const failed = failure(req, trailers);
      if (failed !== undefined) {
        // grpc-js's way to end a server stream with an error status.
        call.emit("error", failed);
        return;
      }
      call.end(trailers);
    })().catch((error: unknown) => call.emit("error", internal(error)));
  },

  ProbeClientStream(call: grpc.ServerReadableStream<ProbeRequest, ProbeResponseInit>, callback: grpc.sendUnaryData<ProbeResponseInit>) {
    let first: ProbeRequest | undefined;
    let trailers = new grpc.Metadata();
    let count = 0;
    let receivedBytes = 0;
    call.on("data", (req: ProbeRequest) => {
      receivedBytes += req.payload.length;
      if (first === undefined) {
        first = req;
        trailers = start(call, req);
      }
      count++;
    });
    call.on("end", () => {
      if (first === undefined) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: "no requests", metadata: trailers });
        return;
      }
      const failed = failure(first, trailers);
      if (failed !== undefined) {
        callback(failed);
        return;
      }
      callback(null, respond(first, call, { count, received_bytes: receivedBytes }), trailers);
    });
    call.on("error", () => {
      // A cancelled call ends here; grpc-js has already ended it.
    });
  },

  ProbeBidi(call: grpc.ServerDuplexStream<ProbeRequest, ProbeResponseInit>) {
    let trailers: grpc.Metadata | undefined;
    let index = 0;
    let done = false;
    // One request at a time, in order: a request's answer (after its sleep) goes out before the next one is looked at.
    let queue = Promise.resolve();
    const answer = async (req: ProbeRequest) => {
      if (done || call.cancelled) {
        return;
      }
      trailers ??= start(call, req);
      const failed = failure(req, trailers);
      if (failed !== undefined) {
        done = true;
        call.emit("error", failed);
        return;
      }
      if (!(await sleep(req.sleep_ms, call)) || !(await send(call, respond(req, call, { index: index++ })))) {
        done = true;
      }
    };
    const fail = (error: unknown) => {
      if (!done) {
        done = true;
        call.emit("error", internal(error));
      }
    };
    call.on("data", (req: ProbeRequest) => {
      queue = queue.then(() => answer(req)).catch(fail);
    });
    call.on("end", () => {
      queue = queue
        .then(() => {
          if (!done && !call.cancelled) {
            done = true;
            call.end(trailers);
          }
        })
        .catch(fail);
    });
  },
};

const server = new grpc.Server();
server.addService(ProbeService.service, probeService);
// grpc.health.v1 as grpc-health-check serves it: Check answers NOT_FOUND for a name it was not given.
new HealthImplementation({ "": "SERVING", "probe.v1.ProbeService": "SERVING" }).addToServer(server);
// v1 and v1alpha, of the files in probe.proto's package definition only (no json_name in them).
new ReflectionService(packageDefinition).addToServer(server);

server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error !== null) {
    process.stderr.write(`probe pod ${pod}: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
});

function stop(): void {
  const force = setTimeout(() => {
    server.forceShutdown();
    process.exit(0);
  }, 1_000);
  server.tryShutdown(() => {
    clearTimeout(force);
    process.exit(0);
  });
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
