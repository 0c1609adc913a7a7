import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.spec.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // End-to-end suites bind real sockets and spawn buf; one file at a time per worker is plenty on 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
