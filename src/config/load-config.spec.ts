import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.ts";
import { loadConfigFile, loadConfigText } from "./load-config.ts";

const readText = (path: string): Promise<string> => readFile(path, "utf8");

const EXAMPLE = `listeners:
  - address: 127.0.0.1:8080
admin:
  address: 127.0.0.1:9901
routes:
  - services: ["greet.v1.GreetService", "shop.v1."]
    backend: greet
  - backend: greet
backends:
  - name: greet
    balancer: round_robin
    discovery:
      static:
        endpoints: ["127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"]
`;

/** The ConfigError thrown for `text`; fails the test if loading succeeds. */
function errorFor(text: string, source = "gateway.yaml"): ConfigError {
  try {
    loadConfigText(text, source);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected loadConfigText to throw");
}

describe("loadConfigText", () => {
  it("loads the example config with every default filled", () => {
    const config = loadConfigText(EXAMPLE, "gateway.yaml");
    expect(config.listeners).toEqual([{ address: { host: "127.0.0.1", port: 8080 } }]);
    expect(config.admin).toEqual({ address: { host: "127.0.0.1", port: 9901 } });
    expect(config.routes).toEqual([
      { services: ["greet.v1.GreetService", "shop.v1."], backend: "greet" },
      { services: undefined, backend: "greet" },
    ]);
    expect(config.backends[0]?.discovery).toEqual({
      kind: "static",
      endpoints: [50051, 50052, 50053].map((port) => ({ host: "127.0.0.1", port })),
    });
    expect(config.limits).toEqual({ maxMessageBytes: 4194304, maxHeaderListBytes: 16384, maxConcurrentStreams: 100, maxConnections: 10000, headersTimeoutMs: 10000, idleTimeoutMs: 300000 });
    expect(config.shutdown).toEqual({ gracePeriodMs: 30000 });
  });

  it("accepts CRLF line endings, a byte order mark and limits", () => {
    const text = `\uFEFF${EXAMPLE}limits:\n  maxMessageBytes: 1048576\n`.replaceAll("\n", "\r\n");
    expect(loadConfigText(text, "gateway.yaml").limits.maxMessageBytes).toBe(1048576);
  });

  it("reports a YAML syntax error with file, line and column", () => {
    const error = errorFor("listeners:\n  - address: [127.0.0.1:8080\nroutes: []\n");
    expect(error.message).toMatch(/^gateway\.yaml:3:1: invalid YAML: /);
    expect(error).toMatchObject({ source: "gateway.yaml", line: 3, column: 1, path: "" });
  });

  it("reports tabs used as indentation", () => {
    expect(errorFor("listeners:\n\t- address: 127.0.0.1:0\n").message).toMatch(/^gateway\.yaml:2:1: invalid YAML: Tabs/);
  });

  it("reports a duplicate top-level key with its line", () => {
    const error = errorFor(`${EXAMPLE}listeners:\n  - address: 127.0.0.1:8081\n`);
    expect(error.message).toBe('gateway.yaml:15:1: duplicate key "listeners"');
  });

  it("reports a duplicate nested key with its line and column", () => {
    const error = errorFor(EXAMPLE.replace("    backend: greet\n", "    backend: greet\n    backend: shop\n"));
    expect(error.message).toBe('gateway.yaml:8:5: duplicate key "backend"');
  });

  it("reports a duplicate quoted key in a flow mapping", () => {
    expect(errorFor(EXAMPLE.replace("  address: 127.0.0.1:9901", '  { "address": a:1, address: b:2 }')).message).toBe(
      'gateway.yaml:4:21: duplicate key "address"',
    );
  });

  it("rejects an empty file", () => {
    expect(errorFor("").message).toBe(
      "gateway.yaml: the config file is empty (expected a mapping with listeners, routes and backends)",
    );
    expect(errorFor("# nothing here\n\n").message).toMatch(/^gateway\.yaml: the config file is empty/);
  });

  it("rejects a document that is not a mapping", () => {
    expect(errorFor("- listeners\n").message).toBe("gateway.yaml:1:1: expected an object, got array");
    expect(errorFor("~\n").message).toBe("gateway.yaml:1:1: expected an object, got null");
  });

  it("rejects several YAML documents", () => {
    expect(errorFor(`${EXAMPLE}---\n${EXAMPLE}`).message).toMatch(
      /^gateway\.yaml:15:1: the config file must hold a single YAML document/,
    );
  });

  it("rejects unresolved tags", () => {
    expect(errorFor(EXAMPLE.replace("backend: greet", "backend: !env GREET")).message).toBe(
      "gateway.yaml:7:14: invalid YAML: Unresolved tag: !env",
    );
  });

  it("rejects alias expansion bombs", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let level = 1; level < 8; level++) {
      const previous = `*${String.fromCharCode(96 + level)}`;
      lines.push(`${String.fromCharCode(97 + level)}: &${String.fromCharCode(97 + level)} [${Array(10).fill(previous).join(", ")}]`);
    }
    expect(errorFor(lines.join("\n")).message).toMatch(/^gateway\.yaml:1:1: invalid YAML: /);
  });

  it("prefixes validation errors with the file and the line of the offending key", () => {
    const error = errorFor(EXAMPLE.replace("  - services:", "  - servces:"));
    expect(error.message).toBe("gateway.yaml:6:5: routes[0].servces: unknown key (expected one of: hosts, services, methods, backend, cors, defaultTimeout, maxTimeout)");
    expect(error).toMatchObject({ path: "routes[0].servces", line: 6, column: 5, source: "gateway.yaml" });
  });

  it("points at the array item for a bad endpoint", () => {
    const text = EXAMPLE.replace(
      '        endpoints: ["127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"]',
      "        endpoints:\n          - 127.0.0.1:50051\n          - 127.0.0.1\n",
    );
    expect(errorFor(text, "cfg/gw.yaml").message).toBe(
      'cfg/gw.yaml:16:13: backends[0].discovery.static.endpoints[1]: invalid address "127.0.0.1": missing port ' +
        "(expected host:port, e.g. 127.0.0.1:8080, [::1]:8080 or my-svc.ns.svc.cluster.local:50051)",
    );
  });

  it("points at the enclosing object for a missing key", () => {
    expect(errorFor(EXAMPLE.replace("    backend: greet\n", "")).message).toBe(
      "gateway.yaml:6:5: routes[0].backend: missing required key",
    );
  });

  it("reports a wrong type with its line", () => {
    expect(errorFor(`${EXAMPLE}limits:\n  maxMessageBytes: 4MiB\n`).message).toBe(
      "gateway.yaml:16:3: limits.maxMessageBytes: expected a number, got string",
    );
  });

  it("reports a cross-reference error at the route's backend key", () => {
    expect(errorFor(EXAMPLE.replace("  - backend: greet", "  - backend: shop")).message).toBe(
      'gateway.yaml:8:5: routes[1].backend: unknown backend "shop" (defined backends: greet)',
    );
  });

  it("reports a duplicate backend name at its key", () => {
    const text = `${EXAMPLE}  - name: greet\n    discovery: { static: { endpoints: ["10.0.0.1:80"] } }\n`;
    expect(errorFor(text).message).toBe(
      'gateway.yaml:15:5: backends[1].name: duplicate backend name "greet" (already used by backends[0])',
    );
  });
});

