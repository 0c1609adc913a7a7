import * as dgram from "node:dgram";
import { isIPv4, isIPv6 } from "node:net";

/**
 * A tiny authoritative DNS server over UDP on loopback, for tests of DNS
 * discovery: a headless Kubernetes Service resolves to one A/AAAA record per
 * ready pod, and the tests need to change that set, make the name vanish, or
 * make the server fail, between two queries of the real resolver (node:dns,
 * i.e. c-ares). The wire format is written by hand (RFC 1035) so that the
 * tests depend on nothing but node, and so that every answer is exactly what
 * the test asked for.
 *
 * Scope: one question per query, class IN, types A and AAAA, UDP only.
 * Without TCP an answer must fit in a classic 512-byte UDP message (node's
 * resolver sends no EDNS, so no larger size is ever offered): that is 29 A or
 * 16 AAAA records for a name like `svc.ns.svc.cluster.local`. setRecords
 * refuses a larger set up front, because the alternative, a truncated
 * (TC=1) answer, makes c-ares retry over TCP and fail with a baffling
 * ECONNREFUSED.
 */
export interface FakeDnsServer {
  /** "127.0.0.1:PORT" ("[::1]:PORT" for IPv6), usable with node:dns Resolver.setServers([...]). */
  readonly address: string;
  /**
   * Replaces the records of a name (case-insensitive, trailing dot optional).
   * IPv4 strings become A records, IPv6 strings AAAA. An empty list makes the
   * name exist with no records (NOERROR, no answers = NODATA). Throws on a
   * string that is not an IP address, so a typo fails the test, not the
   * lookup, and on a set too large for one UDP answer (see above).
   */
  setRecords(name: string, addresses: string[]): void;
  /** Removes a name: queries get NXDOMAIN. */
  removeName(name: string): void;
  /** While true, queries are answered with SERVFAIL (rcode 2): a failing DNS server. */
  failing: boolean;
  /** While true, queries are dropped (no answer: the resolver times out). Takes precedence over `failing`. */
  silent: boolean;
  /**
   * Queries received (also while failing or silent), for assertions: name
   * (lower case, without trailing dot) and type ("A" | "AAAA" | any other type
   * as its decimal number). Malformed packets are not recorded.
   */
  readonly queries: Array<{ name: string; type: string }>;
  close(): Promise<void>;
}

export interface FakeDnsServerOptions {
  /** Address to bind; default 127.0.0.1. Port is always ephemeral. */
  readonly host?: string;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const CLASS_ANY = 255;
const RCODE_NOERROR = 0;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
/** Short, so that a resolver cache (if any) does not outlive a test's change by much. */
const TTL_SECONDS = 5;
const HEADER_LENGTH = 12;
/** RFC 1035 §4.2.1: the UDP limit without EDNS. */
const CLASSIC_UDP_LIMIT = 512;
/** Answer RR with a compressed name: pointer 2, TYPE 2, CLASS 2, TTL 4, RDLENGTH 2. */
const ANSWER_FIXED_LENGTH = 12;
/** Bounds pointer chasing, so a pointer loop in a hostile packet cannot spin forever. */
const MAX_POINTER_JUMPS = 32;

/** Records of one name, pre-encoded as RDATA. */
interface NameRecords {
  readonly a: Buffer[];
  readonly aaaa: Buffer[];
}

/** A query parsed far enough to answer it. */
interface ParsedQuery {
  readonly id: number;
  readonly flags: number;
  /** Labels as received (case preserved: a resolver using DNS 0x20 compares case). */
  readonly labels: Buffer[];
  readonly qtype: number;
  readonly qclass: number;
}

/** Thrown by the parser on anything malformed; the packet is then dropped. */
class MalformedPacket extends Error {}

export async function startFakeDnsServer(options: FakeDnsServerOptions = {}): Promise<FakeDnsServer> {
  const host = options.host ?? "127.0.0.1";
  const socket = dgram.createSocket(isIPv6(host) ? "udp6" : "udp4");
  const zone = new Map<string, NameRecords>();
  const queries: Array<{ name: string; type: string }> = [];

  const server = {
    address: "",
    failing: false,
    silent: false,
    queries,
    setRecords(name: string, addresses: string[]): void {
      const records: NameRecords = { a: [], aaaa: [] };
      for (const address of addresses) {
        if (isIPv4(address)) records.a.push(encodeIPv4(address));
        else if (isIPv6(address)) records.aaaa.push(encodeIPv6(address));
        else throw new Error(`fake DNS server: not an IP address: ${JSON.stringify(address)}`);
      }
      assertFitsInUdp(name, records);
      zone.set(normalizeName(name), records);
    },
    removeName(name: string): void {
      zone.delete(normalizeName(name));
    },
    close(): Promise<void> {
      return new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          // Already closed: closing twice is harmless for a test's cleanup.
          resolve();
        }
      });
    },
  } satisfies FakeDnsServer;

  socket.on("message", (message, remote) => {
    let query: ParsedQuery;
    try {
      query = parseQuery(message);
    } catch {
      // Malformed (MalformedPacket, or a RangeError from a read the checks missed): drop it. A
      // throw here would be an uncaught exception in the test process.
      return;
    }
    const name = labelsToName(query.labels);
    queries.push({ name, type: typeName(query.qtype) });
    if (server.silent) return;
    const response = buildResponse(query, server.failing ? undefined : zone, name);
    socket.send(response, remote.port, remote.address, () => {
      // A send error (e.g. the resolver's socket is gone) is the resolver's problem, not the test's.
    });
  });
  // Without a listener, an 'error' event (e.g. ICMP port unreachable surfaced on some platforms) would crash the test process.
  socket.on("error", () => {});

  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, host, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  const { port } = socket.address();
  server.address = isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  return server;
}

