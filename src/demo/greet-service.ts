import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  GreetManyResponseSchema,
  GreetResponseSchema,
  GreetService,
} from "../gen/greet/v1/greet_pb.ts";

/**
 * The demo pods' implementation of `greet.v1.GreetService`: every answer
 * carries the pod's name, so whoever calls through the gateway sees which pod
 * served each call (the seeds' test principle).
 */
export function greetRoutes(pod: string): (router: ConnectRouter) => void {
  return (router) =>
    router.service(GreetService, {
      greet(req) {
        return create(GreetResponseSchema, { greeting: `Hello, ${req.name || "world"}!`, pod });
      },
      async *greetStream(req, ctx) {
        const count = Math.min(req.count || 3, 1000);
        for (let i = 0; i < count; i++) {
          if (i > 0 && req.intervalMs > 0) {
            await sleep(req.intervalMs, ctx.signal);
          }
          yield create(GreetResponseSchema, { greeting: `Hello, ${req.name || "world"}! (${i + 1}/${count})`, pod });
        }
      },
      async greetMany(requests) {
        const names: string[] = [];
        for await (const req of requests) {
          names.push(req.name);
        }
        return create(GreetManyResponseSchema, { greeting: `Hello, ${names.join(", ")}!`, pod, count: names.length });
      },
      async *chat(requests) {
        for await (const req of requests) {
          yield create(GreetResponseSchema, { greeting: `Hello, ${req.name || "world"}!`, pod });
        }
      },
    });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
