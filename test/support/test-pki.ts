import { KeyObject, X509Certificate, randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { basename, dirname, join } from "node:path";
import * as x509 from "@peculiar/x509";

/**
 * A throwaway PKI for tests of the gateway's TLS listeners: one CA, and leaf
 * certificates it signs on demand, made at test time so that no test depends
 * on checked-in key material that expires, and so that a test can "rotate" a
 * certificate (a new one for the same names, told apart by its serial).
 *
 * Why a real CA and not self-signed leaves: clients are given the CA as their
 * only trust anchor, exactly as in production, and some verifiers (rustls,
 * used by Deno and by Rust gRPC clients) reject a self-signed end-entity
 * certificate used as its own trust anchor. So the CA is a proper CA
 * (basicConstraints CA:true, keyCertSign) and the leaf a proper leaf
 * (CA:false, serverAuth, names in subjectAltName only).
 *
 * Built on @peculiar/x509 (pure JS, over WebCrypto) because node:crypto can
 * parse and verify certificates but not create them, and node-forge, the other
 * common pure-JS choice, has no ECDSA. Keys are ECDSA P-256: generating one
 * takes well under a millisecond, where RSA-2048 takes tens to hundreds.
 */

/** A certificate and its private key, as PEM text (the key is PKCS#8, "BEGIN PRIVATE KEY"). */
export interface KeyPairPem {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssuedCertificate extends KeyPairPem {
  /**
   * Hex serial number, distinct per issue, so tests can tell a rotated
   * certificate from the old one. Upper case without a leading 00, as node
   * reports it (`X509Certificate#serialNumber`, and `serialNumber` of
   * `tls.TLSSocket#getPeerCertificate()`), so the two compare with `===`.
   */
  readonly serial: string;
  /** The names the certificate was issued for, in the order given. */
  readonly names: readonly string[];
}

export interface IssueOptions {
  /** Validity in days from now (default 30); it starts one hour ago either way. */
  readonly days?: number;
  /** Subject CN (default: the first DNS name, else the first name). Clients ignore it when there are SANs. */
  readonly commonName?: string;
}

export interface TestPki {
  /** The CA certificate (basicConstraints CA:true, keyCertSign): the trust anchor to give clients (`ca:`). */
  readonly ca: KeyPairPem;
  /**
   * Issues a leaf signed by the CA: SAN DNS names (wildcards like
   * "*.apps.example.test" allowed) and IP SANs for IP strings; serverAuth EKU;
   * ECDSA P-256 key; valid from 1h ago for `days` (default 30).
   */
  issue(names: readonly string[], options?: IssueOptions): Promise<IssuedCertificate>;
  /**
   * Writes cert and key PEM files into `dir` (created if missing) with the
   * given base name (`<base>.crt`, `<base>.key`), atomically (write to a temp
   * name, then rename, as Kubernetes volume updates are atomic), and returns
   * the paths.
   */
  writeFiles(dir: string, base: string, pair: KeyPairPem): Promise<{ certFile: string; keyFile: string }>;
}

const EC_P256: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Long enough to outlive any leaf a test asks for, so a leaf never outlives its issuer by accident. */
const CA_DAYS = 3650;

/**
 * Creates a fresh CA (its own key and a random name, so two PKIs in one test
 * never trust each other's leaves). Takes a few milliseconds.
 */
export async function createTestPki(): Promise<TestPki> {
  const caKeys = await generateKeys();
  const notBefore = new Date(Date.now() - HOUR_MS);
  const caName: x509.JsonName = [
    { O: ["edgegate tests"] },
    { CN: [`edgegate test CA ${randomBytes(4).toString("hex")}`] },
  ];
  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: newSerial(),
      name: caName,
      notBefore,
      notAfter: new Date(notBefore.getTime() + CA_DAYS * DAY_MS),
      keys: caKeys,
      signingAlgorithm: SIGNING,
      extensions: [
        // pathLen 0: this CA signs leaves only, as a verifier is entitled to check.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const ca: KeyPairPem = Object.freeze({
    certPem: toNodeCertificate(caCert).toString(),
    keyPem: privateKeyPem(caKeys.privateKey),
  });
  // The leaf's AKI must equal the CA's SKI: computed once from the same key.
  const authorityKeyId = await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto);

  async function issue(names: readonly string[], options: IssueOptions = {}): Promise<IssuedCertificate> {
    const days = options.days ?? 30;
    if (!Number.isFinite(days) || days <= 0) {
      throw new RangeError(`issue: days must be a positive number, got ${days}`);
    }
    const subjectAltNames = names.map(toGeneralName);
    if (subjectAltNames.length === 0) {
      throw new TypeError("issue: at least one name is needed (a leaf without SANs matches no host)");
    }
    const commonName = options.commonName ?? names.find((name) => isIP(name) === 0) ?? names[0];
    const leafKeys = await generateKeys();
    const now = Date.now();
    const leaf = await x509.X509CertificateGenerator.create(
      {
        serialNumber: newSerial(),
        subject: [{ CN: [commonName ?? ""] }],
        issuer: caCert.subjectName,
        notBefore: new Date(now - HOUR_MS),
        notAfter: new Date(now + days * DAY_MS),
        publicKey: leafKeys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: SIGNING,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          // ECDSA keys sign (digitalSignature); keyEncipherment is for RSA key transport only.
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
          new x509.SubjectAlternativeNameExtension(subjectAltNames, false),
          await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey, false, crypto),
          authorityKeyId,
        ],
      },
      crypto,
    );
    const parsed = toNodeCertificate(leaf);
    return Object.freeze({
      certPem: parsed.toString(),
      keyPem: privateKeyPem(leafKeys.privateKey),
      serial: parsed.serialNumber,
      names: Object.freeze([...names]),
    });
  }

  async function writeFiles(
    dir: string,
    base: string,
    pair: KeyPairPem,
  ): Promise<{ certFile: string; keyFile: string }> {
    await mkdir(dir, { recursive: true });
    const certFile = join(dir, `${base}.crt`);
    const keyFile = join(dir, `${base}.key`);
    // Key first, certificate last: a reloader that watches the certificate (the
    // usual trigger) then finds the matching key already in place. Each file is
    // replaced atomically, the pair is not: a reader between the two renames
    // sees the new key with the old certificate, and must retry, not crash.
    await writeAtomically(keyFile, pair.keyPem, 0o600);
    await writeAtomically(certFile, pair.certPem, 0o644);
    return { certFile, keyFile };
  }

  return Object.freeze({ ca, issue, writeFiles });
}

