import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { ConfigError } from "../../config/config-error.ts";
import type { GatewayConfig } from "../../config/gateway-config.ts";
import { loadConfigFile } from "../../config/load-config.ts";
import { createGateway, type Gateway } from "../../gateway/create-gateway.ts";
import { createLogger, type Logger, parseLogLevel } from "../../log/logger.ts";
import { describeConfig } from "../../config/describe-config.ts";
import { parseHostPort } from "../../config/parse-host-port.ts";
import { greetRoutes } from "../../demo/greet-service.ts";
import { file_greet_v1_greet } from "../../gen/greet/v1/greet_pb.ts";
import { reflectionRoutes } from "../../reflection/reflection-routes.ts";
import { startDemo } from "./demo.ts";
import { startPod } from "./start-pod.ts";
import { nodeRuntime } from "./node-runtime.ts";

/** Where the CLI writes: stdout and stderr in the process, arrays in tests. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const usage = `usage:
  edgegate serve --config FILE [--log-level debug|info|warn|error]
  edgegate check --config FILE
  edgegate demo [--port 8080] [--log-level LEVEL]   (npm start -- --port N)
  edgegate demo-pod [--address 0.0.0.0:50051] [--name NAME]

serve   runs the gateway with the given YAML config
check   validates a config and prints the routes it would serve
demo    starts three demo pods on loopback and the gateway in front of them
demo-pod  runs one demo backend pod (greet.v1.GreetService, with gRPC server reflection) answering with its name
          (default: $POD_NAME, as the Downward API sets it, else the host name)`;

/**
 * The `edgegate` command line. Returns the exit code; a running gateway
 * (serve, demo) resolves only once a signal has stopped it.
 */
export async function runCli(argv: readonly string[], output: CliOutput): Promise<number> {
  const [command, ...rest] = argv;
  let args: ReturnType<typeof parse>;
  try {
    args = parse(rest);
  } catch (e) {
    output.err(`edgegate: ${e instanceof Error ? e.message : String(e)}\n${usage}`);
    return 2;
  }
  try {
    const log = createLogger(parseLogLevel(args.values["log-level"] ?? "info"), output.out);
    switch (command) {
      case "serve": {
        const config = await loadConfig(args.values.config);
        const gateway = await createGateway(config, nodeRuntime, log);
        announce(gateway, config, log);
        await untilSignal(log);
        await gateway.shutdown(config.shutdown.gracePeriodMs);
        exitSoonAfterShutdown();
        return 0;
      }
      case "check": {
        const config = await loadConfig(args.values.config);
        output.out(`${args.values.config}: ok`);
        for (const line of describeConfig(config)) {
          output.out(line);
        }
        return 0;
      }
      case "demo": {
        const { port } = parseHostPort(`127.0.0.1:${args.values.port ?? "8080"}`, { allowZero: true });
        const demo = await startDemo(port, log, output.out);
        await untilSignal(log);
        await demo.close();
        exitSoonAfterShutdown();
        return 0;
      }
      case "demo-pod": {
        const address = parseHostPort(args.values.address ?? "0.0.0.0:50051", { allowZero: true });
        const name = args.values.name ?? process.env.POD_NAME ?? hostname();
        const greetReflection = reflectionRoutes([file_greet_v1_greet]);
        const pod = await startPod(
          name,
          (router) => {
            greetRoutes(name)(router);
            greetReflection(router);
          },
          address,
        );
        log.info("demo pod started", { pod: name, address: `${pod.address.host}:${pod.address.port}` });
        await untilSignal(log);
        await pod.close();
        return 0;
      }
      case undefined:
      case "help":
      case "--help":
        output.out(usage);
        return command === undefined ? 2 : 0;
      default:
        output.err(`edgegate: unknown command "${command}"\n${usage}`);
        return 2;
    }
  } catch (e) {
    output.err(`edgegate: ${e instanceof ConfigError || e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      config: { type: "string", short: "c" },
      "log-level": { type: "string" },
      port: { type: "string" },
      address: { type: "string" },
      name: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
}

function loadConfig(path: string | undefined): Promise<GatewayConfig> {
  if (path === undefined) {
    throw new Error("--config FILE is required");
  }
  return loadConfigFile(path, (p) => readFile(p, "utf8"));
}

/** Prints what the gateway serves, once, at startup. */
export function announce(gateway: Gateway, config: GatewayConfig, log: Logger): void {
  log.info("edgegate started", {
    listeners: gateway.listeners.map((a) => `${a.host}:${a.port}`),
    admin: gateway.admin === undefined ? undefined : `${gateway.admin.host}:${gateway.admin.port}`,
    routes: describeConfig(config),
  });
}

/**
 * Once the gateway has shut down, nothing it owns is left; the process ends
 * when the event loop is empty. Should a handle outlive the shutdown (Deno
 * 2.9 keeps one alive after hostile HTTP/1.1 clients), an unref'd timer
 * exits a second later anyway, with the code already set.
 */
function exitSoonAfterShutdown(): void {
  setTimeout(() => process.exit(), 1_000).unref();
}

/**
 * Resolves on the first SIGTERM or SIGINT, for a graceful stop. A second one
 * (an impatient Ctrl-C, a supervisor that will not wait) exits at once with
 * 128 + its number, as a shell reports a process killed by it.
 */
function untilSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info("stopping", { signal });
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      const now = (again: NodeJS.Signals) => {
        log.warn("stopping now, without waiting for calls in flight", { signal: again });
        process.exit(again === "SIGINT" ? 130 : 143);
      };
      // Listen for the second signal from the next turn of the event loop: Deno
      // (2.9) also calls listeners added while it dispatches a signal, so one
      // SIGTERM would otherwise count as two and skip the graceful stop.
      setTimeout(() => {
        process.once("SIGINT", now);
        process.once("SIGTERM", now);
      }, 0);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
