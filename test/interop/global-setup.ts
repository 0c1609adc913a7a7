import { buildGoBinaries } from "./stacks/go/build-go.ts";
import { preparePython } from "./stacks/python.ts";

/**
 * Builds the interop matrix's Go binaries and generates its Python code
 * once per test run, before any test file starts (issue 14: keep the suite
 * inside CI's time). Each matrix file still awaits the same functions; they
 * then find the cached results in node_modules/.cache/edgegate-interop and
 * return at once. A missing package is no error here (the stack's rows are
 * skipped, saying why); a build that fails with the packages installed is.
 */
export default async function setup(): Promise<void> {
  const started = Date.now();
  await Promise.all([buildGoBinaries(), preparePython()]);
  console.info(`interop stacks prepared in ${Date.now() - started} ms`);
}
