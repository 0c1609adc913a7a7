import { describeInteropMatrix } from "./interop-matrix.ts";
import { preparePython, pythonStack } from "./stacks/python.ts";

// Python pods (Debian's python3-grpcio 1.51); no reflection there, so the gateway gets a descriptor set.
describeInteropMatrix(pythonStack, preparePython);
