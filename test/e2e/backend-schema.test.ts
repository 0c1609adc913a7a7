import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { ConnectRouter } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { nodeRuntime } from "../../src/adapter/node/node-runtime.ts";
import { type Pod, startPod } from "../../src/adapter/node/start-pod.ts";
import { Balancer } from "../../src/balance/balancer.ts";
import { createEndpoint } from "../../src/balance/endpoint.ts";
import { createRoundRobinPicker } from "../../src/balance/picker.ts";
import type { SchemasConfig } from "../../src/config/gateway-config.ts";
import { DEFAULT_KEEPALIVE, DEFAULT_SCHEMAS } from "../../src/config/validate-config.ts";
import { greetRoutes } from "../../src/demo/greet-service.ts";
import { file_greet_v1_greet } from "../../src/gen/greet/v1/greet_pb.ts";
import { createLogger } from "../../src/log/logger.ts";
import { reflectionRoutes } from "../../src/reflection/reflection-routes.ts";
import { type BackendSchema, SchemaUnavailableError } from "../../src/schema/backend-schema.ts";
import { createBackendSchema, SCHEMA_RETRY_MS } from "../../src/schema/create-backend-schema.ts";
import type { UpstreamContext } from "../../src/upstream/call-upstream.ts";
import type { UpstreamClient } from "../../src/upstream/upstream-client.ts";
import { podRoutes } from "../support/harness.ts";
import type { ProbeLog } from "../support/probe-service.ts";
import { runCommand } from "../support/run-command.ts";

// The schema a backend's pods serve, learned the way the gateway learns it:
// over native gRPC through the gateway's own upstream client, from real pods
// serving reflection (v1, v1alpha, or none at all), or from a descriptor set
// that `buf build` makes.

const root = path.resolve(import.meta.dirname, "../..");
const buf = path.join(root, "node_modules/.bin/buf");

