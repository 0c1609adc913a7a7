import { startPod } from "../../../src/adapter/node/start-pod.ts";
import { file_grpc_health_v1_health, HealthCheckResponse_ServingStatus } from "../../../src/gen/grpc/health/v1/health_pb.ts";
import { file_probe_v1_probe } from "../../../src/gen/probe/v1/probe_pb.ts";
import { createPodHealth, healthRoutes } from "../../../src/health/health-routes.ts";
import { reflectionRoutes } from "../../../src/reflection/reflection-routes.ts";
import { type ProbeLog, probeRoutes } from "../../support/probe-service.ts";
import type { PodStack } from "./pod-stack.ts";

/**
 * The reference stack: connect-node pods of ours (test/support/probe-service.ts),
 * in this process, with health for the server and the probe service and
 * reflection of both files. It is the row every other stack is held to.
 */
export const connectNodeStack: PodStack = {
  id: "connect-node",
  reflection: true,
  // connect-node compresses an answer when the client accepts it and it is
  // large enough, per server, not per call.
  perCallResponseCompression: false,
  unavailable: () => undefined,
  async start(name) {
    const probes: ProbeLog = new Map();
    const health = createPodHealth();
    health.set(HealthCheckResponse_ServingStatus.SERVING, "probe.v1.ProbeService");
    const reflection = reflectionRoutes([file_probe_v1_probe, file_grpc_health_v1_health]);
    const pod = await startPod(name, (router) => {
      probeRoutes(name, probes)(router);
      healthRoutes(health)(router);
      reflection(router);
    });
    return {
      stack: "connect-node",
      name,
      address: `${pod.address.host}:${pod.address.port}`,
      close: () => pod.close(),
    };
  },
};
