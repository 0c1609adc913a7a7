import type { DescFile } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.ts";
import { ServerReflection as ServerReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import {
  answerReflectionStream,
  answerReflectionStreamV1alpha,
  indexReflectionFiles,
} from "./answer-reflection.ts";

/** Which reflection versions to register; both by default, as gRPC's own servers do. */
export interface ReflectionRoutesOptions {
  readonly versions?: readonly ("v1" | "v1alpha")[];
}

/**
 * Routes serving gRPC server reflection (`grpc.reflection.v1.ServerReflection`
 * and `grpc.reflection.v1alpha.ServerReflection`) for the given files and
 * their imports, so `buf curl --reflect`, grpcurl and the gateway can learn
 * what a pod serves. The answers cover exactly these files: the reflection
 * service itself is not listed unless its file is passed.
 */
export function reflectionRoutes(
  files: readonly DescFile[],
  options: ReflectionRoutesOptions = {},
): (router: ConnectRouter) => void {
  const index = indexReflectionFiles(files);
  const versions = options.versions ?? ["v1", "v1alpha"];
  return (router) => {
    if (versions.includes("v1")) {
      router.service(ServerReflection, {
        serverReflectionInfo: (requests) => answerReflectionStream(() => index, requests),
      });
    }
    if (versions.includes("v1alpha")) {
      router.service(ServerReflectionV1alpha, {
        serverReflectionInfo: (requests) => answerReflectionStreamV1alpha(() => index, requests),
      });
    }
  };
}
