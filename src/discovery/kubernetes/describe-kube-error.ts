/**
 * One line for a log about a failed list or watch. client-node reports a
 * failed list as an ApiException (`code` plus the Status body), a failed
 * watch request as an Error with `statusCode`, a dropped or refused
 * connection as a fetch error whose `cause` names the socket problem; this
 * turns each into something an operator can act on, and never includes
 * request headers (the bearer token).
 */
export function describeKubeError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const fields = error as Error & { code?: unknown; statusCode?: unknown; body?: unknown; cause?: unknown };
  const status = typeof fields.statusCode === "number" ? fields.statusCode : typeof fields.code === "number" ? fields.code : undefined;
  if (status !== undefined) {
    const reason = statusMessage(fields.body) ?? error.message.split("\n")[0];
    const hint = status === 401 ? " (the token was rejected)" : status === 403 ? " (RBAC: the service account needs get, list and watch on endpointslices.discovery.k8s.io)" : "";
    return `HTTP ${status}: ${reason}${hint}`;
  }
  const cause = fields.cause instanceof Error ? `: ${(fields.cause as Error & { code?: string }).code ?? fields.cause.message}` : "";
  return `${error.name === "Error" ? "" : `${error.name}: `}${error.message}${cause}`;
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
