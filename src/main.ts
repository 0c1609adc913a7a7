import { runCli } from "./adapter/node/cli.ts";

// A log reader that goes away (a closed pipe: EPIPE) must not take the gateway
// and the calls in flight down with it; the lines written after that are lost.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", () => {});
}

process.exitCode = await runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