/** DNS names compare case-insensitively (RFC 4343), and "a.b." and "a.b" are the same fully qualified name here. */
function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function labelsToName(labels: Buffer[]): string {
  return labels.map((label) => label.toString("latin1").toLowerCase()).join(".");
}

function typeName(qtype: number): string {
  if (qtype === TYPE_A) return "A";
  if (qtype === TYPE_AAAA) return "AAAA";
  return String(qtype);
}

/**
 * Parses the header and the single question. Throws MalformedPacket on
 * anything that cannot be answered sensibly: a response, no or several
 * questions, a truncated question. What follows the question (an EDNS OPT
 * record in the additional section, typically) is not read at all: answering
 * without OPT tells an EDNS requester we speak plain DNS (RFC 6891 §7), which
 * is all we need.
 */
function parseQuery(message: Buffer): ParsedQuery {
  if (message.length < HEADER_LENGTH) throw new MalformedPacket("short header");
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  if (flags & 0x8000) throw new MalformedPacket("a response, not a query"); // never answer answers: no loops
  const qdcount = message.readUInt16BE(4);
  if (qdcount !== 1) throw new MalformedPacket("not exactly one question");
  const { labels, end } = readName(message, HEADER_LENGTH);
  if (end + 4 > message.length) throw new MalformedPacket("truncated question");
  const qtype = message.readUInt16BE(end);
  const qclass = message.readUInt16BE(end + 2);
  return { id, flags, labels, qtype, qclass };
}

/**
 * Reads a (possibly compressed) domain name at `offset`. `end` is where the
 * name ends in the packet: after its first pointer, or after the root label.
 */
function readName(message: Buffer, offset: number): { labels: Buffer[]; end: number } {
  const labels: Buffer[] = [];
  let position = offset;
  let end: number | undefined;
  let jumps = 0;
  let wireLength = 1; // the root label
  for (;;) {
    if (position >= message.length) throw new MalformedPacket("name runs past the packet");
    const length = message[position]!;
    if ((length & 0xc0) === 0xc0) {
      if (position + 2 > message.length) throw new MalformedPacket("truncated pointer");
      if (++jumps > MAX_POINTER_JUMPS) throw new MalformedPacket("pointer loop");
      end ??= position + 2;
      position = message.readUInt16BE(position) & 0x3fff;
      continue;
    }
    if (length & 0xc0) throw new MalformedPacket("reserved label type"); // 0x40/0x80: extended/unused label types
    if (length === 0) return { labels, end: end ?? position + 1 };
    if (position + 1 + length > message.length) throw new MalformedPacket("truncated label");
    wireLength += 1 + length;
    if (wireLength > 255) throw new MalformedPacket("name longer than 255 bytes");
    labels.push(message.subarray(position + 1, position + 1 + length));
    position += 1 + length;
  }
}

/**
 * The answer to a query: the question echoed with the case it was asked in,
 * then the records, each named by a pointer to the question name (0xC00C).
 * `zone` is undefined while the server is failing.
 */
