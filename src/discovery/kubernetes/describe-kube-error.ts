/**
 * One line for a log about a failed list or watch of `resource` (as RBAC
 * names it: `endpointslices.discovery.k8s.io`, `secrets`; see
 * `rbacResourceOfPath`). client-node reports a
 * failed list as an ApiException (`code` plus the Status body), a failed
 * watch request as an Error with `statusCode`, a dropped or refused
 * connection as a fetch error whose `cause` names the socket problem; this
 * turns each into something an operator can act on, and never includes
 * request headers (the bearer token).
 */
export function describeKubeError(error: unknown, resource: string): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const fields = error as Error & { body?: unknown; cause?: unknown };
  const status = kubeErrorStatus(error);
  if (status !== undefined) {
    const reason = statusMessage(fields.body) ?? error.message.split("\n")[0];
    const hint =
      status === 401
        ? " (the token was rejected)"
        : status === 403
          ? ` (RBAC: the service account needs get, list and watch on ${resource})`
          : "";
    return `HTTP ${status}: ${reason}${hint}`;
  }
  const cause = fields.cause instanceof Error ? `: ${(fields.cause as Error & { code?: string }).code ?? fields.cause.message}` : "";
  return `${error.name === "Error" ? "" : `${error.name}: `}${error.message}${cause}`;
}

/** The HTTP status of a failed list or watch, when the API server answered one. */
export function kubeErrorStatus(error: unknown): number | undefined {
  const fields = error as { code?: unknown; statusCode?: unknown } | null;
  if (fields === null || typeof fields !== "object") {
    return undefined;
  }
  return typeof fields.statusCode === "number" ? fields.statusCode : typeof fields.code === "number" ? fields.code : undefined;
}

/**
 * The resource an API path lists or watches, as an RBAC rule names it:
 * `/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices` →
 * `endpointslices.discovery.k8s.io`, `/api/v1/secrets` → `secrets` (the core
 * group has no suffix), so the hint of a 403 names the watch that failed
 * (issue 14: every watch's hint named endpointslices).
 */
export function rbacResourceOfPath(path: string): string {
  const parts = path.split("?")[0]?.split("/").filter((part) => part !== "") ?? [];
  const resource = parts[parts.length - 1] ?? path;
  return parts[0] === "apis" && parts[1] !== undefined ? `${resource}.${parts[1]}` : resource;
}

function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : undefined;
}
