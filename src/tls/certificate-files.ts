import type { CertificateFiles } from "../config/gateway-config.ts";
import type { Logger } from "../log/logger.ts";
import type { Runtime } from "../runtime.ts";
import type { CertificateStore } from "./certificate-store.ts";

/** Waits this long after a change before reading, so a cert and key replaced one after the other are read together. */
const SETTLE_MS = 50;

/**
 * Loads the certificate files of the TLS listeners into the store and
 * reloads a pair whenever either file changes, without a restart: the next
 * handshake gets the new certificate, open connections keep theirs. A pair
 * that fails to load at startup stops the gateway (the error names the
 * file); one that fails later (half written, key not yet rotated) is logged
 * and the previous pair keeps serving until the files are right.
 */
export async function loadCertificateFiles(
  files: readonly CertificateFiles[],
  store: CertificateStore,
  runtime: Pick<Runtime, "readText" | "watchFile" | "inspectCertificate">,
  log: Logger,
): Promise<{ close(): void }> {
  const stops: Array<() => void> = [];
  const load = async (pair: CertificateFiles) => {
    const [certPem, keyPem] = await Promise.all([runtime.readText(pair.certFile), runtime.readText(pair.keyFile)]);
    const info = runtime.inspectCertificate({ certPem, keyPem });
    store.set({ key: `file:${pair.certFile}`, certPem, keyPem, names: info.names, notAfter: info.notAfter });
    return info;
  };
  for (const pair of files) {
    try {
      await load(pair);
    } catch (error) {
      stops.forEach((stop) => stop());
      throw new Error(`cannot load the certificate ${pair.certFile} with key ${pair.keyFile}: ${message(error)}`);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reload = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        load(pair).then(
          (info) =>
            log.info("certificate reloaded", {
              certFile: pair.certFile,
              names: info.names,
              notAfter: new Date(info.notAfter).toISOString(),
            }),
          (error: unknown) =>
            log.warn("certificate reload failed; serving the previous one", { certFile: pair.certFile, error: message(error) }),
        );
      }, SETTLE_MS);
    };
    const stopCert = runtime.watchFile(pair.certFile, reload);
    const stopKey = runtime.watchFile(pair.keyFile, reload);
    stops.push(() => {
      clearTimeout(timer);
      stopCert();
      stopKey();
    });
  }
  return { close: () => stops.forEach((stop) => stop()) };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
