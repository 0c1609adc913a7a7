import { defineConfig } from "vitest/config";

/** Suites that never start a gateway: they test the test doubles, or the schema loader in process on Node's runtime. */
const withoutGateway = [
  "test/e2e/fake-kube-api.test.ts",
  "test/e2e/fake-dns-server.test.ts",
  "test/e2e/test-pki.test.ts",
  "test/e2e/pod-reflection.test.ts",
  "test/e2e/backend-schema.test.ts",
  "test/e2e/kubernetes-forbidden.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // End-to-end suites bind real sockets and spawn buf; one file at a time per worker is plenty on 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
    // The interop matrix's Go binaries and Python code, built once per run (test/interop).
    globalSetup: ["test/interop/global-setup.ts"],
    projects: [
      {
        extends: true,
        test: { name: "node", include: ["src/**/*.spec.ts", "test/**/*.test.ts"] },
      },
      {
        // The same end-to-end suites again, with every gateway they start an
        // `edgegate serve` process under Deno (test/support/gateway-runtime.ts).
        extends: true,
        test: {
          name: "deno",
          include: ["test/e2e/**/*.test.ts", "test/browser/**/*.test.ts", "test/fuzz/hostile-network.test.ts"],
          exclude: withoutGateway,
          env: { EDGEGATE_TEST_RUNTIME: "deno" },
          setupFiles: ["test/support/deno-setup.ts"],
          // Two rare, random failures (docs/deno.md): Deno 2.9's node:http2 crashes when a GOAWAY
          // meets streams in flight, and a test client on Node 24.21 can read a whole response as
          // "Premature close" (nodejs/node#65677). A test that fails once is run again; vitest
          // reports the retry, and a second failure fails the run. A gateway the crash killed is
          // started again on the same ports before the next test.
          retry: 1,
        },
      },
    ],
  },
});
