// Starts demo pods in their own process (so they do not share a core with the
// load generator) and prints their addresses as one JSON line.
import { startPod } from "../src/adapter/node/start-pod.ts";
import { greetRoutes } from "../src/demo/greet-service.ts";

const count = Number(process.argv[2] ?? "3");
const pods = await Promise.all(
  Array.from({ length: count }, (_, i) => startPod(`pod-${i}`, greetRoutes(`pod-${i}`))),
);
process.stdout.write(`${JSON.stringify(pods.map((p) => `${p.address.host}:${p.address.port}`))}\n`);
process.on("SIGTERM", () => process.exit(0));