describe("loadConfigFile", () => {
  it("resolves a relative kubeconfig path against the config file's directory", async () => {
    const read = (text: string) => async () => text;
    const relative = await loadConfigFile("/etc/edgegate/gateway.yaml", read(`${EXAMPLE}kubernetes:\n  kubeconfig: ./kubeconfig\n`));
    expect(relative.kubernetes.kubeconfig).toBe("/etc/edgegate/./kubeconfig");
    const absolute = await loadConfigFile("/etc/edgegate/gateway.yaml", read(`${EXAMPLE}kubernetes:\n  kubeconfig: /root/.kube/config\n`));
    expect(absolute.kubernetes.kubeconfig).toBe("/root/.kube/config");
    const none = await loadConfigFile("gateway.yaml", read(EXAMPLE));
    expect(none.kubernetes.kubeconfig).toBeUndefined();
  });

  let directory = "";
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "edgegate-config-"));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("reads and validates a file", async () => {
    const path = join(directory, "gateway.yaml");
    await writeFile(path, EXAMPLE);
    const config = await loadConfigFile(path, readText);
    expect(config.backends.map((backend) => backend.name)).toEqual(["greet"]);
  });

  it("names the file in validation errors", async () => {
    const path = join(directory, "bad.yaml");
    await writeFile(path, EXAMPLE.replace("round_robin", "random"));
    await expect(loadConfigFile(path, readText)).rejects.toThrow(
      `${path}:11:5: backends[0].balancer: expected one of round_robin, least_request, got "random"`,
    );
  });

  it("rejects an empty file", async () => {
    const path = join(directory, "empty.yaml");
    await writeFile(path, "");
    await expect(loadConfigFile(path, readText)).rejects.toThrow(`${path}: the config file is empty`);
  });

  it("reports a file that cannot be read as a ConfigError", async () => {
    const path = join(directory, "missing.yaml");
    const error: unknown = await loadConfigFile(path, readText).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ source: path, path: "" });
    expect(String((error as Error).message)).toMatch(/: cannot read the config file: ENOENT/);
  });
});
