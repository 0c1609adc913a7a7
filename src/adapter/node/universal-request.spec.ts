import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { universalRequestFromNode } from "./universal-request.ts";

const servers: Array<{ close(): void }> = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

/** An h2c server whose handler sees each request as `universalRequestFromNode` makes it; `answer: false` leaves it unanswered. */
async function h2Server(answer: boolean) {
  const seen: UniversalServerRequest[] = [];
  const server = http2.createServer((req, res) => {
    seen.push(universalRequestFromNode(req, res));
    if (answer) res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  servers.push({ close: () => client.close() });
  return { seen, client };
}

const reason = (request: UniversalServerRequest | undefined) =>
  new Promise<unknown>((resolve) => {
    if (request?.signal.aborted === true) resolve(request.signal.reason);
    request?.signal.addEventListener("abort", () => resolve(request.signal.reason), { once: true });
  });

describe("universalRequestFromNode", () => {
  it("gives the URL, the method and the headers without pseudo-headers; the body is the request", async () => {
    const { seen, client } = await h2Server(true);
    const stream = client.request({ ":method": "POST", ":path": "/a.B/C?x=1", "x-multi": ["one", "two"], "content-type": "application/grpc" });
    stream.resume();
    stream.end("body");
    await new Promise((resolve) => stream.on("close", resolve));
    const request = seen[0];
    expect(request?.method).toBe("POST");
    expect(request?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/a\.B\/C\?x=1$/);
    expect(request?.header.get("x-multi")).toBe("one, two");
    expect([...(request?.header.keys() ?? [])].some((k) => k.startsWith(":"))).toBe(false);
  });

  it("a call answered in full aborts with one shared Canceled reason, not a new error each time", async () => {
    const { seen, client } = await h2Server(true);
    for (let i = 0; i < 2; i++) {
      const stream = client.request({ ":method": "POST", ":path": "/a.B/C" });
      stream.resume();
      stream.end();
      await new Promise((resolve) => stream.on("close", resolve));
    }
    const [first, second] = await Promise.all([reason(seen[0]), reason(seen[1])]);
    expect(first).toBeInstanceOf(ConnectError);
    expect((first as ConnectError).code).toBe(Code.Canceled);
    expect(second).toBe(first);
  });

  it("an HTTP/2 stream the client resets aborts with the code's status", async () => {
    const { seen, client } = await h2Server(false);
    const stream = client.request({ ":method": "POST", ":path": "/a.B/C" });
    stream.on("error", () => {});
    await new Promise<void>((resolve) => {
      const wait = () => (seen.length > 0 ? resolve() : setTimeout(wait, 5));
      wait();
    });
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const why = (await reason(seen[0])) as ConnectError;
    expect(why.code).toBe(Code.Canceled);
    expect(why.rawMessage).toContain("CANCEL");
  });

  it("an HTTP/1.1 connection closed before the answer aborts with Canceled", async () => {
    const seen: UniversalServerRequest[] = [];
    const server = http.createServer((req, res) => seen.push(universalRequestFromNode(req, res)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    const req = http.request({ port: (server.address() as AddressInfo).port, host: "127.0.0.1", method: "POST", path: "/a.B/C" });
    req.on("error", () => {});
    req.write("x");
    await new Promise<void>((resolve) => {
      const wait = () => (seen.length > 0 ? resolve() : setTimeout(wait, 5));
      wait();
    });
    req.destroy();
    const why = (await reason(seen[0])) as ConnectError;
    expect([Code.Canceled, Code.Aborted]).toContain(why.code);
  });
});
