// Whether a server keeps an HTTP/1.1 connection open for a second request:
// two POSTs, one after the other, on one raw socket. h2load --h1 does not
// reconnect, so a server that closes after every answer gets 1 answer per
// connection and errors for the rest.
import { connect } from "node:net";

export function probeKeepAlive(port: number, path: string, headers: readonly string[], body: Uint8Array): Promise<string> {
  const request = Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${headers.map((h) => `${h}\r\n`).join("")}content-length: ${body.length}\r\n\r\n`,
    ),
    body,
  ]);
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    let answers = 0;
    const timer = setTimeout(() => finish(`${answers} answer(s), then no answer within 3 s`), 3000);
    function finish(verdict: string) {
      clearTimeout(timer);
      socket.destroy();
      resolve(verdict);
    }
    socket.once("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const head = /^HTTP\/1\.1 (\d+)[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(received);
      if (head === null) return;
      const length = /content-length:\s*(\d+)/i.exec(head[2] ?? "");
      let end: number;
      if (length !== null) {
        end = head[0].length + Number(length[1]);
        if (received.length < end) return;
      } else {
        // chunked (gRPC-Web answers carry trailers in the body, no length): up to the last chunk
        const last = received.indexOf("\r\n0\r\n\r\n", head[0].length - 2);
        if (last < 0) return;
        end = last + 7;
      }
      answers += 1;
      received = received.slice(end);
      if (answers === 1) socket.write(request);
      else finish(`keeps the connection open: 2 answers (status ${head[1]})`);
    });
    socket.once("close", () => finish(`closed the connection after ${answers} answer(s)${answers === 1 ? " (no keep-alive)" : ""}`));
    socket.on("error", () => {});
  });
}
