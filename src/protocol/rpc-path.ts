/** The parts of an RPC path `/greet.v1.GreetService/Greet`. */
export interface RpcPath {
  readonly path: string;
  readonly service: string;
  readonly method: string;
}

const rpcPathPattern = /^\/([A-Za-z_][\w.]*)\/([A-Za-z_]\w*)$/;

/**
 * Parses the pathname of a request URL into service and method, or
 * `undefined` when it is not an RPC path (gRPC over HTTP/2: `/` Service-Name
 * `/` method name). A query string is ignored (Connect GET carries one).
 */
export function parseRpcPath(url: string): RpcPath | undefined {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) {
    return undefined;
  }
  const query = url.indexOf("?", start);
  const path = query < 0 ? url.slice(start) : url.slice(start, query);
  const match = rpcPathPattern.exec(path);
  if (match === null || match[1] === undefined || match[2] === undefined) {
    return undefined;
  }
  return { path, service: match[1], method: match[2] };
}
