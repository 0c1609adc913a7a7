import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";

/**
 * Services whose schema is fixed by gRPC itself, so the gateway knows them
 * without asking the pods. A pod often serves `grpc.health.v1.Health`
 * without listing it in its reflection (a grpc-js pod with
 * `grpc-health-check` beside `@grpc/reflection` built from the app's own
 * protos, issue 14), and then a browser's JSON health check had no schema.
 * A backend's own schema wins where it has the service.
 */
const standardServices: ReadonlyMap<string, DescService> = new Map([[Health.typeName, Health]]);

/** The method of a standard gRPC service, or `undefined`. */
export function standardServiceMethod(service: string, method: string): DescMethod | undefined {
  return standardServices.get(service)?.methods.find((m) => m.name === method);
}
