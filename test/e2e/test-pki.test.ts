import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IssuedCertificate, type KeyPairPem, type TestPki, createTestPki } from "../support/test-pki.ts";

/**
 * The test PKI, checked through real TLS handshakes (node:tls, i.e. OpenSSL)
 * rather than by reading fields back: what the listener tests rely on is that
 * a client given only the CA accepts the leaf for exactly the names it was
 * issued for, wildcard semantics included, and that a re-issue is visibly a
 * different certificate.
 */

const NAMES = ["api.example.test", "*.apps.example.test", "127.0.0.1"] as const;
const DAY_MS = 24 * 60 * 60 * 1000;

interface Handshake {
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  /** Serial of the certificate the server presented. */
  readonly serial: string;
}

interface RunningServer {
  readonly server: tls.Server;
  readonly port: number;
  close(): Promise<void>;
}

/** A TLS server on loopback that completes the handshake and hangs up: all these tests need from it. */
async function startServer(pair: KeyPairPem): Promise<RunningServer> {
  const server = tls.createServer({ cert: pair.certPem, key: pair.keyPem }, (socket) => {
    socket.on("error", () => {}); // the client may reset first; that is not what is tested here
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Connects with `rejectUnauthorized: false` so that a refused certificate
 * still completes the handshake and reports why (`authorizationError`):
 * node runs chain verification and then checkServerIdentity against
 * `servername` (or `host` when there is none) and records the first failure.
 */
function handshake(port: number, options: { servername?: string; ca?: string }): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
      ...(options.servername === undefined ? {} : { servername: options.servername }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    socket.once("error", reject);
    socket.once("secureConnect", () => {
      const error = socket.authorizationError;
      resolve({
        authorized: socket.authorized,
        authorizationError: error === undefined || error === null ? undefined : String((error as { code?: string }).code ?? error),
        serial: socket.getPeerCertificate().serialNumber,
      });
      socket.destroy();
    });
  });
}

describe("test PKI", () => {
  let pki: TestPki;
  let leaf: IssuedCertificate;
  let running: RunningServer;

  beforeAll(async () => {
    pki = await createTestPki();
    leaf = await pki.issue(NAMES);
    running = await startServer(leaf);
  });

  afterAll(async () => {
    await running?.close();
  });

  it("a client trusting only the CA accepts the exact name and one label under the wildcard", async () => {
    for (const servername of ["api.example.test", "x.apps.example.test"]) {
      const result = await handshake(running.port, { servername, ca: pki.ca.certPem });
      expect({ servername, ...result }).toEqual({
        servername,
        authorized: true,
        authorizationError: undefined,
        serial: leaf.serial,
      });
    }
  });

  it("refuses two labels under the wildcard, the wildcard's parent, and an unrelated name", async () => {
    for (const servername of ["a.b.apps.example.test", "apps.example.test", "other.test"]) {
      const result = await handshake(running.port, { servername, ca: pki.ca.certPem });
      expect({ servername, authorized: result.authorized, error: result.authorizationError }).toEqual({
        servername,
        authorized: false,
        error: "ERR_TLS_CERT_ALTNAME_INVALID",
      });
    }
  });

  it("matches the IP SAN when the client connects by address (no SNI)", async () => {
    const result = await handshake(running.port, { ca: pki.ca.certPem });
    expect(result.authorized).toBe(true);
    const peer = new X509Certificate(leaf.certPem).toLegacyObject();
    expect(tls.checkServerIdentity("127.0.0.1", peer)).toBeUndefined();
    const mismatch = tls.checkServerIdentity("127.0.0.2", peer) as NodeJS.ErrnoException | undefined;
    expect(mismatch?.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("is trusted only through its own CA: not by default, not by another test PKI's CA", async () => {
    const other = await createTestPki();
    for (const ca of [undefined, other.ca.certPem]) {
      const result = await handshake(running.port, { servername: "api.example.test", ...(ca === undefined ? {} : { ca }) });
      expect(result.authorized).toBe(false);
      // OpenSSL's word for "the issuer of a lone leaf is not among the trusted certificates".
      expect(result.authorizationError).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    }
  });

  it("makes a proper CA and a proper ECDSA P-256 leaf, with the SANs node parses back", () => {
    const ca = new X509Certificate(pki.ca.certPem);
    const cert = new X509Certificate(leaf.certPem);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.issuer).toBe(ca.subject);
    expect(cert.subject).toBe("CN=api.example.test");
    expect(cert.subjectAltName).toBe("DNS:api.example.test, DNS:*.apps.example.test, IP Address:127.0.0.1");
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]); // node's keyUsage is the EKU list: serverAuth
    expect(cert.serialNumber).toBe(leaf.serial);
    expect(leaf.names).toEqual(NAMES);

    for (const pair of [pki.ca, leaf]) {
      expect(pair.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      const key = createPrivateKey(pair.keyPem);
      expect(key.asymmetricKeyType).toBe("ec");
      expect(key.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    }
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);

    // Valid from an hour ago (clock skew between test processes is harmless) for the default 30 days.
    const now = Date.now();
    expect(now - cert.validFromDate.getTime()).toBeGreaterThan(59 * 60 * 1000);
    expect(Math.abs(cert.validToDate.getTime() - (now + 30 * DAY_MS))).toBeLessThan(60 * 1000);
  });

  it("a re-issue for the same names is a new certificate (serial, key) that a rotated server presents", async () => {
    const rotated = await pki.issue(NAMES);
    expect(rotated.serial).not.toBe(leaf.serial);
    expect(rotated.keyPem).not.toBe(leaf.keyPem);
    expect(new X509Certificate(rotated.certPem).subjectAltName).toBe(new X509Certificate(leaf.certPem).subjectAltName);

    const server = await startServer(leaf);
    try {
      expect((await handshake(server.port, { servername: "api.example.test", ca: pki.ca.certPem })).serial).toBe(leaf.serial);
      server.server.setSecureContext({ cert: rotated.certPem, key: rotated.keyPem });
      const after = await handshake(server.port, { servername: "x.apps.example.test", ca: pki.ca.certPem });
      expect(after).toEqual({ authorized: true, authorizationError: undefined, serial: rotated.serial });
    } finally {
      await server.close();
    }
  });

  it("honours days and commonName, and refuses names that could never match", async () => {
    const short = new X509Certificate((await pki.issue(["short.example.test"], { days: 2, commonName: "short lived, really" })).certPem);
    expect(Math.abs(short.validToDate.getTime() - (Date.now() + 2 * DAY_MS))).toBeLessThan(60 * 1000);
    expect(short.subject).toBe("CN=short lived\\, really");

    const ipOnly = new X509Certificate((await pki.issue(["::1"])).certPem);
    expect(ipOnly.subjectAltName).toBe("IP Address:0:0:0:0:0:0:0:1");

    await expect(pki.issue([])).rejects.toThrow(TypeError);
    await expect(pki.issue(["*apps.example.test"])).rejects.toThrow(/not a DNS name/);
    await expect(pki.issue(["a.*.example.test"])).rejects.toThrow(/not a DNS name/);
    await expect(pki.issue(["a.test"], { days: 0 })).rejects.toThrow(RangeError);
  });

  it("writeFiles replaces <base>.crt and <base>.key by rename, leaving no temporary files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgegate-pki-"));
    try {
      const target = join(dir, "tls"); // created on demand
      const first = await pki.writeFiles(target, "gateway", leaf);
      expect(first).toEqual({ certFile: join(target, "gateway.crt"), keyFile: join(target, "gateway.key") });
      expect(await readFile(first.certFile, "utf8")).toBe(leaf.certPem);
      expect(await readFile(first.keyFile, "utf8")).toBe(leaf.keyPem);
      expect((await stat(first.keyFile)).mode & 0o777).toBe(0o600);

      // Rotation in place: same paths, new content, and what is on disk is usable by node:tls as is.
      const rotated = await pki.issue(NAMES);
      const second = await pki.writeFiles(target, "gateway", rotated);
      expect(second).toEqual(first);
      const [certPem, keyPem] = await Promise.all([readFile(second.certFile, "utf8"), readFile(second.keyFile, "utf8")]);
      expect(new X509Certificate(certPem).serialNumber).toBe(rotated.serial);
      expect(() => tls.createSecureContext({ cert: certPem, key: keyPem })).not.toThrow();

      expect((await readdir(target)).sort()).toEqual(["gateway.crt", "gateway.key"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
