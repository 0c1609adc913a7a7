// `node bench/hpack.ts [seconds=2]`: what our HPACK codec (src/h2/hpack)
// costs per header block for a gRPC unary call as the gateway relays it: the
// request headers from the client, the response headers and the trailers
// from the pod, each decoded (from a peer that indexes, as grpc-go and
// nghttp2 do) and encoded again for the other side. Steady state: the
// dynamic tables are warm, and grpc-timeout differs on every call, as a
// client's remaining deadline does. One process, one core, no I/O.
//
// The experiment behind issue 15 measured ~0.7 µs per call (three blocks)
// for its own codec and ~7 µs for the hpack.js package.
import { ByteSink } from "../src/h2/hpack/byte-sink.ts";
import { HpackDecoder } from "../src/h2/hpack/hpack-decoder.ts";
import { HpackEncoder } from "../src/h2/hpack/hpack-encoder.ts";

const seconds = Number(process.argv[2] ?? "2");

const request = {
  names: [":method", ":scheme", ":path", ":authority", "content-type", "te", "user-agent", "grpc-accept-encoding", "grpc-timeout"],
  values: [
    "POST",
    "http",
    "/greet.v1.GreetService/Greet",
    "greet.default.svc.cluster.local:8080",
    "application/grpc",
    "trailers",
    "grpc-go/1.72.0",
    "identity,deflate,gzip",
    "4999872u",
  ],
};
const response = {
  names: [":status", "content-type", "grpc-accept-encoding"],
  values: ["200", "application/grpc", "identity,deflate,gzip"],
};
const trailers = { names: ["grpc-status", "grpc-message"], values: ["0", ""] };

/** Deadlines as a client's clock would give them: a new value per call. */
const timeouts = Array.from({ length: 1024 }, (_, i) => `${4_999_000 + ((i * 7919) % 1000)}u`);

interface Blocks {
  readonly request: Uint8Array[];
  readonly response: Uint8Array;
  readonly trailers: Uint8Array;
}

/** The blocks a peer's encoder sends in steady state (after a first call warmed its table). */
function peerBlocks(): Blocks {
  const client = new HpackEncoder();
  const pod = new HpackEncoder();
  const out = new ByteSink();
  const encode = (encoder: HpackEncoder, names: string[], values: string[]) => {
    out.clear();
    encoder.encode(names, values, out);
    return out.view().slice();
  };
  encode(client, request.names, request.values);
  encode(pod, response.names, response.values);
  encode(pod, trailers.names, trailers.values);
  return {
    request: timeouts.map((t) => encode(client, request.names, request.values.with(-1, t))),
    response: encode(pod, response.names, response.values),
    trailers: encode(pod, trailers.names, trailers.values),
  };
}

function measure(name: string, blocksPerRound: number, round: (i: number) => number): number {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += round(i); // warm-up: JIT
  let rounds = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  let now = started;
  while (now < until) {
    for (let i = 0; i < 10_000; i++) sink += round(rounds + i);
    rounds += 10_000;
    now = performance.now();
  }
  const ns = ((now - started) * 1e6) / rounds;
  console.log(`${name.padEnd(44)} ${(ns / blocksPerRound).toFixed(0).padStart(5)} ns/block ${ns.toFixed(0).padStart(6)} ns/call  (${sink & 1})`);
  return ns;
}

const blocks = peerBlocks();
console.log(
  `blocks from the peers: request ${blocks.request[0]!.length} B, response ${blocks.response.length} B, trailers ${blocks.trailers.length} B`,
);

// Decoding: the client's request block, the pod's response headers and trailers.
{
  const fromClient = new HpackDecoder();
  const fromPod = new HpackDecoder();
  // Warm both tables with the first call's blocks.
  const warm = new HpackEncoder();
  const podWarm = new HpackEncoder();
  const out = new ByteSink();
  warm.encode(request.names, request.values, out);
  fromClient.decode(out.view());
  out.clear();
  podWarm.encode(response.names, response.values, out);
  fromPod.decode(out.view());
  out.clear();
  podWarm.encode(trailers.names, trailers.values, out);
  fromPod.decode(out.view());
  measure("decode request", 1, (i) => fromClient.decode(blocks.request[i & 1023]!).names.length);
  measure("decode response headers", 1, () => fromPod.decode(blocks.response).names.length);
  measure("decode trailers", 1, () => fromPod.decode(blocks.trailers).names.length);
}

// Encoding the same lists for the other side.
{
  const toPod = new HpackEncoder();
  const toClient = new HpackEncoder();
  const out = new ByteSink();
  const values = request.values.slice();
  measure("encode request", 1, (i) => {
    values[8] = timeouts[i & 1023]!;
    out.clear();
    toPod.encode(request.names, values, out);
    return out.length;
  });
  measure("encode response headers", 1, () => {
    out.clear();
    toClient.encode(response.names, response.values, out);
    return out.length;
  });
  measure("encode trailers", 1, () => {
    out.clear();
    toClient.encode(trailers.names, trailers.values, out);
    return out.length;
  });
}

// A whole relayed call: three blocks decoded from one side and encoded to the other.
{
  const fromClient = new HpackDecoder();
  const fromPod = new HpackDecoder();
  const toPod = new HpackEncoder();
  const toClient = new HpackEncoder();
  const out = new ByteSink();
  const client = new HpackEncoder();
  const pod = new HpackEncoder();
  // The first call, to warm all four tables.
  out.clear();
  client.encode(request.names, request.values, out);
  const first = fromClient.decode(out.view());
  out.clear();
  toPod.encode(first.names, first.values, out, first.neverIndexed);
  out.clear();
  pod.encode(response.names, response.values, out);
  fromPod.decode(out.view());
  out.clear();
  pod.encode(trailers.names, trailers.values, out);
  fromPod.decode(out.view());
  out.clear();
  toClient.encode(response.names, response.values, out);
  toClient.encode(trailers.names, trailers.values, out);
  measure("relay one call (3 blocks: decode + encode)", 3, (i) => {
    const req = fromClient.decode(blocks.request[i & 1023]!);
    out.clear();
    toPod.encode(req.names, req.values, out, req.neverIndexed);
    const res = fromPod.decode(blocks.response);
    out.clear();
    toClient.encode(res.names, res.values, out, res.neverIndexed);
    const end = fromPod.decode(blocks.trailers);
    out.clear();
    toClient.encode(end.names, end.values, out, end.neverIndexed);
    return out.length;
  });
}