function buildResponse(query: ParsedQuery, zone: Map<string, NameRecords> | undefined, name: string): Buffer {
  const opcode = (query.flags >> 11) & 0xf;
  let rcode = RCODE_NOERROR;
  let rdatas: Buffer[] = [];
  let rrType = 0;
  if (zone === undefined) {
    rcode = RCODE_SERVFAIL;
  } else if (opcode !== 0) {
    rcode = RCODE_NOTIMP; // only standard queries (no IQUERY/STATUS/NOTIFY/UPDATE)
  } else {
    const records = zone.get(name);
    if (records === undefined) {
      rcode = RCODE_NXDOMAIN;
    } else if (query.qclass === CLASS_IN || query.qclass === CLASS_ANY) {
      if (query.qtype === TYPE_A) [rdatas, rrType] = [records.a, TYPE_A];
      if (query.qtype === TYPE_AAAA) [rdatas, rrType] = [records.aaaa, TYPE_AAAA];
      // Any other type: the name exists but has no such records, NOERROR/NODATA.
    }
  }

  const question = encodeQuestion(query);
  const answers = rdatas.map((rdata) => encodeAnswer(rrType, rdata));

  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(query.id, 0);
  const flags =
    0x8000 | // QR: a response
    (opcode << 11) |
    0x0400 | // AA: we are the authority for every name we know
    (query.flags & 0x0100) | // RD copied
    0x0080 | // RA: resolvers treat a server without RA as lame for recursive questions
    rcode;
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(answers.length, 6); // ANCOUNT
  header.writeUInt16BE(0, 8); // NSCOUNT
  header.writeUInt16BE(0, 10); // ARCOUNT
  return Buffer.concat([header, question, ...answers]);
}

/** The question re-encoded uncompressed (so that 0xC00C in the answers points at it), case preserved. */
function encodeQuestion(query: ParsedQuery): Buffer {
  const parts: Buffer[] = [];
  for (const label of query.labels) parts.push(Buffer.from([label.length]), label);
  const tail = Buffer.alloc(5); // root label, QTYPE, QCLASS
  tail.writeUInt16BE(query.qtype, 1);
  tail.writeUInt16BE(query.qclass, 3);
  parts.push(tail);
  return Buffer.concat(parts);
}

function encodeAnswer(type: number, rdata: Buffer): Buffer {
  const answer = Buffer.alloc(12 + rdata.length);
  answer.writeUInt16BE(0xc00c, 0); // NAME: pointer to the question name at offset 12
  answer.writeUInt16BE(type, 2);
  answer.writeUInt16BE(CLASS_IN, 4);
  answer.writeUInt32BE(TTL_SECONDS, 6);
  answer.writeUInt16BE(rdata.length, 10);
  rdata.copy(answer, 12);
  return answer;
}

/**
 * Throws if the A or the AAAA answer for `name` would exceed 512 bytes. The
 * question is echoed with the same wire length whatever the case it is asked
 * in, so the check made here holds for every later query of the name.
 */
function assertFitsInUdp(name: string, records: NameRecords): void {
  const labels = normalizeName(name).split(".").filter((label) => label !== "");
  const questionLength = labels.reduce((sum, label) => sum + 1 + Buffer.byteLength(label, "latin1"), 1) + 4;
  for (const [type, rdatas, rdataLength] of [["A", records.a, 4], ["AAAA", records.aaaa, 16]] as const) {
    const size = HEADER_LENGTH + questionLength + rdatas.length * (ANSWER_FIXED_LENGTH + rdataLength);
    if (size > CLASSIC_UDP_LIMIT) {
      throw new Error(
        `fake DNS server: ${rdatas.length} ${type} records for ${name} need a ${size}-byte answer, ` +
          `over the ${CLASSIC_UDP_LIMIT}-byte UDP limit (there is no TCP fallback)`,
      );
    }
  }
}

function encodeIPv4(address: string): Buffer {
  return Buffer.from(address.split(".").map(Number));
}

/**
 * The 16 bytes of an IPv6 address (already validated by net.isIPv6): expands
 * `::` into the missing zero groups and accepts an IPv4 tail
 * (`::ffff:10.0.0.1`), as it counts for two groups.
 */
function encodeIPv6(address: string): Buffer {
  if (address.includes("%")) throw new Error(`fake DNS server: zone id not allowed in a record: ${address}`);
  const toGroups = (part: string): number[] => {
    if (part === "") return [];
    const groups: number[] = [];
    for (const piece of part.split(":")) {
      if (piece.includes(".")) {
        const [a, b, c, d] = encodeIPv4(piece);
        groups.push((a! << 8) | b!, (c! << 8) | d!);
      } else {
        groups.push(Number.parseInt(piece, 16));
      }
    }
    return groups;
  };
  const doubleColon = address.indexOf("::");
  let groups: number[];
  if (doubleColon === -1) {
    groups = toGroups(address);
  } else {
    const head = toGroups(address.slice(0, doubleColon));
    const tail = toGroups(address.slice(doubleColon + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}
