import { describeInteropMatrix } from "./interop-matrix.ts";
import { connectNodeStack } from "./stacks/connect-node.ts";

// The reference row: our own connect-node pods, held to the same cases as the stacks we did not write.
describeInteropMatrix(connectNodeStack);
