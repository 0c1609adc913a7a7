import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Pod, startPod } from "../../src/adapter/node/start-pod.ts";
import { podRoutes } from "../support/harness.ts";
import type { ProbeLog } from "../support/probe-service.ts";
import { type CommandResult, runCommand } from "../support/run-command.ts";

// The reflection the test and demo pods serve must satisfy a real client:
// `buf curl --reflect` (grpc-go's reflection client underneath), over both
// protocol versions, run from outside the project so no local schema helps.

const root = path.resolve(import.meta.dirname, "../..");
const buf = path.join(root, "node_modules/.bin/buf");

/** `buf curl ARGS` from `/`, where no local schema can help. */
function bufCurl(args: readonly string[]): Promise<CommandResult> {
  return runCommand(buf, ["curl", ...args], { cwd: "/" });
}

describe("pods serving reflection, as buf curl --reflect sees them", () => {
  const probes: ProbeLog = new Map();
  let pod: Pod;
  let base: string;

  beforeAll(async () => {
    pod = await startPod("pod-r", podRoutes("pod-r", probes));
    base = `http://${pod.address.host}:${pod.address.port}`;
  });

  afterAll(async () => {
    await pod.close();
  });

  it.each(["grpc-v1", "grpc-v1alpha"])("lists services and calls methods with %s", async (protocol) => {
    const services = await bufCurl(["--http2-prior-knowledge", "--reflect-protocol", protocol, "--list-services", base]);
    expect(services.code, services.stderr).toBe(0);
    expect(services.stdout.trim().split("\n").sort()).toEqual(["greet.v1.GreetService", "probe.v1.ProbeService"]);

    const greet = await bufCurl([
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--reflect-protocol",
      protocol,
      "-d",
      JSON.stringify({ name: "reflection" }),
      `${base}/greet.v1.GreetService/Greet`,
    ]);
    expect(greet.code, greet.stderr).toBe(0);
    expect(JSON.parse(greet.stdout)).toEqual({ greeting: "Hello, reflection!", pod: "pod-r" });

    const probe = await bufCurl([
      "--protocol",
      "connect",
      "--http2-prior-knowledge",
      "--reflect-protocol",
      protocol,
      "-d",
      JSON.stringify({ responseHeaders: { "x-a": "b" } }),
      `${base}/probe.v1.ProbeService/Probe`,
    ]);
    expect(probe.code, probe.stderr).toBe(0);
    expect(JSON.parse(probe.stdout)).toMatchObject({ pod: "pod-r" });
  });

  it("answers without reflection when a pod is started without it", async () => {
    const bare = await startPod("bare", podRoutes("bare", probes, { reflection: false }));
    try {
      const result = await bufCurl([
        "--http2-prior-knowledge",
        "--list-services",
        `http://${bare.address.host}:${bare.address.port}`,
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/unimplemented|not implemented/i);
    } finally {
      await bare.close();
    }
  });
});
