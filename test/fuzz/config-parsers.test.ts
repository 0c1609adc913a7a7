import * as fc from "fast-check";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.ts";
import { loadConfigText } from "../../src/config/load-config.ts";
import { MAX_DURATION_MS, parseDuration } from "../../src/config/parse-duration.ts";
import { parseHostPort } from "../../src/config/parse-host-port.ts";
import { anyUtf16, checkProperty, describeThrown, fuzzBudget, reportInputs } from "./fuzz-support.ts";

const startedAt = performance.now();
fuzzBudget(5000);
afterAll(() => reportInputs("config-parsers", startedAt));

/** The longest duration a Node.js timer can wait; a longer one fires at once. */
const maxTimerMs = 2 ** 31 - 1;
expect(MAX_DURATION_MS).toBe(maxTimerMs);

describe("parseHostPort", () => {
  const hostPortish = fc.oneof(
    anyUtf16({ maxLength: 30 }),
    fc.string({ unit: fc.constantFrom(..."0123456789abcdef:.[]-% "), maxLength: 30 }),
    fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6().map((h) => `[${h}]`), fc.domain(), fc.ipV4Extended(), fc.ipV6()), fc.integer({ min: -1, max: 70_000 })).map(
      ([host, port]) => `${host}:${port}`,
    ),
  );

  it("any text: a host and a port in range, or an Error saying what is wrong with the address", async () => {
    await checkProperty(
      "parseHostPort (any text)",
      fc.property(hostPortish, fc.boolean(), (text, allowZero) => {
        try {
          const { host, port } = parseHostPort(text, { allowZero });
          expect(host).not.toBe("");
          expect(host).not.toMatch(/[\s[\]/]/);
          expect(Number.isInteger(port)).toBe(true);
          expect(port).toBeGreaterThanOrEqual(allowZero ? 0 : 1);
          expect(port).toBeLessThanOrEqual(65535);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          expect((e as Error).message).toMatch(/^invalid address /);
        }
      }),
      { numRuns: 4000, timeLimitMs: 1000 },
    );
  });

  it("IPv4, bracketed IPv6 and DNS names with any valid port round-trip", async () => {
    await checkProperty(
      "parseHostPort (round trip)",
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        const text = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
        expect(parseHostPort(text)).toEqual({ host, port });
      }),
      { numRuns: 2000, timeLimitMs: 1000 },
    );
  });
});

