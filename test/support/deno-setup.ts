import { beforeEach } from "vitest";
import { gatewaysRestarted } from "./harness.ts";

// The deno project's setup: before each test, and each retry, wait for a gateway process the
// harness is starting again after a Deno crash (docs/deno.md, nghttp2-goaway-abort).
beforeEach(() => gatewaysRestarted());
