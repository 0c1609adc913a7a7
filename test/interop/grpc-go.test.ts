import { describeInteropMatrix } from "./interop-matrix.ts";
import { grpcGoStack, prepareGrpcGo } from "./stacks/grpc-go.ts";

// grpc-go pods (Debian's grpc-go 1.33 on Go 1.19, built by the test setup).
describeInteropMatrix(grpcGoStack, prepareGrpcGo);