/** Runs a command in the project root that must succeed. */
async function run(command: string, args: readonly string[]): Promise<void> {
  const result = await runCommand(command, args, { cwd: root, timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")}: exit ${result.code}\n${result.stderr}`);
}

/** A pod serving greet.v1 only, with reflection of it. */
function greetOnly(name: string): (router: ConnectRouter) => void {
  const reflection = reflectionRoutes([file_greet_v1_greet]);
  return (router) => {
    greetRoutes(name)(router);
    reflection(router);
  };
}

interface Fixture {
  readonly schema: BackendSchema;
  readonly logs: string[];
  /** Reflection calls the gateway's upstream client sent. */
  readonly reflectionCalls: () => number;
  /** Fake clock, in ms. */
  advance(ms: number): void;
  /** Runs the pending background refresh, if one is scheduled; resolves once a load it started is over. */
  tick(): Promise<boolean>;
  readonly scheduled: () => number;
}

describe("backend schema", () => {
  const probes: ProbeLog = new Map();
  const pods: Pod[] = [];
  const clients: UpstreamClient[] = [];
  const schemas: BackendSchema[] = [];
  let tmp: string;
  let descriptorSet: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "edgegate-schema-"));
    descriptorSet = path.join(tmp, "x.binpb");
    await run(buf, ["build", "proto", "-o", descriptorSet]);
    await writeFile(path.join(tmp, "garbage.binpb"), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
  });

  afterEach(async () => {
    for (const schema of schemas.splice(0)) schema.close();
    await Promise.all(pods.splice(0).map((p) => p.close()));
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  async function pod(name: string, routes: (router: ConnectRouter) => void, port = 0): Promise<Pod> {
    const started = await startPod(name, routes, { host: "127.0.0.1", port });
    pods.push(started);
    return started;
  }

  function fixture(addresses: readonly string[], config: Partial<SchemasConfig> = {}): Fixture {
    const inner = nodeRuntime.createUpstreamClient({ keepalive: DEFAULT_KEEPALIVE });
    clients.push(inner);
    let reflectionCalls = 0;
    const client: UpstreamClient = {
      request: (request) => {
        if (request.url.endsWith("/ServerReflectionInfo")) reflectionCalls++;
        return inner.request(request);
      },
      retire: (origin) => inner.retire(origin),
      close: () => inner.close(),
    };
    let clock = 1_000_000;
    const upstream: UpstreamContext = {
      client,
      scheme: "http",
      compressions: nodeRuntime.compressions,
      readMaxBytes: 4 * 1024 * 1024,
      now: () => clock,
      acceptedByEndpoint: new Map(),
    };
    const balancer = new Balancer({ picker: createRoundRobinPicker(), now: () => clock, connectFailureCooldownMs: 1_000 });
    balancer.apply({
      added: addresses.map((a) => {
        const [host, port] = a.split(":");
        return createEndpoint(host ?? "", Number(port));
      }),
      removed: [],
    });
    const logs: string[] = [];
    const pending: Array<() => void> = [];
    let scheduled = 0;
    const schema = createBackendSchema({
      name: "pods",
      config: { ...DEFAULT_SCHEMAS, ...config },
      upstream,
      pick: () => balancer.pick(),
      readBytes: nodeRuntime.readBytes,
      now: () => clock,
      log: createLogger("debug", (line) => logs.push(line)),
      schedule: (runIt, ms) => {
        expect(ms).toBe(config.refreshMs ?? DEFAULT_SCHEMAS.refreshMs);
        scheduled++;
        pending.push(runIt);
        return () => {
          const i = pending.indexOf(runIt);
          if (i >= 0) pending.splice(i, 1);
        };
      },
    });
    schemas.push(schema);
    return {
      schema,
      logs,
      reflectionCalls: () => reflectionCalls,
      advance: (ms) => {
        clock += ms;
      },
      async tick() {
        const next = pending.shift();
        if (next === undefined) return false;
        const before = logs.length;
        next();
        // The refresh runs in the background: wait until it has logged its outcome.
        for (let i = 0; i < 200 && !logs.slice(before).some((l) => /"msg":"schema (loaded|reloaded|unchanged|refresh failed)/.test(l)); i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        return true;
      },
      scheduled: () => scheduled,
    };
  }

  const addressOf = (p: Pod) => `${p.address.host}:${p.address.port}`;

  async function unavailable(promise: Promise<unknown>): Promise<string> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SchemaUnavailableError);
    return (error as Error).message;
  }

  it("learns every service by reflection (v1) on first need, once", async () => {
    const p = await pod("pod-a", podRoutes("pod-a", probes));
    const f = fixture([addressOf(p)]);
    expect(f.reflectionCalls()).toBe(0);
    expect(f.schema.registry().getMessage("greet.v1.GreetRequest")).toBeUndefined();

    const greet = await f.schema.method("greet.v1.GreetService", "Greet");
    expect(greet?.input.typeName).toBe("greet.v1.GreetRequest");
    expect(greet?.output.typeName).toBe("greet.v1.GreetResponse");
    expect(greet?.idempotency).toBe(1); // NO_SIDE_EFFECTS survives the trip
    const probe = await f.schema.method("probe.v1.ProbeService", "ProbeBidi");
    expect(probe?.methodKind).toBe("bidi_streaming");
    expect(f.schema.registry().getMessage("probe.v1.ProbeDetail")?.typeName).toBe("probe.v1.ProbeDetail");
    expect((await f.schema.files()).map((file) => file.proto.name).sort()).toEqual([
      "google/protobuf/timestamp.proto",
      "greet/v1/greet.proto",
      "probe/v1/probe.proto",
    ]);
    expect(f.reflectionCalls()).toBe(1);
    const loaded = f.logs.filter((l) => l.includes('"msg":"schema loaded"'));
    expect(loaded).toHaveLength(1);
    expect(JSON.parse(loaded[0] ?? "{}")).toMatchObject({
      level: "info",
      backend: "pods",
      services: ["greet.v1.GreetService", "probe.v1.ProbeService"],
    });
  });

  it("asks with v1 first, and falls back to v1alpha on a pod that serves only v1alpha", async () => {
    const v1 = await pod("v1", (router) => {
      greetRoutes("v1")(router);
      reflectionRoutes([file_greet_v1_greet], { versions: ["v1"] })(router);
    });
    const f1 = fixture([addressOf(v1)]);
    expect((await f1.schema.method("greet.v1.GreetService", "Chat"))?.methodKind).toBe("bidi_streaming");
    expect(f1.reflectionCalls()).toBe(1);

    const alpha = await pod("alpha", (router) => {
      greetRoutes("alpha")(router);
      reflectionRoutes([file_greet_v1_greet], { versions: ["v1alpha"] })(router);
    });
    const f2 = fixture([addressOf(alpha)]);
    expect((await f2.schema.method("greet.v1.GreetService", "GreetStream"))?.methodKind).toBe("server_streaming");
    expect(f2.reflectionCalls()).toBe(2); // v1 (Unimplemented), then v1alpha
  });

  it("takes the schema from a descriptor set for pods without reflection", async () => {
    const p = await pod("bare", podRoutes("bare", probes, { reflection: false }));
    for (const reflection of [false, true]) {
      const f = fixture([addressOf(p)], { reflection, descriptorSets: [descriptorSet] });
      expect((await f.schema.method("probe.v1.ProbeService", "ProbeClientStream"))?.methodKind).toBe("client_streaming");
      expect((await f.schema.method("greet.v1.GreetService", "Greet"))?.name).toBe("Greet");
      // buf build includes every file of the module: the reflection protos too.
      expect((await f.schema.files()).map((file) => file.proto.name)).toContain("grpc/reflection/v1/reflection.proto");
      expect(f.reflectionCalls()).toBe(reflection ? 2 : 0);
      if (reflection) {
        expect(f.logs.some((l) => l.includes("schema from descriptor sets only") && l.includes("do not serve gRPC server reflection"))).toBe(true);
      }
    }
  });

  it("merges reflection and descriptor sets", async () => {
    const p = await pod("greeter", greetOnly("greeter"));
    const f = fixture([addressOf(p)], { descriptorSets: [descriptorSet] });
    // Probe comes from the set, greet from both (the set's file wins, by name).
    expect(await f.schema.method("probe.v1.ProbeService", "Probe")).toBeDefined();
    expect(await f.schema.method("greet.v1.GreetService", "Greet")).toBeDefined();
    expect(f.reflectionCalls()).toBe(1);
  });

  it("refreshes on a miss and finds a service a redeployed pod added", async () => {
    const first = await pod("pod-v1", greetOnly("pod-v1"));
    const port = first.address.port;
    const f = fixture([addressOf(first)]);
    expect(await f.schema.method("greet.v1.GreetService", "Greet")).toBeDefined();
    // Right after loading, a miss does not ask the pod again.
    expect(await f.schema.method("probe.v1.ProbeService", "Probe")).toBeUndefined();
    expect(f.reflectionCalls()).toBe(1);

    // The pod is redeployed on the same address, now serving probe.v1 too.
    await first.close();
    pods.splice(pods.indexOf(first), 1);
    await pod("pod-v2", podRoutes("pod-v2", probes), port);
    f.advance(SCHEMA_RETRY_MS);

    // Concurrent misses share one refresh.
    const found = await Promise.all([
      f.schema.method("probe.v1.ProbeService", "Probe"),
      f.schema.method("probe.v1.ProbeService", "ProbeStream"),
      f.schema.method("probe.v1.ProbeService", "ProbeBidi"),
    ]);
    expect(found.map((m) => m?.name)).toEqual(["Probe", "ProbeStream", "ProbeBidi"]);
    expect(f.reflectionCalls()).toBe(2);
    const reloaded = f.logs.filter((l) => l.includes('"msg":"schema reloaded"'));
    expect(JSON.parse(reloaded[0] ?? "{}")).toMatchObject({ services: ["greet.v1.GreetService", "probe.v1.ProbeService"] });

    // A method nobody serves: one more look after the interval, none before.
    expect(await f.schema.method("probe.v1.ProbeService", "Nope")).toBeUndefined();
    expect(f.reflectionCalls()).toBe(2);
    f.advance(SCHEMA_RETRY_MS);
    expect(await f.schema.method("probe.v1.ProbeService", "Nope")).toBeUndefined();
    expect(f.reflectionCalls()).toBe(3);
    // Same content: the same descriptors, and no info line.
    expect(await f.schema.method("probe.v1.ProbeService", "Probe")).toBe(found[0]);
    expect(f.logs.filter((l) => l.includes('"msg":"schema reloaded"'))).toHaveLength(1);
  });

  it("refreshes in the background every refreshMs, only once needed, until closed", async () => {
    const first = await pod("pod-v1", greetOnly("pod-v1"));
    const port = first.address.port;
    const f = fixture([addressOf(first)], { refreshMs: 60_000 });
    expect(f.scheduled()).toBe(0);
    expect(await f.schema.files()).toHaveLength(1);
    expect(f.scheduled()).toBe(1);

    await first.close();
    pods.splice(pods.indexOf(first), 1);
    await pod("pod-v2", podRoutes("pod-v2", probes), port);
    expect(await f.tick()).toBe(true);
    expect(f.reflectionCalls()).toBe(2);
    expect(f.schema.registry().getService("probe.v1.ProbeService")).toBeDefined();
    expect(f.scheduled()).toBe(2); // re-armed

    f.schema.close();
    expect(await f.tick()).toBe(false);
  });

  it("keeps the last schema when a refresh fails", async () => {
    const p = await pod("pod-a", greetOnly("pod-a"));
    const f = fixture([addressOf(p)]);
    const greet = await f.schema.method("greet.v1.GreetService", "Greet");
    await p.close();
    pods.splice(0);
    expect(await f.tick()).toBe(true);
    expect(f.logs.some((l) => l.includes("schema refresh failed, keeping the last schema"))).toBe(true);
    expect(await f.schema.method("greet.v1.GreetService", "Greet")).toBe(greet);
  });

  describe("when no schema can be had", () => {
    it("says how to configure one when reflection is off and no descriptor set is given", async () => {
      const f = fixture(["127.0.0.1:1"], { reflection: false });
      const message = await unavailable(f.schema.method("greet.v1.GreetService", "Greet"));
      expect(message).toBe(
        'backend "pods" has no schema: reflection is off and no descriptor set is configured; ' +
          "set backends[].schemas.reflection: true for pods that serve grpc.reflection, " +
          "or backends[].schemas.descriptorSets: [x.binpb] with a file made by `buf build -o x.binpb`",
      );
      expect(await unavailable(f.schema.files())).toBe(message);
      expect(f.scheduled()).toBe(0);
    });

    it("says the pods do not serve reflection, and how to give a descriptor set", async () => {
      const p = await pod("bare", podRoutes("bare", probes, { reflection: false }));
      const f = fixture([addressOf(p)]);
      const message = await unavailable(f.schema.method("greet.v1.GreetService", "Greet"));
      expect(message).toContain('backend "pods" has no schema: its pods do not serve gRPC server reflection');
      expect(message).toContain("backends[].schemas.descriptorSets: [x.binpb]");
      expect(message).toContain("buf build -o x.binpb");
      expect(f.reflectionCalls()).toBe(2);
      // Failures are retried, but not on every call.
      expect(await unavailable(f.schema.files())).toBe(message);
      expect(f.reflectionCalls()).toBe(2);
      f.advance(SCHEMA_RETRY_MS);
      expect(await unavailable(f.schema.files())).toBe(message);
      expect(f.reflectionCalls()).toBe(4);
    });

    it("names a descriptor set that cannot be read or is not one", async () => {
      const missing = path.join(tmp, "missing.binpb");
      const f1 = fixture([], { reflection: false, descriptorSets: [missing] });
      expect(await unavailable(f1.schema.method("greet.v1.GreetService", "Greet"))).toMatch(
        new RegExp(`^descriptor set "${missing}" of backend "pods" cannot be read: .*ENOENT`),
      );
      const garbage = path.join(tmp, "garbage.binpb");
      const f2 = fixture([], { reflection: false, descriptorSets: [garbage] });
      expect(await unavailable(f2.schema.files())).toMatch(
        new RegExp(`^descriptor set "${garbage}" of backend "pods" is not a FileDescriptorSet \\(make one with \`buf build -o x.binpb\`\\)`),
      );
      // A bad descriptor set is the operator's error: reflection working does not hide it.
      const p = await pod("pod-a", greetOnly("pod-a"));
      const f3 = fixture([addressOf(p)], { descriptorSets: [garbage] });
      expect(await unavailable(f3.schema.files())).toContain(`descriptor set "${garbage}"`);
    });

    it("names a descriptor set built without its imports", async () => {
      const partial = path.join(tmp, "partial.binpb");
      await run(buf, ["build", "proto", "--path", "proto/greet", "--exclude-imports", "-o", partial]);
      const ok = fixture([], { reflection: false, descriptorSets: [partial] });
      expect(await ok.schema.method("greet.v1.GreetService", "Greet")).toBeDefined(); // greet imports nothing

      // A set whose file imports one it lacks (and no well-known type).
      const { FileDescriptorSetSchema, FileDescriptorProtoSchema } = await import("@bufbuild/protobuf/wkt");
      const { create, toBinary } = await import("@bufbuild/protobuf");
      const lacking = path.join(tmp, "lacking.binpb");
      await writeFile(
        lacking,
        toBinary(
          FileDescriptorSetSchema,
          create(FileDescriptorSetSchema, {
            file: [
              create(FileDescriptorProtoSchema, { name: "a.proto", package: "a", dependency: ["b.proto"], syntax: "proto3" }),
            ],
          }),
        ),
      );
      const f = fixture([], { reflection: false, descriptorSets: [lacking] });
      expect(await unavailable(f.schema.files())).toBe(
        `descriptor set "${lacking}" of backend "pods" lacks b.proto, imported by a.proto ` +
          "(build it with its imports: `buf build -o x.binpb` without --exclude-imports)",
      );
    });

    it("says when there is no pod to ask, or the pod cannot be reached", async () => {
      const none = fixture([]);
      expect(await unavailable(none.schema.method("greet.v1.GreetService", "Greet"))).toBe(
        'backend "pods" has no schema yet: no endpoint is available to ask for reflection',
      );
      const gone = await pod("gone", greetOnly("gone"));
      await gone.close();
      pods.splice(0);
      const refused = fixture([addressOf(gone)]);
      expect(await unavailable(refused.schema.files())).toBe(
        'backend "pods" has no schema: asking a pod for reflection failed: upstream unavailable: connection refused',
      );
    });
  });
});
