import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startPod, type Pod } from "../../src/adapter/node/start-pod.ts";
import { greetRoutes } from "../../src/demo/greet-service.ts";
import { GreetService } from "../../src/gen/greet/v1/greet_pb.ts";
import { endpointSlice, startFakeKubeApi } from "../support/fake-kube-api.ts";
import { startGatewayProcess, stopGatewayProcess } from "../support/gateway-process.ts";
import { edgegateCommand } from "../support/gateway-runtime.ts";
import { type CommandResult, runCommand } from "../support/run-command.ts";


/** Runs `edgegate ARGS` on the runtime under test. */
function run(args: string[]): Promise<CommandResult> {
  const command = edgegateCommand(args);
  return runCommand(command.file, command.args);
}

describe("the edgegate command", () => {
  let dir: string;
  let pods: Pod[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgegate-cli-"));
    pods = await Promise.all(["pod-a", "pod-b"].map((name) => startPod(name, greetRoutes(name))));
  });
  afterAll(() => Promise.all(pods.map((p) => p.close())));

  async function configFile(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it("serves a config file: calls through the listener reach both pods", async () => {
    const endpoints = pods.map((p) => `"127.0.0.1:${p.address.port}"`).join(", ");
    const path = await configFile(
      "ok.yaml",
      `listeners:\n  - address: 127.0.0.1:0\nroutes:\n  - services: ["greet.v1.GreetService"]\n    backend: greet\nbackends:\n  - name: greet\n    discovery:\n      static:\n        endpoints: [${endpoints}]\n`,
    );
    const gateway = await startGatewayProcess(path);
    const port = gateway.listeners[0]?.port ?? 0;
    try {
      const client = createClient(GreetService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        seen.add((await client.greet({ name: "cli" })).pod);
      }
      expect(seen).toEqual(new Set(["pod-a", "pod-b"]));
    } finally {
      expect(await stopGatewayProcess(gateway, 10_000)).toBe(0);
    }
  });

  it("serves from Kubernetes discovery with a kubeconfig next to the config file", async () => {
    const api = await startFakeKubeApi();
    const kubeconfig = await api.writeKubeconfig({ dir, namespace: "shop" });
    const [a, b] = pods;
    api.put(
      "endpointslices",
      endpointSlice({
        namespace: "shop",
        name: "greet-1",
        service: "greet",
        ports: [{ name: "grpc", port: a?.address.port ?? 0 }],
        endpoints: [{ ip: "127.0.0.1", ready: true }],
      }),
    );
    const path = await configFile(
      "kube.yaml",
      `listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nroutes:\n  - backend: greet\n` +
        `backends:\n  - name: greet\n    discovery:\n      kubernetes: { service: greet, port: grpc }\n` +
        `kubernetes:\n  kubeconfig: ./${kubeconfig.slice(dir.length + 1)}\n`,
    );
    const gateway = await startGatewayProcess(path);
    const port = gateway.listeners[0]?.port ?? 0;
    try {
      const client = createClient(GreetService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
      await vi.waitFor(async () => expect((await client.greet({ name: "cli" })).pod).toBe("pod-a"));
      api.put(
        "endpointslices",
        endpointSlice({
          namespace: "shop",
          name: "greet-1",
          service: "greet",
          ports: [{ name: "grpc", port: b?.address.port ?? 0 }],
          endpoints: [{ ip: "127.0.0.1", ready: true }],
        }),
      );
      await vi.waitFor(async () => expect((await client.greet({ name: "cli" })).pod).toBe("pod-b"));
    } finally {
      expect(await stopGatewayProcess(gateway, 10_000)).toBe(0);
      await api.close();
    }
  });

  it("keeps serving when whoever reads its log goes away (EPIPE on stdout)", async () => {
    const endpoints = pods.map((p) => `"127.0.0.1:${p.address.port}"`).join(", ");
    const path = await configFile(
      "epipe.yaml",
      `listeners:\n  - address: 127.0.0.1:0\nroutes:\n  - backend: greet\nbackends:\n  - name: greet\n    discovery:\n      static:\n        endpoints: [${endpoints}]\n`,
    );
    const gateway = await startGatewayProcess(path);
    try {
      // A log shipper that dies: the read end of the gateway's stdout closes; every access log line then fails to write.
      gateway.child.stdout?.destroy();
      const client = createClient(
        GreetService,
        createGrpcTransport({ baseUrl: `http://127.0.0.1:${gateway.listeners[0]?.port ?? 0}` }),
      );
      for (let i = 0; i < 20; i++) {
        expect((await client.greet({ name: "no reader" })).greeting).toBe("Hello, no reader!");
      }
      expect(gateway.child.exitCode).toBeNull();
    } finally {
      expect(await stopGatewayProcess(gateway, 10_000)).toBe(0);
    }
  });

  it("rejects an unknown key, naming it, with a non-zero exit", async () => {
    const path = await configFile(
      "typo.yaml",
      "listeners:\n  - address: 127.0.0.1:0\nroutes:\n  - servces: [a.B]\n    backend: x\nbackends:\n  - name: x\n    discovery:\n      static:\n        endpoints: [127.0.0.1:1]\n",
    );
    const result = await run(["serve", "--config", path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("routes[0].servces: unknown key");
  });

  it("rejects a bad value, naming the key", async () => {
    const path = await configFile(
      "bad.yaml",
      "listeners:\n  - address: 127.0.0.1:0\nroutes:\n  - backend: x\nbackends:\n  - name: x\n    balancer: random\n    discovery:\n      static:\n        endpoints: [127.0.0.1:1]\n",
    );
    const result = await run(["check", "--config", path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("backends[0].balancer");
  });

  it("check prints the routes a valid config would serve", async () => {
    const path = await configFile(
      "check.yaml",
      "listeners:\n  - address: 127.0.0.1:8080\nroutes:\n  - services: [shop.v1.]\n    backend: shop\nbackends:\n  - name: shop\n    balancer: least_request\n    discovery:\n      static:\n        endpoints: [10.0.0.1:50051]\n",
    );
    const result = await run(["check", "--config", path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("route 0: shop.v1. -> backend shop");
    expect(result.stdout).toContain("backend shop: least_request, static 10.0.0.1:50051");
  });

  it("explains a missing --config and an unknown command", async () => {
    expect((await run(["serve"])).stderr).toContain("--config FILE is required");
    const unknown = await run(["launch"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "launch"');
  });
});
