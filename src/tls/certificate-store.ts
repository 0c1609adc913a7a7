import { matchesHost } from "../route/match-host.ts";

/** A PEM certificate chain and its private key. */
export interface CertificatePair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A certificate the TLS listeners may serve, and the names it is served for. */
export interface StoredCertificate extends CertificatePair {
  /** Identity in the store: `file:<certFile>` or `secret:<namespace>/<name>`. */
  readonly key: string;
  /** Lower-case names (`api.example.com`, `*.example.com`) SNI is matched against. */
  readonly names: readonly string[];
  /** Expiry, epoch ms, for logs and the admin page. */
  readonly notAfter: number;
}

/** What a TLS listener needs: the certificate for a handshake, and word when the set changes. */
export interface CertificateSelector {
  /** The certificate for an SNI name (`undefined`: the client sent none). */
  select(servername: string | undefined): StoredCertificate | undefined;
  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/**
 * Every certificate the gateway serves, from config files and Ingress TLS
 * Secrets, swapped whole on rotation (entries are immutable, so a listener
 * can cache a TLS context per entry and a rotated certificate is a new entry).
 *
 * SNI picks an exact name first, then a `*.` wildcard (one label, as X.509
 * says), else the first certificate: config files come first, in order, so
 * the first configured certificate is the default for clients without SNI
 * or with an unknown name.
 */
export class CertificateStore implements CertificateSelector {
  private readonly entries = new Map<string, StoredCertificate>();
  private readonly listeners = new Set<() => void>();

  set(certificate: StoredCertificate): void {
    const previous = this.entries.get(certificate.key);
    // Unchanged only when the names are too: an Ingress whose TLS entry gains a
    // host keeps its Secret's PEMs, and SNI must serve the new host (issue 14).
    if (
      previous?.certPem === certificate.certPem &&
      previous.keyPem === certificate.keyPem &&
      sameNames(previous.names, certificate.names)
    ) {
      return;
    }
    this.entries.set(certificate.key, certificate);
    this.changed();
  }

  delete(key: string): void {
    if (this.entries.delete(key)) {
      this.changed();
    }
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Every certificate, in order. */
  list(): readonly StoredCertificate[] {
    return [...this.entries.values()];
  }

  select(servername: string | undefined): StoredCertificate | undefined {
    if (servername !== undefined && servername !== "") {
      const name = servername.toLowerCase();
      const all = [...this.entries.values()];
      const exact = all.find((c) => c.names.includes(name));
      if (exact !== undefined) return exact;
      const wildcard = all.find((c) => c.names.some((pattern) => pattern.startsWith("*.") && matchesHost(pattern, name)));
      if (wildcard !== undefined) return wildcard;
    }
    return this.entries.values().next().value;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/** The same names, whatever their order. */
function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) {
    return false;
  }
  const names = new Set(a);
  return b.every((name) => names.has(name));
}
