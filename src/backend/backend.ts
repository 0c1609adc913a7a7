import { Balancer, type Lease } from "../balance/balancer.ts";
import { createLeastRequestPicker, createRoundRobinPicker } from "../balance/picker.ts";
import type { CallRequest } from "../call/call-request.ts";
import type { CallResult } from "../call/call-result.ts";
import type { BackendConfig } from "../config/gateway-config.ts";
import type { EndpointSource } from "../discovery/endpoint-source.ts";
import type { BackendSchema } from "../schema/backend-schema.ts";
import type { UpstreamContext } from "../upstream/call-upstream.ts";
import { sendCall } from "../upstream/send-call.ts";

/** A named group of pods: its discovery source, its balancer, its schema, and the way calls reach it. */
export interface Backend {
  readonly name: string;
  readonly config: BackendConfig;
  /** The protobuf schema its pods serve, loaded on first need (JSON, Connect GET, reflection). */
  readonly schema: BackendSchema;
  readonly balancer: Balancer;
  readonly source: EndpointSource;
  /** Sends a call to one of the backend's endpoints, picked for this call alone. */
  call(call: CallRequest, signal: AbortSignal, deadlineAt: number | undefined): Promise<CallResult>;
  close(): void;
}

/** Time an endpoint that refused a connection is passed over while others remain. */
const connectFailureCooldownMs = 1_000;

/**
 * Builds a backend from its config: subscribes the balancer to the source,
 * and retires an endpoint's upstream sessions once it has left and its last
 * call has ended.
 */
export function createBackend(
  config: BackendConfig,
  source: EndpointSource,
  upstream: UpstreamContext,
  makeSchema: (pick: () => Lease | undefined) => BackendSchema,
): Backend {
  const balancer = new Balancer({
    picker: config.balancer === "least_request" ? createLeastRequestPicker() : createRoundRobinPicker(),
    now: upstream.now,
    connectFailureCooldownMs,
    onEndpointRetired: (endpoint) => {
      upstream.client.retire(`${upstream.scheme}://${endpoint.address}`);
      upstream.acceptedByEndpoint.delete(endpoint.address);
    },
  });
  const unsubscribe = source.subscribe((change) => balancer.apply(change));
  const schema = makeSchema(() => balancer.pick());
  return {
    name: config.name,
    config,
    schema,
    balancer,
    source,
    call: (call, signal, deadlineAt) =>
      sendCall({ backend: config.name, balancer, upstream, retry: config.retry }, call, signal, deadlineAt),
    close() {
      unsubscribe();
      source.close();
      schema.close();
    },
  };
}
