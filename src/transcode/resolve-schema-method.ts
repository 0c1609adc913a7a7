import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallRequest } from "../call/call-request.ts";
import { type BackendSchema, SchemaUnavailableError } from "../schema/backend-schema.ts";
import { standardServiceMethod } from "../schema/standard-services.ts";

/** The method a schema-aware call needs, or the error to answer it with (and its HTTP status, for Connect). */
export type SchemaMethod =
  | { readonly method: DescMethod; readonly error?: undefined }
  | { readonly method?: undefined; readonly error: ConnectError; readonly httpStatus?: number };

/**
 * Looks up the method of a call that needs the schema (Connect JSON, Connect
 * GET) and checks that GET is allowed for it. Each failure says what to do:
 * configure a schema source, call a method the pods serve, or use POST.
 * Standard gRPC services (health) are known without the pods' schema.
 */
export async function resolveSchemaMethod(call: CallRequest, schema: BackendSchema, backend: string): Promise<SchemaMethod> {
  let method: DescMethod | undefined;
  try {
    method = (await schema.method(call.service, call.method)) ?? standardServiceMethod(call.service, call.method);
  } catch (error) {
    if (error instanceof SchemaUnavailableError) {
      return { error: new ConnectError(error.message, error.transient ? Code.Unavailable : Code.Unimplemented) };
    }
    throw error;
  }
  if (method === undefined) {
    return {
      error: new ConnectError(
        `${call.service}/${call.method} is not in the schema of backend "${backend}" (its pods do not serve it)`,
        Code.Unimplemented,
      ),
    };
  }
  if (call.unary && (method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming")) {
    const kind = method.methodKind === "server_streaming" ? "server-streaming" : "bidi-streaming";
    return {
      error: new ConnectError(
        `${call.service}/${call.method} is a ${kind} method: it cannot answer a unary request; ` +
          `call it as a Connect stream (content-type application/connect+json or application/connect+proto)`,
        Code.Unimplemented,
      ),
      // As connect-go answers a unary content type on a streaming procedure; a GET gets 405 (POST, as a stream).
      httpStatus: call.readOnly ? 405 : 415,
    };
  }
  if (call.readOnly && (method.methodKind !== "unary" || method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS)) {
    return {
      error: new ConnectError(
        `${call.service}/${call.method} cannot be called with GET: only unary methods with ` +
          "idempotency_level = NO_SIDE_EFFECTS can; send it as POST",
        Code.Unimplemented,
      ),
      httpStatus: 405,
    };
  }
  return { method };
}