function generateKeys(): Promise<CryptoKeyPair> {
  // Extractable, so that the private key can be exported as PKCS#8 PEM.
  return crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
}

/**
 * 16 random bytes with the top byte in 0x40..0x7f: positive and minimally
 * encoded as a DER INTEGER as is, so the serial in the certificate is exactly
 * this (RFC 5280 wants it positive, at most 20 bytes, unique per CA).
 */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString("hex");
}

/**
 * Checks one requested name and makes it a SAN entry. A typo ("*apps.x",
 * "a b.test") fails here, at issue time, rather than as a baffling handshake
 * error later. Wildcards follow RFC 6125: "*" as the whole leftmost label only.
 */
function toGeneralName(name: string): x509.JsonGeneralName {
  if (isIP(name) !== 0) {
    return { type: "ip", value: name };
  }
  const labels = name.split(".");
  const valid =
    name.length <= 253 &&
    labels.length >= 2 &&
    labels.every(
      (label, index) => (index === 0 && label === "*") || /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(label),
    );
  if (!valid) {
    throw new TypeError(`issue: not a DNS name, wildcard DNS name or IP address: ${JSON.stringify(name)}`);
  }
  return { type: "dns", value: name };
}

/**
 * Re-reads the DER with node's own (OpenSSL) parser: a certificate node cannot
 * parse fails at issue time, and the PEM and serial come out in exactly the
 * form node:tls will later show the tests.
 */
function toNodeCertificate(cert: x509.X509Certificate): X509Certificate {
  return new X509Certificate(Buffer.from(cert.rawData));
}

function privateKeyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ format: "pem", type: "pkcs8" }).toString();
}

/**
 * Writes to a temporary name in the same directory (rename is atomic only
 * within one filesystem), then renames over the target, so a watcher never
 * reads a half-written file. The temporary name starts with a dot, like
 * Kubernetes' `..data_tmp`, so globs such as `*.crt` do not pick it up.
 */
async function writeAtomically(path: string, data: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, data, { mode, flag: "wx" });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
