import type { ConnectRouter } from "@connectrpc/connect";
import { validateConfig } from "../../config/validate-config.ts";
import { greetRoutes } from "../../demo/greet-service.ts";
import { file_greet_v1_greet } from "../../gen/greet/v1/greet_pb.ts";
import { reflectionRoutes } from "../../reflection/reflection-routes.ts";
import { createGateway, type Gateway } from "../../gateway/create-gateway.ts";
import type { Logger } from "../../log/logger.ts";
import { nodeRuntime } from "./node-runtime.ts";
import { type Pod, startPod } from "./start-pod.ts";

/**
 * `edgegate demo` (what `npm start` runs): three real gRPC pods on loopback,
 * each answering with its name, and the gateway in front of them with static
 * discovery. Prints commands to paste that show the answers rotating.
 */
export async function startDemo(
  port: number,
  log: Logger,
  print: (line: string) => void,
): Promise<{ close(): Promise<void> }> {
  const pods: Pod[] = [];
  const closePods = () => Promise.all(pods.map((p) => p.close()));
  let gateway: Gateway;
  try {
    for (const [i, name] of ["pod-a", "pod-b", "pod-c"].entries()) {
      pods.push(await startPodPreferring(name, 50051 + i));
    }
    const endpoints = pods.map((p) => `${p.address.host}:${p.address.port}`);
    try {
      gateway = await createGateway(demoConfig(port, DEMO_ADMIN_PORT, endpoints), nodeRuntime, log);
    } catch (e) {
      if (!isAddressInUse(e, DEMO_ADMIN_PORT)) throw e;
      // The admin page is a side show here: another port rather than no demo.
      gateway = await createGateway(demoConfig(port, 0, endpoints), nodeRuntime, log);
    }
  } catch (e) {
    await closePods();
    if (isAddressInUse(e, port)) {
      throw new Error(`port ${port} is in use on 127.0.0.1; pick another one: npm start -- --port ${port + 1}`);
    }
    throw e;
  }
  const [listener] = gateway.listeners;
  const base = `http://127.0.0.1:${listener?.port ?? port}`;
  const url = `${base}/greet.v1.GreetService/Greet`;
  print("");
  print(`edgegate demo: gateway on ${base}, admin on http://127.0.0.1:${gateway.admin?.port ?? 9901}`);
  print(`pods: ${pods.map((p) => `${p.name} (${p.address.host}:${p.address.port})`).join(", ")}`);
  print("");
  print("Run any of these a few times and watch the pod change on every call:");
  print(`  npx buf curl --reflect --protocol grpc --http2-prior-knowledge -d '{"name":"you"}' ${url}`);
  print(`  npx buf curl --reflect --protocol grpcweb -d '{"name":"you"}' ${url}`);
  print(`  npx buf curl --reflect --protocol connect -d '{"name":"you"}' ${url}`);
  print(`  curl -d '{"name":"you"}' -H 'content-type: application/json' ${url}`);
  print(`  curl '${url}?connect=v1&encoding=json&message=%7B%22name%22%3A%22you%22%7D'`);
  print("A server stream, every message from the one pod that took the call:");
  print(
    `  npx buf curl --reflect --protocol grpc --http2-prior-knowledge -d '{"name":"you","count":3}' ${base}/greet.v1.GreetService/GreetStream`,
  );
  print("");
  print("Ctrl-C stops the demo.");
  return {
    async close() {
      await gateway.close();
      await closePods();
    },
  };
}

/** Where the demo's admin listener goes when the port is free; elsewhere otherwise. */
const DEMO_ADMIN_PORT = 9901;

function demoConfig(port: number, adminPort: number, endpoints: readonly string[]) {
  return validateConfig({
    listeners: [{ address: `127.0.0.1:${port}` }],
    admin: { address: `127.0.0.1:${adminPort}` },
    routes: [{ services: ["greet.v1."], backend: "greet" }],
    backends: [{ name: "greet", balancer: "round_robin", discovery: { static: { endpoints } } }],
  });
}

function isAddressInUse(error: unknown, port: number): boolean {
  return (
    error instanceof Error &&
    (error as NodeJS.ErrnoException).code === "EADDRINUSE" &&
    (error as { port?: unknown }).port === port
  );
}

/** The demo's pods take 50051-50053 when free, so the printed addresses stay familiar. */
async function startPodPreferring(name: string, port: number): Promise<Pod> {
  try {
    return await startPod(name, demoPodRoutes(name), { host: "127.0.0.1", port });
  } catch {
    return startPod(name, demoPodRoutes(name));
  }
}

/** A demo pod serves greet.v1 and gRPC server reflection of it, as a real pod would. */
function demoPodRoutes(name: string): (router: ConnectRouter) => void {
  const reflection = reflectionRoutes([file_greet_v1_greet]);
  return (router) => {
    greetRoutes(name)(router);
    reflection(router);
  };
}
