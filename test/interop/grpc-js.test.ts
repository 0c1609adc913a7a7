import { describeInteropMatrix } from "./interop-matrix.ts";
import { grpcJsStack } from "./stacks/grpc-js.ts";

// grpc-js pods (@grpc/grpc-js, @grpc/reflection, grpc-health-check from npm), as users write them.
describeInteropMatrix(grpcJsStack);
