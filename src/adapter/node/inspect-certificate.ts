import { createPrivateKey, X509Certificate } from "node:crypto";
import type { CertificateInfo } from "../../runtime.ts";
import type { CertificatePair } from "../../tls/certificate-store.ts";

/**
 * Reads a certificate's subjectAltName names and expiry, and checks its key:
 * a certificate rotated before its key (or the reverse) is caught here, so
 * the listener keeps serving the previous pair instead of failing handshakes.
 */
export function inspectCertificate(pair: CertificatePair): CertificateInfo {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pair.certPem);
  } catch (error) {
    throw new Error(`not a PEM certificate: ${(error as Error).message}`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(pair.keyPem);
  } catch (error) {
    throw new Error(`not a PEM private key: ${(error as Error).message}`);
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new Error("the private key does not belong to the certificate");
  }
  const names = (certificate.subjectAltName ?? "")
    .split(", ")
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1]?.toLowerCase())
    .filter((name): name is string => name !== undefined);
  const commonName = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1]?.toLowerCase();
  if (names.length === 0 && commonName !== undefined) {
    names.push(commonName);
  }
  return { names, notAfter: Date.parse(certificate.validTo) };
}
