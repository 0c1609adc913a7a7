import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { ProbeRequestSchema, ProbeService } from "../../src/gen/probe/v1/probe_pb.ts";
import { createGrpcJsClient, grpcJsUnary } from "../support/grpc-js-client.ts";
import { type Harness, startHarness } from "../support/harness.ts";
import { Flags, FrameType, type RawStreamFrames, rawGrpcCall } from "../support/raw-h2.ts";
import { createTestPki } from "../support/test-pki.ts";
import { bufCurlClient } from "./clients/buf-curl-client.ts";
import { connectEsClient } from "./clients/connect-es-client.ts";
import { closeConnectWebBrowser, connectWebClient, connectWebCors } from "./clients/connect-web-client.ts";
import { grpcGoClient, prepareGrpcGoClient } from "./clients/grpc-go-client.ts";
import { grpcJsClient } from "./clients/grpc-js-client.ts";
import type { CaseOutcome, InteropCase, InteropClient, InteropTarget } from "./clients/interop-client.ts";
import { knownGap } from "./known-gaps.ts";
import type { PodStack, StackPod } from "./stacks/pod-stack.ts";

/** A client of the matrix, and how it can be used beside the gateway. */
interface MatrixClient {
  readonly client: InteropClient;
  /**
   * It speaks native gRPC over h2c, so the same cases can run straight
   * against a pod as the control (issue 14: a case may fail through the
   * gateway only if it also fails directly).
   */
  readonly direct: boolean;
}

/** Cases run once more over TLS to the gateway (ALPN h2, or HTTP/1.1 for the clients that choose it). */
const tlsCases: readonly InteropCase[] = ["empty_unary", "server_streaming", "status_code_and_message", "error_details"];

/** The name the gateway's TLS certificate carries; clients send it as SNI and check it. */
const SERVER_NAME = "interop.edgegate.test";

/**
 * Every client of the matrix for one stack. buf curl over gRPC learns the
 * schema by reflection through the gateway (the gateway answers it from the
 * pods' reflection, or from the descriptor set of a stack without one), and
 * can call a pod directly only when the stack has reflection itself.
 */
function matrixClients(stack: PodStack): MatrixClient[] {
  return [
    { client: grpcJsClient, direct: true },
    { client: grpcGoClient, direct: true },
    { client: connectEsClient("grpc"), direct: true },
    { client: connectEsClient("connect"), direct: false },
    { client: connectEsClient("connect", { httpVersion: "2", json: true }), direct: false },
    { client: connectEsClient("grpc-web", { httpVersion: "1.1" }), direct: false },
    { client: bufCurlClient("grpc", { reflect: true }), direct: stack.reflection },
    { client: bufCurlClient("connect"), direct: false },
    { client: bufCurlClient("grpcweb"), direct: false },
    { client: connectWebClient("connect-json"), direct: false },
    { client: connectWebClient("connect-binary"), direct: false },
    { client: connectWebClient("grpc-web"), direct: false },
  ];
}

/** One row of the matrix's table: a case of a client against a stack. */
export interface MatrixRow {
  readonly stack: string;
  readonly client: string;
  readonly case: InteropCase | `tls:${InteropCase}`;
  readonly gateway: CaseOutcome;
  readonly direct: CaseOutcome | undefined;
  readonly gap: string | undefined;
}

const resultsDir = resolve(import.meta.dirname, "../../node_modules/.cache/edgegate-interop/results");

/**
 * The interop matrix for one pod stack (test/interop/README.md): two pods of
 * the stack behind a gateway with an h2c and a TLS listener; every client
 * runs its cases through the gateway and, where it speaks native gRPC,
 * directly against a pod. Each case is a test: it passes through the
 * gateway, or it is a documented gap (known-gaps.ts) that fails directly
 * too. The rows are written to node_modules/.cache/edgegate-interop/results/
 * and printed as a table.
 */
