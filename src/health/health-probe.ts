import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { HealthCheckConfig } from "../config/gateway-config.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import type { UpstreamContext } from "../upstream/call-upstream.ts";
import { describeConnectFailure } from "../upstream/describe-connect-failure.ts";
import type { HealthProbe } from "./health-checker.ts";
import { podTransport } from "../upstream/pod-transport.ts";

/**
 * A probe that asks an endpoint `grpc.health.v1.Health/Check {service}`
 * over native gRPC, through the backend's upstream client: the same HTTP/2
 * session (and TLS) as the calls, so a check fails when calls would. The
 * deadline goes up as `grpc-timeout` so the pod can give up too.
 */
export function createHealthProbe(upstream: UpstreamContext, config: HealthCheckConfig): HealthProbe {
  return async (endpoint, signal) => {
    const transport = podTransport(upstream, endpoint);
    try {
      const response = await createClient(Health, transport).check(
        { service: config.service },
        { timeoutMs: config.timeoutMs, signal },
      );
      return response.status === HealthCheckResponse_ServingStatus.SERVING
        ? { passed: true }
        : { passed: false, reason: `status ${statusName(response.status)}` };
    } catch (e) {
      return { passed: false, reason: describeCheckFailure(ConnectError.from(e), config) };
    }
  };
}

function statusName(status: number): string {
  const entry = Object.entries(HealthCheckResponse_ServingStatus).find(([, value]) => value === status);
  return entry?.[0] ?? String(status);
}

/** Why a check failed, in words an operator can act on. */
function describeCheckFailure(error: ConnectError, config: HealthCheckConfig): string {
  switch (error.code) {
    case Code.Unimplemented:
      return "the pod does not serve grpc.health.v1.Health (Unimplemented)";
    case Code.NotFound:
      return `the pod does not know the service "${config.service}" (NotFound)`;
    case Code.DeadlineExceeded:
      return `no answer within ${config.timeoutMs} ms`;
    case Code.Unavailable:
    case Code.Unknown: {
      const described = describeConnectFailure(error);
      if (described !== "upstream unavailable: connection failed") {
        return described;
      }
      return `${Code[error.code]}: ${error.rawMessage}`;
    }
    default:
      return `${Code[error.code]}: ${error.rawMessage}`;
  }
}
