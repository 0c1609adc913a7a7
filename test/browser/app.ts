/// <reference lib="dom" />
// The browser test page: connect-web from another origin than the gateway's,
// over Connect (JSON and binary) and gRPC-Web, unary and server streaming.
// Bundled by esbuild at test time; the gateway's URL comes in `?gateway=`.
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import type { CallResult, PageResults, PageTransport } from "./page-results.ts";

declare global {
  interface Window {
    /** Set once every call has settled. */
    results?: PageResults;
  }
}

const UNARY_CALLS = 6;

async function run(): Promise<PageResults> {
  const baseUrl = new URLSearchParams(location.search).get("gateway");
  if (baseUrl === null) {
    throw new Error("no ?gateway= in the page URL");
  }
  const transports: Record<PageTransport, Transport> = {
    "connect-json": createConnectTransport({ baseUrl, useBinaryFormat: false }),
    "connect-binary": createConnectTransport({ baseUrl, useBinaryFormat: true }),
    "grpc-web": createGrpcWebTransport({ baseUrl }),
  };
  const calls: CallResult[] = [];
  for (const [transport, t] of Object.entries(transports) as [PageTransport, Transport][]) {
    const client = createClient(GreetService, t);
    for (let i = 0; i < UNARY_CALLS; i++) {
      calls.push(await settle(transport, "Greet", async () => [(await client.greet({ name: `browser ${i}` })).pod]));
    }
    calls.push(
      await settle(transport, "GreetStream", async () => {
        const pods: string[] = [];
        for await (const res of client.greetStream({ name: "browser", count: 3 })) {
          pods.push(res.pod);
        }
        return pods;
      }),
    );
  }
  return { origin: location.origin, calls };
}

async function settle(
  transport: PageTransport,
  method: CallResult["method"],
  call: () => Promise<string[]>,
): Promise<CallResult> {
  try {
    return { transport, method, ok: true, pods: await call() };
  } catch (e) {
    return { transport, method, ok: false, pods: [], error: ConnectError.from(e).message };
  }
}

function render(results: PageResults): void {
  const list = document.createElement("ul");
  list.id = "results";
  for (const call of results.calls) {
    const item = document.createElement("li");
    item.textContent = `${call.transport} ${call.method} → ${call.ok ? call.pods.join(", ") : `failed: ${call.error ?? ""}`}`;
    list.append(item);
  }
  document.body.append(list);
}

void run().then(
  (results) => {
    render(results);
    window.results = results;
  },
  (e: unknown) => {
    document.body.textContent = `page failed: ${String(e)}`;
  },
);
