// Child process of bench/idle-connections.ts: holds N idle client HTTP/2
// connections to 127.0.0.1:PORT, each having sent the client preface and an
// empty SETTINGS frame (and the ACK of the server's SETTINGS, as any client
// does), and nothing else. Prints one JSON line once every connection has its
// server SETTINGS ({"open":N,"failed":F}), then on each stdin line one with how
// many are still open; exits when stdin closes.
//
//   node bench/idle-clients.ts PORT N
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const PARALLEL = 256;
const PREFACE = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
const SETTINGS_ACK = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);

const sockets: Socket[] = [];
let open = 0;
let failed = 0;

function one(): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1", noDelay: true });
    sockets.push(socket);
    let answered = false;
    socket.once("connect", () => socket.write(PREFACE));
    socket.once("data", () => {
      answered = true;
      open += 1;
      socket.write(SETTINGS_ACK);
      resolve();
    });
    socket.on("data", () => {}); // keep reading (PINGs, GOAWAY), never answer
    socket.once("close", () => {
      if (answered) open -= 1;
      else {
        failed += 1;
        resolve();
      }
    });
    socket.on("error", () => {});
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: Math.min(PARALLEL, count) }, async () => {
    while (next < count) {
      next += 1;
      await one();
    }
  }),
);
process.stdout.write(`${JSON.stringify({ open, failed })}\n`);
createInterface({ input: process.stdin })
  .on("line", () => process.stdout.write(`${JSON.stringify({ open, failed })}\n`))
  .on("close", () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
