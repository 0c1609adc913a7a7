import * as dgram from "node:dgram";
import * as dns from "node:dns";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeDnsServer, startFakeDnsServer } from "../support/fake-dns-server.ts";

/**
 * The fake DNS server, driven through node's real resolver (c-ares) so that
 * what the DNS discovery tests rely on, including the error code of every
 * failure mode, is checked against the client they will actually use.
 */

const SERVICE = "echo.default.svc.cluster.local";

/** The error code of a lookup that must fail; a success fails the test. */
async function lookupError(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
  throw new Error("expected the lookup to fail");
}

/** A raw query on the wire: header (id 0x1234, the given flags, QDCOUNT 1, ARCOUNT as given) + `body`. */
function rawQuery(body: Buffer, options: { flags?: number; arcount?: number } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x1234, 0);
  header.writeUInt16BE(options.flags ?? 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(options.arcount ?? 0, 10);
  return Buffer.concat([header, body]);
}

/** A name in uncompressed wire form. */
function wireName(name: string): Buffer {
  return Buffer.concat([...name.split(".").map((label) => Buffer.from([label.length, ...Buffer.from(label)])), Buffer.from([0])]);
}

function typeAndClass(type: number, klass = 1): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt16BE(type, 0);
  bytes.writeUInt16BE(klass, 2);
  return bytes;
}