export function describeInteropMatrix(stack: PodStack, prepare: () => Promise<void> = async () => {}): void {
  describe(`interop matrix: ${stack.id} pods`, () => {
    let pods: StackPod[] = [];
    let harness: Harness | undefined;
    let dir: string | undefined;
    let skipped: string | undefined;
    let plain: InteropTarget;
    let secure: InteropTarget;
    const rows: MatrixRow[] = [];

    beforeAll(async () => {
      await Promise.all([prepare(), prepareGrpcGoClient()]);
      skipped = stack.unavailable();
      if (skipped !== undefined) {
        console.info(`interop matrix: ${stack.id} pods skipped: ${skipped}`);
        return;
      }
      pods = await Promise.all([stack.start(`${stack.id}-a`), stack.start(`${stack.id}-b`)]);
      const pki = await createTestPki();
      dir = await mkdtemp(join(tmpdir(), "edgegate-interop-"));
      const files = await pki.writeFiles(dir, "gateway", await pki.issue([SERVER_NAME]));
      const caFile = join(dir, "ca.crt");
      await writeFile(caFile, pki.ca.certPem);
      const cors = await connectWebCors();
      harness = await startHarness({
        pods: 0,
        config: {
          listeners: [{ address: "127.0.0.1:0" }, { address: "127.0.0.1:0", tls: { certificates: [files] } }],
          routes: [{ services: ["probe.v1.", "grpc.health.v1."], backend: "pods", cors }],
          backends: [
            {
              name: "pods",
              balancer: "round_robin",
              discovery: { static: { endpoints: pods.map((p) => p.address) } },
              ...(stack.schemas === undefined
                ? {}
                : { schemas: { reflection: stack.reflection, descriptorSets: [stack.schemas] } }),
            },
          ],
        },
      });
      const [h2c, tls] = harness.gateway.listeners;
      plain = { address: `127.0.0.1:${h2c?.port}` };
      secure = { address: `127.0.0.1:${tls?.port}`, tls: { caFile, serverName: SERVER_NAME } };
    }, 120_000);

    afterAll(async () => {
      await harness?.close();
      await Promise.all(pods.map((p) => p.close()));
      await closeConnectWebBrowser();
      if (dir !== undefined) {
        await rm(dir, { recursive: true, force: true });
      }
      if (rows.length > 0) {
        await mkdir(resultsDir, { recursive: true });
        await writeFile(join(resultsDir, `${stack.id}.json`), JSON.stringify(rows, null, 1));
        console.info(matrixTable(stack.id, rows));
      }
    });

    // The wire itself, where the protocols agree (gRPC in, gRPC out): the
    // gateway's frames of a call are the pod's frames of the same call.
    describe("frames (raw HTTP/2 client, straight to a pod and through the gateway)", () => {
      const call = async (address: string, request: MessageInitShape<typeof ProbeRequestSchema>, path = "/probe.v1.ProbeService/Probe") =>
        rawGrpcCall(address, path, toBinary(ProbeRequestSchema, create(ProbeRequestSchema, request)));
      const shape = (r: RawStreamFrames) => r.frames.map((f) => `${frameName(f.type)}${(f.flags & Flags.END_STREAM) !== 0 ? "+END_STREAM" : ""}`);

      it("an error leaves the gateway framed as the pod framed it (Trailers-Only: ONE HEADERS frame with END_STREAM)", async (context) => {
        if (skipped !== undefined) {
          context.skip(skipped);
          return;
        }
        const request = { failCode: 5, failMessage: "not here" };
        const direct = await call(pods[0]?.address ?? "", request);
        const through = await call(plain.address, request);
        expect(shape(through)).toEqual(shape(direct));
        if (stack.id !== "connect-node") {
          // Every gRPC stack we did not write answers an error without messages as Trailers-Only.
          expect(shape(direct)).toEqual(["HEADERS+END_STREAM"]);
        }
      });

      it("the gateway's own error (no route) is Trailers-Only", async (context) => {
        if (skipped !== undefined) {
          context.skip(skipped);
          return;
        }
        expect(shape(await call(plain.address, {}, "/no.route.v1.Service/Method"))).toEqual(["HEADERS+END_STREAM"]);
      });

      it("response headers the pod sends before a slow first message reach the client before it too", async (context) => {
        if (skipped !== undefined) {
          context.skip(skipped);
          return;
        }
        const slowMs = 500;
        const request = { count: 1, sleepMs: slowMs, responseHeaders: { "x-early": "yes" } };
        const path = "/probe.v1.ProbeService/ProbeStream";
        const direct = await call(pods[0]?.address ?? "", request, path);
        const through = await call(plain.address, request, path);
        expect(shape(through)).toEqual(shape(direct));
        const early = (r: RawStreamFrames) => (r.at[0] ?? slowMs) < slowMs / 2;
        expect(early(through), `headers at ${through.at[0]} ms through the gateway, ${direct.at[0]} ms directly`).toBe(early(direct));
        if (stack.id === "grpc-go" || stack.id === "python" || stack.id === "grpc-js") {
          // These stacks send headers at once when the handler sets them before sleeping.
          expect(early(direct)).toBe(true);
        }
      });
    });

    describe("compression on the wire", () => {
      it("an answer the pod compressed reaches a client that accepts gzip still compressed, as directly", async (context) => {
        if (skipped !== undefined) {
          context.skip(skipped);
          return;
        }
        // A gzip request (grpc-go 1.33 compresses only then) asking for a gzip answer
        // (grpcio does it per call); a 64 KiB payload, over any stack's threshold.
        const request = toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { payloadSize: 65_536, responseCompression: "gzip" }));
        const headers = { "grpc-encoding": "gzip", "grpc-accept-encoding": "gzip" };
        const flags = async (address: string) => {
          const { frames } = await rawGrpcCall(address, "/probe.v1.ProbeService/Probe", request, headers, 5_000, { gzip: true });
          const data = frames.filter((f) => f.type === FrameType.DATA && f.payload.length > 0);
          return { compressed: data[0]?.payload[0] === 1, ended: frames.at(-1)?.type === FrameType.HEADERS };
        };
        const direct = await flags(pods[0]?.address ?? "");
        expect(direct.ended).toBe(true);
        // The gateway sends a compressed request on compressed only to a pod that has said it accepts
        // gzip (grpc-accept-encoding of an earlier answer); until then it sends it decoded, and
        // grpc-go 1.33 then answers uncompressed. After one answer from each of the two pods:
        await flags(plain.address);
        await flags(plain.address);
        const through = await flags(plain.address);
        if (stack.id === "grpc-go") {
          // Documented: grpc-go 1.33 never sends grpc-accept-encoding, so the gateway never
          // learns it takes gzip, sends every request decoded, and grpc-go answers those plain.
          expect(through).toEqual({ compressed: false, ended: true });
        } else {
          expect(through).toEqual(direct);
        }
        if (stack.id === "grpc-go" || stack.id === "python") {
          expect(direct.compressed).toBe(true);
        }
      });
    });

    describe("metadata lines", () => {
      it("a -bin key a client sends twice reaches the pod as two values, as it does directly", async (context) => {
        if (skipped !== undefined) {
          context.skip(skipped);
          return;
        }
        const seenBy = async (address: string) => {
          const client = createGrpcJsClient(ProbeService, address);
          try {
            const metadata = new grpc.Metadata();
            metadata.add("x-twice-bin", Buffer.from([1, 2]));
            metadata.add("x-twice-bin", Buffer.from([3]));
            const outcome = await grpcJsUnary(client, ProbeService.method.probe, {}, metadata, { deadline: Date.now() + 10_000 });
            expect(outcome.error?.message).toBeUndefined();
            const value = outcome.response?.requestHeaders["x-twice-bin"] ?? "";
            return value.split(",").map((part) => [...Buffer.from(part.trim(), "base64")]);
          } finally {
            client.close();
          }
        };
        const direct = await seenBy(pods[0]?.address ?? "");
        expect(direct).toEqual([[1, 2], [3]]);
        expect(await seenBy(plain.address)).toEqual(direct);
      });
    });

    for (const { client, direct } of matrixClients(stack)) {
      describe(client.id, () => {
        const through = new Map<string, CaseOutcome>();
        const control = new Map<string, CaseOutcome>();
        let clientSkipped: string | undefined;

        beforeAll(async () => {
          clientSkipped = skipped ?? client.unavailable();
          if (clientSkipped !== undefined) {
            return;
          }
          for (const outcome of await client.run(plain, client.cases)) {
            through.set(outcome.case, outcome);
          }
          const overTls = tlsCases.filter((c) => client.cases.includes(c));
          for (const outcome of await client.run(secure, overTls)) {
            through.set(`tls:${outcome.case}`, outcome);
          }
          if (direct) {
            const pod = pods[0];
            if (pod !== undefined) {
              for (const outcome of await client.run({ address: pod.address }, client.cases)) {
                control.set(outcome.case, outcome);
              }
            }
          }
        }, 240_000);

        const names = [...client.cases, ...tlsCases.filter((c) => client.cases.includes(c)).map((c) => `tls:${c}` as const)];
        for (const name of names) {
          it(name, (context) => {
            if (clientSkipped !== undefined) {
              context.skip(clientSkipped);
              return;
            }
            const outcome = through.get(name);
            const directOutcome = control.get(name.replace(/^tls:/, ""));
            const gap = knownGap(stack.id, client.id, name);
            rows.push({
              stack: stack.id,
              client: client.id,
              case: name,
              gateway: outcome ?? { case: name.replace(/^tls:/, "") as InteropCase, ok: false, detail: "no outcome" },
              direct: directOutcome,
              gap: gap?.reason,
            });
            expect(outcome, `${client.id} reported nothing for ${name}`).toBeDefined();
            if (outcome?.ok === true) {
              expect(gap, `documented gap ${stack.id} × ${client.id} × ${name} passes now: remove it from known-gaps.ts`).toBeUndefined();
              return;
            }
            expect(gap, `${name} through the gateway: ${outcome?.detail} (direct: ${directOutcome === undefined ? "not run" : directOutcome.ok ? "ok" : directOutcome.detail})`).toBeDefined();
            // Where the control ran, the case must fail there too: the gateway may not break what works without it.
            if (directOutcome !== undefined) {
              expect(directOutcome.ok, `${name} fails through the gateway but passes directly: ${outcome?.detail}`).toBe(false);
            }
          });
        }
      });
    }
  });
}

function frameName(type: number): string {
  return Object.entries(FrameType).find(([, value]) => value === type)?.[0] ?? `type ${type}`;
}

/** The matrix of one stack as a Markdown table: a row per client, a column per case. */
export function matrixTable(stack: string, rows: readonly MatrixRow[]): string {
  const cases = [...new Set(rows.map((r) => r.case))];
  const clients = [...new Set(rows.map((r) => r.client))];
  const cell = (row: MatrixRow | undefined) =>
    row === undefined ? "–" : row.gateway.ok ? (row.direct === undefined ? "✓" : row.direct.ok ? "✓✓" : "✓(✗)") : row.gap !== undefined ? "gap" : "✗";
  const lines = [`interop matrix, ${stack} pods (✓ through the gateway; ✓✓ also directly; – not expressible)`];
  lines.push(`| client | ${cases.join(" | ")} |`, `|---|${cases.map(() => "---").join("|")}|`);
  for (const client of clients) {
    lines.push(`| ${client} | ${cases.map((c) => cell(rows.find((r) => r.client === client && r.case === c))).join(" | ")} |`);
  }
  return lines.join("\n");
}