describe("parseDuration", () => {
  it("any text: a whole number of milliseconds a timer can wait, or an Error", async () => {
    await checkProperty(
      "parseDuration (any text)",
      fc.property(
        fc.oneof(
          anyUtf16({ maxLength: 20 }),
          fc.stringMatching(/^\s?[-+]?\d{0,30}(\.\d{0,5})?(e\d)?(ms|s|m|h|d|us|ns|)?\s?$/),
          fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 300, maxLength: 400 }).map((digits) => `${digits}h`),
        ),
        (text) => {
          try {
            const ms = parseDuration(text);
            expect(Number.isInteger(ms)).toBe(true);
            expect(ms).toBeGreaterThanOrEqual(0);
            expect(ms).toBeLessThanOrEqual(maxTimerMs);
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            expect((e as Error).message).toMatch(/is not a duration|too long/);
          }
        },
      ),
      { numRuns: 4000, timeLimitMs: 1000 },
    );
  });

  it("a number and a unit round-trip to milliseconds", async () => {
    const units = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
    await checkProperty(
      "parseDuration (round trip)",
      fc.property(fc.constantFrom("ms", "s", "m", "h") as fc.Arbitrary<keyof typeof units>, fc.nat({ max: 1_000_000 }), fc.nat({ max: 999 }), (unit, whole, fraction) => {
        const ms = Math.round((whole + fraction / 1000) * units[unit]);
        const text = `${whole}.${String(fraction).padStart(3, "0")}${unit}`;
        if (ms <= maxTimerMs) {
          expect(parseDuration(text)).toBe(ms);
        } else {
          expect(() => parseDuration(text)).toThrow(/too long/);
        }
      }),
      { numRuns: 2000, timeLimitMs: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------

/** A config that uses every section, so mutations land on every reader. */
const fullConfig = `listeners:
  - address: 127.0.0.1:8080
  - address: "[::1]:8443"
    tls:
      certificates:
        - { certFile: api.crt, keyFile: api.key }
admin:
  address: 127.0.0.1:9901
routes:
  - hosts: ["api.example.com", "*.example.com"]
    services: ["greet.v1.GreetService", "shop.v1."]
    methods: ["Greet"]
    backend: greet
    defaultTimeout: 5s
    maxTimeout: 1m
    cors:
      allowedOrigins: ["https://app.example.com", "https://*.example.com"]
      allowedHeaders: ["x-tenant"]
      exposedHeaders: ["x-request-id"]
      maxAgeSeconds: 7200
  - backend: shop
backends:
  - name: greet
    balancer: least_request
    discovery:
      static:
        endpoints: ["127.0.0.1:50051", "[::1]:50052", "pod.ns.svc.cluster.local:50053"]
    tls: { caFile: ca.crt, serverName: greet.internal, insecureSkipVerify: false }
    schemas: { reflection: true, descriptorSets: [greet.binpb], refreshSeconds: 300, ignoreUnknownJsonFields: true }
    healthCheck: { interval: 5s, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 1, service: greet }
    outlierDetection: { consecutiveFailures: 5, baseEjectionTime: 10s, maxEjectionPercent: 50 }
    retry: { budgetPercent: 20, minRetriesPerSecond: 10 }
  - name: shop
    discovery:
      kubernetes: { namespace: shop, service: shop, port: grpc }
  - name: legacy
    discovery:
      dns: { host: legacy.example.com, port: 50051, refreshSeconds: 5, servers: ["10.0.0.10:53"] }
limits:
  maxMessageBytes: 4194304
  maxHeaderListBytes: 16384
  maxConcurrentStreams: 100
  maxConnections: 10000
  headersTimeout: 10s
  idleTimeout: 5m
shutdown:
  gracePeriod: 30s
kubernetes:
  kubeconfig: kube.yaml
  ingress: { className: edgegate, namespaces: [default] }
`;

/** Replaces, removes or adds one node anywhere in a parsed config. */
function mutate(value: unknown, path: readonly number[], replacement: unknown, action: number): unknown {
  if (value === null || typeof value !== "object") {
    return replacement;
  }
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (entries.length === 0 || path.length === 0) {
    return action % 3 === 0 ? replacement : value;
  }
  const index = (path[0] as number) % entries.length;
  const [key, child] = entries[index] as [string | number, unknown];
  const rest = path.slice(1);
  if (rest.length === 0) {
    if (action % 4 === 0) entries.splice(index, 1); // remove
    else if (action % 4 === 1) entries.push([`x${action}`, replacement]); // add an unknown key
    else entries[index] = [key, replacement]; // replace
  } else {
    entries[index] = [key, mutate(child, rest, replacement, action)];
  }
  return Array.isArray(value) ? entries.map(([, v]) => v) : Object.fromEntries(entries);
}

const yamlScalar = fc.oneof(
  fc.constantFrom("~", "null", "true", "no", "0x1F", "0o17", ".inf", "-.inf", ".nan", "1e400", "-0", "1_000", "12:30:00", "2001-12-14", "!!binary aGk=", "!tag x", "*alias", "&anchor x", "<<: *a", "|", ">", "'", '"', "{", "[", "- ", ": ", "#", "%YAML 1.2", "---", "...", "@", "`"),
  fc.stringMatching(/^[\w.:/*\[\]{}"' -]{0,12}$/),
  anyUtf16({ maxLength: 8 }),
);
const replacementValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(Number.POSITIVE_INFINITY, Number.NaN, -0, 2 ** 53, 1e300, "99999999999999999999999h", "0ms", "1.5s", "", "*.example.com", "a..b"),
  fc.integer(),
);

const configText = fc.oneof(
  // A structural mutation of the full config, written back as YAML.
  fc
    .tuple(fc.array(fc.nat(), { minLength: 0, maxLength: 5 }), replacementValue, fc.nat())
    .map(([path, replacement, action]) => stringifyYaml(mutate(parseYaml(fullConfig), path, replacement, action))),
  // A textual mutation: something inserted, cut or repeated at some offset.
  fc.tuple(fc.nat({ max: fullConfig.length }), fc.nat({ max: 60 }), yamlScalar, fc.nat()).map(([at, length, insert, kind]) => {
    const before = fullConfig.slice(0, at);
    const after = fullConfig.slice(at);
    switch (kind % 3) {
      case 0:
        return before + insert + after;
      case 1:
        return before + after.slice(length);
      default:
        return before + after.slice(0, length) + after;
    }
  }),
  // YAML-ish lines, and plain text.
  fc.array(fc.tuple(fc.nat({ max: 4 }), yamlScalar, fc.option(yamlScalar)), { maxLength: 8 }).map((lines) =>
    lines.map(([indent, key, value]) => `${"  ".repeat(indent)}${key}${value === null ? "" : `: ${value}`}`).join("\n"),
  ),
  anyUtf16({ maxLength: 80 }),
  // Alias bombs ("billion laughs") and deep nesting.
  fc.integer({ min: 2, max: 12 }).map((n) => {
    const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < n; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
    return `${lines.join("\n")}\nlisteners: *a${n - 1}\n`;
  }),
  fc.integer({ min: 1, max: 5000 }).map((n) => `listeners: ${"[".repeat(n)}${"]".repeat(n)}\n`),
);

describe("loadConfigText", () => {
  it("the full config used by the mutations is valid", () => {
    expect(loadConfigText(fullConfig, "edgegate.yaml").backends).toHaveLength(3);
  });

  it("any YAML-ish text: a valid config or a ConfigError, nothing else", async () => {
    const seen = { valid: 0, invalid: 0 };
    await checkProperty(
      "loadConfigText",
      fc.property(configText, (text) => {
        try {
          const config = loadConfigText(text, "edgegate.yaml");
          seen.valid++;
          for (const ms of [config.limits.headersTimeoutMs, config.limits.idleTimeoutMs, config.shutdown.gracePeriodMs]) {
            expect(ms).toBeLessThanOrEqual(maxTimerMs);
          }
        } catch (e) {
          if (!(e instanceof ConfigError)) {
            throw new Error(`expected a ConfigError, got ${describeThrown(e)}`);
          }
          seen.invalid++;
          expect(e.message).toMatch(/^edgegate\.yaml(:\d+:\d+)?: /);
        }
      }),
      { numRuns: 1000, timeLimitMs: 3000 },
    );
    console.log(`loadConfigText: ${seen.valid} valid, ${seen.invalid} ConfigError`);
    expect(seen.valid).toBeGreaterThan(10);
    expect(seen.invalid).toBeGreaterThan(100);
  });
});
