// The benchmark's workloads: one RPC in one protocol, as h2load sends it (path,
// headers, a body file) and as a connect-es client checks it (one real call
// whose answer must be right before anything is loaded; h2load reads no gRPC
// trailers and would count an error answer with HTTP 200 as a success).
import * as http from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { GreetRequestSchema, GreetService, GreetStreamRequestSchema } from "../src/gen/greet/v1/greet_pb.ts";

export type SystemKey = "direct" | "nginx" | "edgegate-node" | "edgegate-deno";

export interface Workload {
  readonly key: string;
  readonly label: string;
  /** RPC path, `/greet.v1.GreetService/Greet`. */
  readonly path: string;
  readonly body: Uint8Array;
  readonly headers: readonly string[];
  readonly h1: boolean;
  /** Response messages per call (server streaming: N; unary: 1). */
  readonly messagesPerCall: number;
  /** Systems this workload does not apply to, with the reason shown in their row. */
  readonly notApplicable: Partial<Record<SystemKey, string>>;
  /** One real call through `baseUrl` with a connect-es client; throws unless the answer is right. */
  check(baseUrl: string): Promise<void>;
}

/** A gRPC / gRPC-Web message envelope: flag 0, big-endian length, the message. */
export function envelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

const GREET = "/greet.v1.GreetService/Greet";
const GREET_STREAM = "/greet.v1.GreetService/GreetStream";
const NGINX_H1 = "nginx grpc_pass needs HTTP/2 from the client (an HTTP/1.1 request cannot become an h2 upstream call)";
const DIRECT_H1 = "the pod (node:http2 createServer, h2c only) does not speak HTTP/1.1";

function h1Transport(kind: "connect" | "grpc-web", baseUrl: string, binary: boolean): Transport {
  const nodeOptions = { agent: new http.Agent({ keepAlive: false }) };
  return kind === "connect"
    ? createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: binary, nodeOptions })
    : createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions });
}

async function checkGreet(transport: Transport, name: string, what: string): Promise<void> {
  const answer = await createClient(GreetService, transport).greet({ name });
  const expected = `Hello, ${name}!`;
  if (answer.greeting !== expected || !answer.pod.startsWith("pod-")) {
    throw new Error(`${what}: wrong answer: greeting of ${answer.greeting.length} chars (expected ${expected.length}), pod ${JSON.stringify(answer.pod)}`);
  }
}

export function workloads(options: { readonly bigBytes: number; readonly streamCount: number }): Workload[] {
  const small = toBinary(GreetRequestSchema, create(GreetRequestSchema, { name: "bench" }));
  const bigName = "x".repeat(options.bigBytes);
  const big = toBinary(GreetRequestSchema, create(GreetRequestSchema, { name: bigName }));
  const stream = toBinary(GreetStreamRequestSchema, create(GreetStreamRequestSchema, { name: "bench", count: options.streamCount }));
  const grpcHeaders = ["content-type: application/grpc", "te: trailers"];
  const connectHeaders = ["content-type: application/proto", "connect-protocol-version: 1"];
  const grpcWebHeaders = ["content-type: application/grpc-web+proto", "x-grpc-web: 1"];
  const jsonHeaders = ["content-type: application/json", "connect-protocol-version: 1"];
  const grpc = (baseUrl: string) => createGrpcTransport({ baseUrl });
  return [
    {
      key: "grpc-small",
      label: "gRPC unary, h2, small (7 B request)",
      path: GREET,
      body: envelope(small),
      headers: grpcHeaders,
      h1: false,
      messagesPerCall: 1,
      notApplicable: {},
      check: (baseUrl) => checkGreet(grpc(baseUrl), "bench", "gRPC"),
    },
    {
      key: "grpc-16k",
      label: `gRPC unary, h2, ${Math.round(options.bigBytes / 1024)} KiB name echoed (~${Math.round(options.bigBytes / 1024)} KiB each way)`,
      path: GREET,
      body: envelope(big),
      headers: grpcHeaders,
      h1: false,
      messagesPerCall: 1,
      notApplicable: {},
      check: (baseUrl) => checkGreet(grpc(baseUrl), bigName, "gRPC 16 KiB"),
    },
    {
      key: "connect-h2",
      label: "Connect unary binary, h2",
      path: GREET,
      body: small,
      headers: connectHeaders,
      h1: false,
      messagesPerCall: 1,
      notApplicable: {},
      check: (baseUrl) => checkGreet(createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }), "bench", "Connect h2"),
    },
    {
      key: "connect-h1",
      label: "Connect unary binary, HTTP/1.1",
      path: GREET,
      body: small,
      headers: connectHeaders,
      h1: true,
      messagesPerCall: 1,
      notApplicable: { nginx: NGINX_H1, direct: DIRECT_H1 },
      check: (baseUrl) => checkGreet(h1Transport("connect", baseUrl, true), "bench", "Connect HTTP/1.1"),
    },
    {
      key: "grpcweb-h2",
      label: "gRPC-Web unary binary, h2",
      path: GREET,
      body: envelope(small),
      headers: grpcWebHeaders,
      h1: false,
      messagesPerCall: 1,
      notApplicable: {},
      check: (baseUrl) => checkGreet(createGrpcWebTransport({ baseUrl, httpVersion: "2" }), "bench", "gRPC-Web h2"),
    },
    {
      key: "grpcweb-h1",
      label: "gRPC-Web unary binary, HTTP/1.1",
      path: GREET,
      body: envelope(small),
      headers: grpcWebHeaders,
      h1: true,
      messagesPerCall: 1,
      notApplicable: { nginx: NGINX_H1, direct: DIRECT_H1 },
      check: (baseUrl) => checkGreet(h1Transport("grpc-web", baseUrl, true), "bench", "gRPC-Web HTTP/1.1"),
    },
    {
      key: "json-h2",
      label: 'Connect unary JSON, h2 ({"name":"bench"})',
      path: GREET,
      body: new TextEncoder().encode('{"name":"bench"}'),
      headers: jsonHeaders,
      h1: false,
      messagesPerCall: 1,
      notApplicable: { nginx: "not measured: nginx does no JSON transcoding (grpc_pass would hand the JSON to the pod, which answers it itself)" },
      check: (baseUrl) => checkGreet(createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false }), "bench", "Connect JSON h2"),
    },
    {
      key: "json-h1",
      label: 'Connect unary JSON, HTTP/1.1 ({"name":"bench"})',
      path: GREET,
      body: new TextEncoder().encode('{"name":"bench"}'),
      headers: jsonHeaders,
      h1: true,
      messagesPerCall: 1,
      notApplicable: { nginx: NGINX_H1, direct: DIRECT_H1 },
      check: (baseUrl) => checkGreet(h1Transport("connect", baseUrl, false), "bench", "Connect JSON HTTP/1.1"),
    },
    {
      key: "stream",
      label: `gRPC server streaming GreetStream, h2, count ${options.streamCount}`,
      path: GREET_STREAM,
      body: envelope(stream),
      headers: grpcHeaders,
      h1: false,
      messagesPerCall: options.streamCount,
      notApplicable: {},
      async check(baseUrl) {
        let n = 0;
        for await (const answer of createClient(GreetService, grpc(baseUrl)).greetStream({ name: "bench", count: options.streamCount })) {
          n += 1;
          if (!answer.greeting.startsWith("Hello, bench! (")) throw new Error(`GreetStream: wrong answer ${JSON.stringify(answer.greeting)}`);
        }
        if (n !== options.streamCount) throw new Error(`GreetStream: ${n} messages, expected ${options.streamCount}`);
      },
    },
  ];
}
