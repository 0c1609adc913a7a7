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

/** Runs `call` `times` times, one after another: what each answered, or the ConnectError it failed with. */
export async function outcomesOf<T>(times: number, call: () => Promise<T>): Promise<(T | ConnectError)[]> {
  const outcomes: (T | ConnectError)[] = [];
  for (let i = 0; i < times; i++) {
    try {
      outcomes.push(await call());
    } catch (e) {
      outcomes.push(ConnectError.from(e));
    }
  }
  return outcomes;
}
