import type { Endpoint } from "./endpoint.ts";

/**
 * A balancing policy: picks one endpoint for one call. Pickers see only the
 * candidates (never an empty list) and the calls in flight per endpoint, so a
 * new policy is one small file.
 */
export interface Picker {
  pick(candidates: readonly Endpoint[], inFlight: (endpoint: Endpoint) => number): Endpoint;
}

/**
 * `round_robin`: exact rotation over the candidates. The position survives
 * endpoint-set changes, so a new pod joins the rotation at once.
 */
export function createRoundRobinPicker(): Picker {
  let next = 0;
  return {
    pick(candidates) {
      const endpoint = candidates[next % candidates.length] as Endpoint;
      next = (next + 1) % 0x7fffffff;
      return endpoint;
    },
  };
}

/**
 * `least_request`: the power of two choices — two distinct random
 * candidates, the one with fewer calls in flight wins. Nearly as good as a
 * full scan at O(1), and it never herds every new call onto the one endpoint
 * that just became least loaded (Mitzenmacher, "The Power of Two Choices").
 */
export function createLeastRequestPicker(random: () => number = Math.random): Picker {
  return {
    pick(candidates, inFlight) {
      const n = candidates.length;
      const i = Math.floor(random() * n);
      if (n === 1) {
        return candidates[i] as Endpoint;
      }
      const j = (i + 1 + Math.floor(random() * (n - 1))) % n;
      const a = candidates[i] as Endpoint;
      const b = candidates[j] as Endpoint;
      return inFlight(b) < inFlight(a) ? b : a;
    },
  };
}
