import { ConnectError } from "@connectrpc/connect";

/** Runs a call that must fail and returns its error as a ConnectError; a success fails the test. */
export async function callError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}
