import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type YAMLError } from "yaml";
import { ConfigError, type ConfigErrorLocation, type ConfigPath } from "./config-error.ts";
import type { GatewayConfig } from "./gateway-config.ts";
import { validateConfig } from "./validate-config.ts";

/**
 * Parses and validates configuration YAML. `source` names where the text came
 * from (normally the file path) and prefixes every error message.
 *
 * Kept separate from file reading so tests and embedders can load a config
 * from a string. Every failure — YAML syntax, duplicate keys, more than one
 * document, an empty file, or a validation error — becomes a
 * {@link ConfigError} of the form `<source>:<line>:<column>: <path>: <problem>`,
 * pointing at the offending key so operators can jump straight to it.
 *
 * @throws ConfigError describing the first problem found.
 */
export function loadConfigText(text: string, source: string): GatewayConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
  const at = (offset: number | undefined, cause?: unknown): ConfigErrorLocation => {
    if (offset === undefined) return { source, cause };
    const { line, col } = lineCounter.linePos(offset);
    return { source, line, column: col, cause };
  };

  // Warnings (e.g. an unresolved `!tag`) are errors too: a config file must mean exactly one thing.
  const yamlError = document.errors[0] ?? document.warnings[0];
  if (yamlError !== undefined) {
    throw new ConfigError([], describeYamlError(yamlError, document), at(yamlError.pos[0], yamlError));
  }
  if (document.contents === null) {
    throw new ConfigError([], "the config file is empty (expected a mapping with listeners, routes and backends)", {
      source,
    });
  }

  let raw: unknown;
  try {
    raw = document.toJS(); // caps alias expansion, so a "billion laughs" file cannot exhaust memory
  } catch (error) {
    throw new ConfigError([], `invalid YAML: ${error instanceof Error ? error.message : String(error)}`, at(0, error));
  }

  try {
    return validateConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) throw error.withLocation(at(locate(document, error.keyPath)));
    throw error;
  }
}

/**
 * Reads, parses and validates the configuration file at `path`: the one call
 * the CLI makes at startup. An unreadable file is a {@link ConfigError} too,
 * so the CLI has a single kind of error to print. `readText` is the
 * runtime's file reader (the core never touches the file system itself).
 *
 * @throws ConfigError describing the first problem found.
 */
export async function loadConfigFile(
  path: string,
  readText: (path: string) => Promise<string>,
): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readText(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([], `cannot read the config file: ${reason}`, { source: path, cause: error });
  }
  return withPathsRelativeTo(path, loadConfigText(text, path));
}

/** Every file a config names (kubeconfig, certificates, CA bundles), resolved against the config file's directory. */
function withPathsRelativeTo(file: string, config: GatewayConfig): GatewayConfig {
  const resolve = (target: string) => relativeTo(file, target);
  const optionalPath = (target: string | undefined) => (target === undefined ? undefined : resolve(target));
  return {
    ...config,
    listeners: config.listeners.map((listener) =>
      listener.tls === undefined
        ? listener
        : {
            ...listener,
            tls: {
              certificates: listener.tls.certificates.map((c) => ({ certFile: resolve(c.certFile), keyFile: resolve(c.keyFile) })),
            },
          },
    ),
    backends: config.backends.map((backend) => ({
      ...backend,
      tls: backend.tls === undefined ? undefined : { ...backend.tls, caFile: optionalPath(backend.tls.caFile) },
      schemas: { ...backend.schemas, descriptorSets: backend.schemas.descriptorSets.map(resolve) },
    })),
    kubernetes: { ...config.kubernetes, kubeconfig: optionalPath(config.kubernetes.kubeconfig) },
  };
}

/** Paths in a config file are relative to the file, as users expect when they keep the two side by side. */
function relativeTo(file: string, target: string): string {
  if (target.startsWith("/")) return target;
  const slash = file.lastIndexOf("/");
  return slash < 0 ? target : file.slice(0, slash + 1) + target;
}

function describeYamlError(error: YAMLError, document: Document): string {
  switch (error.code) {
    case "DUPLICATE_KEY": {
      let key: unknown;
      visit(document, {
        Pair: (_, pair) => {
          if (!isScalar(pair.key) || pair.key.range?.[0] !== error.pos[0]) return undefined;
          key = pair.key.value;
          return visit.BREAK;
        },
      });
      return key === undefined ? "duplicate key" : `duplicate key ${JSON.stringify(String(key))}`;
    }
    case "MULTIPLE_DOCS":
      return 'the config file must hold a single YAML document (found another after "---")';
    default:
      return `invalid YAML: ${error.message}`;
  }
}

/**
 * Source offset of the node at `keyPath`: the key itself for a map entry, the
 * item for an array element. A key that is missing (a required key, say) is
 * reported at its nearest existing ancestor.
 */
function locate(document: Document, keyPath: ConfigPath): number | undefined {
  for (let length = keyPath.length; length > 0; length--) {
    const parent: unknown = document.getIn(keyPath.slice(0, length - 1), true);
    const last = keyPath[length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(last));
      if (pair !== undefined && isNode(pair.key)) return pair.key.range?.[0];
    } else if (isSeq(parent) && typeof last === "number") {
      const item: unknown = parent.items[last];
      if (isNode(item)) return item.range?.[0];
    }
  }
  return isNode(document.contents) ? document.contents.range?.[0] : undefined;
}