/** Sends raw packets from one socket and returns the first answer, or undefined if none came within `waitMs`. */
async function exchange(server: FakeDnsServer, packets: Buffer[], waitMs = 150): Promise<Buffer | undefined> {
  const [host, port] = [server.address.slice(0, server.address.lastIndexOf(":")), Number(server.address.split(":").pop())];
  const socket = dgram.createSocket("udp4");
  try {
    return await new Promise<Buffer | undefined>((resolve, reject) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      socket.once("message", (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      socket.once("error", reject);
      for (const packet of packets) socket.send(packet, port, host);
    });
  } finally {
    socket.close();
  }
}

describe("fake DNS server", () => {
  let server: FakeDnsServer;
  let resolver: dns.promises.Resolver;

  beforeAll(async () => {
    server = await startFakeDnsServer();
    // One try of 200 ms: a dropped query fails fast, and nothing is retried behind the test's back.
    resolver = new dns.promises.Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([server.address]);
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.failing = false;
    server.silent = false;
    server.queries.length = 0;
    server.setRecords(SERVICE, ["10.0.0.1", "10.0.0.2", "fd00::1"]);
  });

  it("listens on loopback", () => {
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("answers A and AAAA queries with the records of the name", async () => {
    expect((await resolver.resolve4(SERVICE)).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(await resolver.resolve6(SERVICE)).toEqual(["fd00::1"]);
    expect(await resolver.resolve4(SERVICE, { ttl: true })).toContainEqual({ address: "10.0.0.1", ttl: 5 });
    expect(server.queries).toEqual([
      { name: SERVICE, type: "A" },
      { name: SERVICE, type: "AAAA" },
      { name: SERVICE, type: "A" },
    ]);
  });

  it("matches names case-insensitively, with or without the trailing dot", async () => {
    server.setRecords("Other.Default.svc.cluster.local.", ["10.0.1.1"]);
    expect(await resolver.resolve4("other.default.svc.cluster.local")).toEqual(["10.0.1.1"]);
    expect(await resolver.resolve4("OTHER.default.SVC.cluster.local.")).toEqual(["10.0.1.1"]);
    expect(server.queries.map((q) => q.name)).toEqual(["other.default.svc.cluster.local", "other.default.svc.cluster.local"]);
  });

  it("encodes IPv6 addresses in every notation", async () => {
    const addresses = ["::", "::1", "fe80::1:2", "1:2:3:4:5:6:7:8", "2001:db8::", "::ffff:10.0.0.1", "2001:DB8:0:0:1::1"];
    server.setRecords(SERVICE, addresses);
    // c-ares prints each address canonically (RFC 5952), which is how we know the 16 bytes were right.
    expect(await resolver.resolve6(SERVICE)).toEqual([
      "::",
      "::1",
      "fe80::1:2",
      "1:2:3:4:5:6:7:8",
      "2001:db8::",
      "::ffff:10.0.0.1",
      "2001:db8::1:0:0:1",
    ]);
  });

  it("serves the new records on the next query after setRecords", async () => {
    expect((await resolver.resolve4(SERVICE)).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
    server.setRecords(SERVICE, ["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    expect((await resolver.resolve4(SERVICE)).sort()).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    expect(await lookupError(resolver.resolve6(SERVICE))).toBe("ENODATA"); // the AAAA record went with the replacement
  });

  it("answers NXDOMAIN for a removed name: ENOTFOUND", async () => {
    server.removeName(SERVICE);
    expect(await lookupError(resolver.resolve4(SERVICE))).toBe("ENOTFOUND");
    expect(await lookupError(resolver.resolve4("never-set.example"))).toBe("ENOTFOUND");
  });

  it("answers NODATA for a name with no records: ENODATA", async () => {
    server.setRecords(SERVICE, []);
    expect(await lookupError(resolver.resolve4(SERVICE))).toBe("ENODATA");
    expect(await lookupError(resolver.resolve6(SERVICE))).toBe("ENODATA");
  });

  it("answers NODATA for a type it does not serve", async () => {
    expect(await lookupError(resolver.resolveTxt(SERVICE))).toBe("ENODATA");
    expect(server.queries).toEqual([{ name: SERVICE, type: "16" }]);
  });

  it("answers SERVFAIL while failing: ESERVFAIL, and recovers", async () => {
    server.failing = true;
    expect(await lookupError(resolver.resolve4(SERVICE))).toBe("ESERVFAIL");
    server.failing = false;
    expect((await resolver.resolve4(SERVICE)).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("drops queries while silent: ETIMEOUT, and recovers", async () => {
    server.silent = true;
    const started = performance.now();
    expect(await lookupError(resolver.resolve4(SERVICE))).toBe("ETIMEOUT");
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(server.queries).toEqual([{ name: SERVICE, type: "A" }]); // received, just not answered
    server.silent = false;
    expect((await resolver.resolve4(SERVICE)).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("rejects what it could not serve", () => {
    expect(() => server.setRecords(SERVICE, ["10.0.0.256"])).toThrow(/not an IP address/);
    expect(() => server.setRecords(SERVICE, ["pod-1"])).toThrow(/not an IP address/);
    const pods = (n: number) => Array.from({ length: n }, (_, i) => `10.0.2.${i + 1}`);
    server.setRecords(SERVICE, pods(29)); // header 12 + question 36 + 29 * 16 = 512 bytes
    expect(() => server.setRecords(SERVICE, pods(30))).toThrow(/512-byte UDP limit/);
  });

  it("serves the largest set that fits in one UDP answer", async () => {
    const pods = Array.from({ length: 29 }, (_, i) => `10.0.2.${i + 1}`);
    server.setRecords(SERVICE, pods);
    expect((await resolver.resolve4(SERVICE)).sort()).toEqual([...pods].sort());
  });

  describe("on the wire", () => {
    it("echoes the question and sets QR, AA, RA, copies RD and the id", async () => {
      const question = Buffer.concat([wireName("ECHO.default.svc.cluster.local"), typeAndClass(1)]);
      const answer = await exchange(server, [rawQuery(question, { flags: 0x0100 })]);
      expect(answer).toBeDefined();
      expect(answer!.readUInt16BE(0)).toBe(0x1234);
      expect(answer!.readUInt16BE(2)).toBe(0x8000 | 0x0400 | 0x0100 | 0x0080); // QR AA RD RA, NOERROR
      expect([answer!.readUInt16BE(4), answer!.readUInt16BE(6), answer!.readUInt16BE(8), answer!.readUInt16BE(10)]).toEqual([1, 2, 0, 0]);
      expect(answer!.subarray(12, 12 + question.length)).toEqual(question); // case preserved (DNS 0x20 resolvers compare it)
      const first = 12 + question.length;
      expect(answer!.readUInt16BE(first)).toBe(0xc00c);
      expect(answer!.subarray(first + 2, first + 16)).toEqual(Buffer.from([0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]));

      const noRecursion = await exchange(server, [rawQuery(question, { flags: 0 })]);
      expect(noRecursion!.readUInt16BE(2)).toBe(0x8000 | 0x0400 | 0x0080);
    });

    it("answers a query carrying an EDNS OPT record, without EDNS", async () => {
      const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]); // root, OPT, 1232 bytes, no options
      const query = rawQuery(Buffer.concat([wireName(SERVICE), typeAndClass(28), opt]), { arcount: 1 });
      const answer = await exchange(server, [query]);
      expect(answer!.readUInt16BE(6)).toBe(1);
      expect(answer!.readUInt16BE(10)).toBe(0);
      expect(answer!.subarray(answer!.length - 16)).toEqual(Buffer.from([0xfd, ...new Array<number>(14).fill(0), 1]));
    });

    it("follows a compression pointer in the question name", async () => {
      // The question name is a pointer to a name placed after QTYPE/QCLASS.
      const pointer = Buffer.from([0xc0, 12 + 2 + 4]);
      const answer = await exchange(server, [rawQuery(Buffer.concat([pointer, typeAndClass(1), wireName(SERVICE)]))]);
      expect(answer!.readUInt16BE(6)).toBe(2);
      expect(server.queries).toEqual([{ name: SERVICE, type: "A" }]);
    });

    it("ignores malformed packets and keeps serving", async () => {
      const malformed = [
        Buffer.alloc(0),
        Buffer.from([1, 2, 3]),
        rawQuery(Buffer.from([0xc0, 12, 0, 1, 0, 1])), // pointer to itself: a loop
        rawQuery(Buffer.from([0xc0])), // truncated pointer
        rawQuery(Buffer.from([5, 0x61, 0x62])), // label runs past the end
        rawQuery(Buffer.concat([wireName(SERVICE), Buffer.from([0, 1])])), // no QCLASS
        rawQuery(Buffer.from([0x40, 0, 0, 1, 0, 1])), // reserved label type
        rawQuery(Buffer.concat([wireName(SERVICE), typeAndClass(1)]), { flags: 0x8000 }), // a response
        rawQuery(Buffer.from([3, 0x61, 0x62, 0x63])), // no root label
        rawQuery(Buffer.concat([...Array.from({ length: 5 }, () => Buffer.from([63, ...Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])])), // name over 255 bytes
        rawQuery(Buffer.concat([wireName(SERVICE), typeAndClass(1)])).fill(0, 4, 6), // QDCOUNT 0
      ];
      expect(await exchange(server, malformed)).toBeUndefined();
      expect(server.queries).toEqual([]);
      expect((await resolver.resolve4(SERVICE)).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
    });
  });
});

describe("fake DNS server lifecycle", () => {
  it("binds a fresh port each time and closes idempotently", async () => {
    const [a, b] = await Promise.all([startFakeDnsServer(), startFakeDnsServer()]);
    expect(a.address).not.toBe(b.address);
    await a.close();
    await a.close();
    await b.close();
  });
});
