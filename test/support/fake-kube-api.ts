import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

/**
 * An in-process stand-in for kube-apiserver's list/watch HTTP protocol.
 *
 * It exists so discovery code can be tested and benchmarked against the wire
 * behaviour the real server has (and that `@kubernetes/client-node` relies
 * on), including the awkward parts: items in lists without kind/apiVersion,
 * selector transitions turning into ADDED/DELETED, "410 Expired" delivered
 * as an ERROR event inside a 200 response, bookmarks only on request, and
 * watches that end or break mid-stream. Objects are changed through the
 * control API (`put`, `remove`), never over HTTP, so a test states the
 * cluster's history directly.
 */

// ---------------------------------------------------------------------------
// Public types

/** Object metadata, loose on purpose: tests add whatever the real API allows. */
export interface KubeObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  [key: string]: unknown;
}

/** Any Kubernetes object; kind and apiVersion are filled in by the store. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeObjectMeta;
  [key: string]: unknown;
}

/** A resource type the store serves, as the API's discovery documents describe it. */
export interface ResourceType {
  /** URL segment, e.g. `endpointslices`. */
  readonly plural: string;
  /** API group; `""` for the core group served under `/api`. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  /**
   * Field selector labels beyond `metadata.name` and `metadata.namespace`
   * (which every type has); the real server rejects any other field with 400.
   */
  readonly fieldLabels?: Readonly<Record<string, (object: KubeObject) => string | undefined>>;
}

/** The types the gateway is expected to read. Extra ones go in {@link FakeKubeApiOptions.resources}. */
export const BUILTIN_RESOURCES: readonly ResourceType[] = [
  {
    plural: "endpointslices",
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    listKind: "EndpointSliceList",
    namespaced: true,
  },
  { plural: "services", group: "", version: "v1", kind: "Service", listKind: "ServiceList", namespaced: true },
  {
    plural: "secrets",
    group: "",
    version: "v1",
    kind: "Secret",
    listKind: "SecretList",
    namespaced: true,
    fieldLabels: { type: (o) => (typeof o["type"] === "string" ? o["type"] : undefined) },
  },
  {
    plural: "ingresses",
    group: "networking.k8s.io",
    version: "v1",
    kind: "Ingress",
    listKind: "IngressList",
    namespaced: true,
  },
];

export interface FakeKubeApiOptions {
  /** Bearer token the server accepts; random by default so no test passes by accident without one. */
  token?: string;
  /** Port to listen on (127.0.0.1); 0 (default) picks a free one, which `start()` then reuses. */
  port?: number;
  /** Resource types served in addition to {@link BUILTIN_RESOURCES}. */
  resources?: readonly ResourceType[];
  /**
   * Sends a BOOKMARK to every watch that allowed them at this interval, as the
   * real server does about once a minute. Off by default so event streams stay
   * deterministic; `bookmark()` sends one on demand.
   */
  bookmarkIntervalMs?: number;
  /**
   * Watch history kept, in events. Older events are forgotten as by
   * `compact()`, like the apiserver's bounded watch cache. Unbounded by default.
   */
  historyLimit?: number;
}

/** One HTTP request the server answered, for assertions on what a client sent. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** Query parameters, the last value winning when one repeats. */
  readonly query: Record<string, string>;
  /** Status the server answered with (200 for a watch, even one that later carries an ERROR event). */
  status: number;
  readonly watch: boolean;
}

export interface WriteKubeconfigOptions {
  /** Namespace of the context. */
  namespace?: string;
  /** Directory to write into; a fresh temp dir (removed by `close()`) otherwise. */
  dir?: string;
  /** Token of the user; the server's own by default, another one to test rejection. */
  token?: string;
  /** `data` (default) embeds the CA as certificate-authority-data; `file` points certificate-authority at {@link FakeKubeApi.caFile}. */
  ca?: "data" | "file";
}

export interface FakeKubeApi {
  /** `https://127.0.0.1:PORT`, stable across `stop()`/`start()`. */
  readonly url: string;
  readonly token: string;
  /** Absolute path of the CA that signed the server's certificate. */
  readonly caFile: string;
  /** Every request answered so far, in order. */
  readonly requests: RecordedRequest[];
  /** Writes a kubeconfig for this server and returns its path. */
  writeKubeconfig(options?: WriteKubeconfigOptions): Promise<string>;
  /**
   * Creates or replaces the object (by namespace/name) and returns the stored
   * copy. A replace that changes nothing is a no-op, as on the real server:
   * no new resourceVersion, no event.
   */
  put(plural: string, object: KubeObject): KubeObject;
  /** Deletes the object; watches see DELETED with its last state at a new resourceVersion. Throws when it does not exist. */
  remove(plural: string, namespace: string, name: string): void;
  get(plural: string, namespace: string, name: string): KubeObject | undefined;
  /** Current objects of a type, optionally of one namespace, sorted as the server lists them. */
  list(plural: string, namespace?: string): KubeObject[];
  /** The cluster's current resourceVersion. */
  resourceVersion(): string;
  /** Sends a BOOKMARK at the current resourceVersion to every open watch that allowed bookmarks. */
  bookmark(): void;
  /** Forgets history up to the current resourceVersion: watching from an older one gets 410 Expired. */
  compact(): void;
  /** Destroys the connections of open watches mid-stream (no final chunk), as a crashed apiserver or LB would. */
  dropWatches(): void;
  /** Ends open watches cleanly, as the apiserver does when a watch's timeout runs out. */
  endWatches(): void;
  /** Makes the next `count` list/get/watch requests fail with `status` (default 500) and a Status body. */
  failNext(count: number, status?: number): void;
  /** Takes the server down: listener closed, every connection destroyed; state is kept. */
  stop(): Promise<void>;
  /** Brings the server back on the same port. */
  start(): Promise<void>;
  /** Open watch responses, optionally of one type. */
  openWatches(plural?: string): number;
  /** Stops the server for good and removes the kubeconfigs it wrote into temp dirs. */
  close(): Promise<void>;
}

/** The shape {@link endpointSlice} takes: the fields a test cares about, no more. */
export interface EndpointSliceSpec {
  namespace: string;
  name: string;
  /** Name of the Service, written to the `kubernetes.io/service-name` label as the controller does. */
  service: string;
  ports: Array<{ name?: string; port: number; protocol?: "TCP" | "UDP" | "SCTP"; appProtocol?: string }>;
  endpoints: Array<{
    ip: string;
    ready?: boolean;
    serving?: boolean;
    terminating?: boolean;
    pod?: string;
    nodeName?: string;
    zone?: string;
  }>;
  addressType?: "IPv4" | "IPv6" | "FQDN";
  /** Extra labels. */
  labels?: Record<string, string>;
}

/**
 * Builds an EndpointSlice as the endpointslice controller writes it, so
 * tests exercise the same optional-field shapes the gateway meets in a
 * cluster: a condition is left out (not `false`) when the controller would
 * not know it, and unnamed ports have the name `""`.
 */
export function endpointSlice(spec: EndpointSliceSpec): KubeObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: {
        "kubernetes.io/service-name": spec.service,
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        ...spec.labels,
      },
    },
    addressType: spec.addressType ?? "IPv4",
    endpoints: spec.endpoints.map((e) => {
      const conditions: Record<string, boolean> = {};
      if (e.ready !== undefined) conditions["ready"] = e.ready;
      if (e.serving !== undefined) conditions["serving"] = e.serving;
      if (e.terminating !== undefined) conditions["terminating"] = e.terminating;
      return {
        addresses: [e.ip],
        conditions,
        ...(e.pod !== undefined ? { targetRef: { kind: "Pod", namespace: spec.namespace, name: e.pod } } : {}),
        ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
        ...(e.zone !== undefined ? { zone: e.zone } : {}),
      };
    }),
    ports: spec.ports.map((p) => ({
      name: p.name ?? "",
      port: p.port,
      protocol: p.protocol ?? "TCP",
      ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
    })),
  };
}

// ---------------------------------------------------------------------------
// Statuses

interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

/** Reasons the apiserver gives for each code (metav1.StatusReason), so clients that switch on `reason` behave. */
const REASONS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

function failure(code: number, message: string, details?: Record<string, unknown>): KubeStatus {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: REASONS[code] ?? "Unknown",
    ...(details !== undefined ? { details } : {}),
    code,
  };
}

class HttpError extends Error {
  readonly status: KubeStatus;
  constructor(status: KubeStatus) {
    super(status.message);
    this.status = status;
  }
}

const badRequest = (message: string) => new HttpError(failure(400, message));

// ---------------------------------------------------------------------------
// Selectors, with the grammar of k8s.io/apimachinery/pkg/labels and /fields

type LabelOp = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

interface LabelRequirement {
  readonly key: string;
  readonly op: LabelOp;
  readonly values: ReadonlySet<string>;
}

type Token =
  | { kind: "id"; text: string }
  | { kind: "op"; text: "!" | "=" | "==" | "!=" | "(" | ")" | "," | "<" | ">" }
  | { kind: "eos"; text: "" };

const SPECIAL = new Set(["!", "=", "(", ")", ",", "<", ">"]);

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i] ?? "";
    if (/\s/.test(ch)) {
      i++;
    } else if (SPECIAL.has(ch)) {
      const two = input.slice(i, i + 2);
      if (two === "==" || two === "!=") {
        tokens.push({ kind: "op", text: two });
        i += 2;
      } else {
        tokens.push({ kind: "op", text: ch as "!" });
        i++;
      }
    } else {
      let j = i;
      while (j < input.length && !SPECIAL.has(input[j] ?? "") && !/\s/.test(input[j] ?? "")) j++;
      tokens.push({ kind: "id", text: input.slice(i, j) });
      i = j;
    }
  }
  tokens.push({ kind: "eos", text: "" });
  return tokens;
}

const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function validLabelKey(key: string): boolean {
  const slash = key.indexOf("/");
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return false;
  }
  return name.length > 0 && name.length <= 63 && NAME_PART.test(name);
}

function validLabelValue(value: string): boolean {
  return value === "" || (value.length <= 63 && NAME_PART.test(value));
}

/**
 * Parses a label selector exactly as far as a client can tell: the same
 * accepted forms (including the odd ones, `k=` and `k in (a,)`) and a 400 for
 * what the real parser rejects, so a gateway bug in building selectors shows
 * up here rather than against a cluster.
 */
function parseLabelSelector(selector: string): LabelRequirement[] {
  const tokens = tokenize(selector);
  let pos = 0;
  const peek = (): Token => tokens[pos] ?? { kind: "eos", text: "" };
  const next = (): Token => tokens[pos++] ?? { kind: "eos", text: "" };
  const fail = (message: string): never => {
    throw badRequest(`unable to parse requirement: ${message}`);
  };
  const show = (t: Token) => (t.kind === "eos" ? "" : t.text);

  const parseRequirement = (): LabelRequirement => {
    let op: LabelOp | undefined;
    let t = next();
    if (t.kind === "op" && t.text === "!") {
      op = "!";
      t = next();
    }
    if (t.kind !== "id") return fail(`found '${show(t)}', expected: identifier`);
    const key = t.text;
    if (!validLabelKey(key)) return fail(`key: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.'`);
    const after = peek();
    if (after.kind === "eos" || (after.kind === "op" && after.text === ",")) {
      return { key, op: op ?? "exists", values: new Set() };
    }
    if (op === "!") return { key, op, values: new Set() };
    const o = next();
    const values = new Set<string>();
    if (o.kind === "id" && (o.text === "in" || o.text === "notin")) {
      op = o.text;
      const open = next();
      if (!(open.kind === "op" && open.text === "(")) return fail(`found '${show(open)}', expected: '('`);
      const first = peek();
      if (first.kind === "op" && first.text === ")") {
        next();
        values.add("");
      } else {
        for (;;) {
          const v = next();
          if (v.kind === "id") {
            values.add(v.text);
            const sep = next();
            if (sep.kind === "op" && sep.text === ")") break;
            if (!(sep.kind === "op" && sep.text === ",")) return fail(`found '${show(sep)}', expected: ',' or ')'`);
            const n = peek();
            if (n.kind === "op" && n.text === ")") {
              next();
              values.add("");
              break;
            }
          } else if (v.kind === "op" && v.text === ",") {
            values.add("");
            const n = peek();
            if (n.kind === "op" && n.text === ")") {
              next();
              break;
            }
          } else {
            return fail(`found '${show(v)}', expected: ',', or identifier`);
          }
        }
      }
    } else if (o.kind === "op" && (o.text === "=" || o.text === "==" || o.text === "!=" || o.text === "<" || o.text === ">")) {
      op = o.text === "!=" ? "!=" : o.text === "<" ? "lt" : o.text === ">" ? "gt" : "=";
      const v = peek();
      if (v.kind === "eos" || (v.kind === "op" && v.text === ",")) {
        values.add("");
      } else if (v.kind === "id") {
        next();
        values.add(v.text);
      } else {
        return fail(`found '${show(v)}', expected: identifier`);
      }
    } else {
      return fail(`found '${show(o)}', expected: [!=, =, ==, in, notin, <, >]`);
    }
    for (const v of values) {
      if (op === "gt" || op === "lt") {
        if (!/^[-+]?\d+$/.test(v)) return fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
      } else if (!validLabelValue(v)) {
        return fail(`values[0][${key}]: Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'`);
      }
    }
    return { key, op, values };
  };

  const requirements: LabelRequirement[] = [];
  for (;;) {
    const t = peek();
    if (t.kind === "eos") return requirements;
    if (!(t.kind === "id" || (t.kind === "op" && t.text === "!"))) {
      return fail(`found '${show(t)}', expected: !, identifier, or 'end of string'`);
    }
    requirements.push(parseRequirement());
    const sep = next();
    if (sep.kind === "eos") return requirements;
    if (!(sep.kind === "op" && sep.text === ",")) return fail(`found '${show(sep)}', expected: ',' or 'end of string'`);
    const n = peek();
    if (!(n.kind === "id" || (n.kind === "op" && n.text === "!"))) {
      return fail(`found '${show(n)}', expected: identifier after ','`);
    }
  }
}

function labelsMatch(requirements: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  return requirements.every((r) => {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    switch (r.op) {
      case "=":
      case "in":
        return value !== undefined && r.values.has(value);
      case "!=":
      case "notin":
        return value === undefined || !r.values.has(value);
      case "exists":
        return has;
      case "!":
        return !has;
      case "gt":
      case "lt": {
        if (value === undefined || !/^[-+]?\d+$/.test(value)) return false;
        const bound = Number([...r.values][0]);
        return r.op === "gt" ? Number(value) > bound : Number(value) < bound;
      }
    }
  });
}

interface FieldRequirement {
  readonly get: (object: KubeObject) => string | undefined;
  readonly equal: boolean;
  readonly value: string;
}

/** Splits on a separator not escaped with a backslash (fields.ParseSelector allows `\,` and `\=` in values). */
function splitUnescaped(input: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < input.length; i++) {
    const ch = input[i] ?? "";
    if (ch === "\\" && i + 1 < input.length) {
      current += ch + (input[i + 1] ?? "");
      i++;
    } else if (ch === separator) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

const unescapeField = (s: string) => s.replace(/\\(.)/g, "$1");

function parseFieldSelector(selector: string, resource: ResourceType): FieldRequirement[] {
  if (selector.trim() === "") return [];
  return splitUnescaped(selector, ",").map((term) => {
    const match = /^((?:[^\\=!]|\\.)*?)(!=|==|=)(.*)$/.exec(term);
    if (match === null) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const field = unescapeField((match[1] ?? "").trim());
    const value = unescapeField(match[3] ?? "");
    let get: ((o: KubeObject) => string | undefined) | undefined;
    if (field === "metadata.name") get = (o) => o.metadata.name;
    else if (field === "metadata.namespace") get = (o) => o.metadata.namespace;
    else get = resource.fieldLabels?.[field];
    if (get === undefined) throw badRequest(`field label not supported: ${field}`);
    return { get, equal: match[2] !== "!=", value };
  });
}

function fieldsMatch(requirements: readonly FieldRequirement[], object: KubeObject): boolean {
  return requirements.every((r) => ((r.get(object) ?? "") === r.value) === r.equal);
}

// ---------------------------------------------------------------------------
// Store

type StoredEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One write, kept for watches that resume from an older resourceVersion. */
interface StoredEvent {
  readonly type: StoredEventType;
  readonly resource: ResourceType;
  readonly rv: number;
  /** State after the write; for DELETED, the last state stamped with the deletion's resourceVersion. */
  readonly object: KubeObject;
  /** State before it, which selector transitions and consistent list pages need. */
  readonly prev: KubeObject | undefined;
}

interface Watcher {
  readonly resource: ResourceType;
  readonly res: ServerResponse;
  readonly matches: (object: KubeObject) => boolean;
  readonly bookmarks: boolean;
  readonly timers: NodeJS.Timeout[];
}

const apiVersionOf = (r: ResourceType) => (r.group === "" ? r.version : `${r.group}/${r.version}`);
const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
/** RFC 3339 to the second, as metav1.Time serializes. */
const nowTimestamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Content that counts for a no-op check: everything the server itself does not stamp. */
function contentOf(o: KubeObject): string {
  const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ts, ...meta } = o.metadata;
  return stableStringify({ ...o, metadata: meta });
}

function withoutTypeMeta(o: KubeObject): Omit<KubeObject, "kind" | "apiVersion"> {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = o;
  return rest;
}

/** Go's strconv.ParseBool, which the apiserver uses for `watch` and `allowWatchBookmarks`. */
const parseBool = (s: string | undefined) => s !== undefined && ["1", "t", "T", "true", "TRUE", "True"].includes(s);

interface ContinueToken {
  rv: number;
  start: string;
}

/** The apiserver's continue token: base64url JSON with the list's revision and the next key. */
function encodeContinue(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start: `${lastKey}\u0000` })).toString("base64url");
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { v?: unknown; rv?: unknown; start?: unknown };
    if (parsed.v === "meta.k8s.io/v1" && typeof parsed.rv === "number" && typeof parsed.start === "string") {
      return { rv: parsed.rv, start: parsed.start };
    }
  } catch {
    // fall through to the 400 below
  }
  throw badRequest(`continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)`);
}

const TLS_DIR = fileURLToPath(new URL("../fixtures/tls/", import.meta.url));

// ---------------------------------------------------------------------------
// Server

export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const api = new FakeKubeApiServer(options);
  await api.start();
  return api;
}

class FakeKubeApiServer implements FakeKubeApi {
  readonly token: string;
  readonly caFile = join(TLS_DIR, "ca.crt");
  readonly requests: RecordedRequest[] = [];

  private readonly resources: ResourceType[];
  private readonly objects = new Map<ResourceType, Map<string, KubeObject>>();
  private history: StoredEvent[] = [];
  private rv = 1;
  /** Watches from below this resourceVersion cannot be served from history. */
  private compactedRv = 1;
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private readonly tempDirs: string[] = [];
  private readonly tls = {
    key: readFileSync(join(TLS_DIR, "localhost.key")),
    cert: readFileSync(join(TLS_DIR, "localhost.crt")),
  };
  private server: https.Server | undefined;
  private port: number;
  private failures = { count: 0, status: 500 };
  private kubeconfigs = 0;
  private closed = false;
  private readonly options: FakeKubeApiOptions;

  constructor(options: FakeKubeApiOptions) {
    this.options = options;
    this.token = options.token ?? randomBytes(16).toString("hex");
    this.port = options.port ?? 0;
    this.resources = [...BUILTIN_RESOURCES, ...(options.resources ?? [])];
    for (const r of this.resources) this.objects.set(r, new Map());
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  // ----- control API -----

  async writeKubeconfig(options: WriteKubeconfigOptions = {}): Promise<string> {
    let dir = options.dir;
    if (dir === undefined) {
      dir = await mkdtemp(join(tmpdir(), "fake-kube-api-"));
      this.tempDirs.push(dir);
    } else {
      await mkdir(dir, { recursive: true });
    }
    const cluster: Record<string, string> = { server: this.url };
    if (options.ca === "file") cluster["certificate-authority"] = this.caFile;
    else cluster["certificate-authority-data"] = readFileSync(this.caFile).toString("base64");
    const config = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "fake", cluster }],
      users: [{ name: "fake", user: { token: options.token ?? this.token } }],
      contexts: [
        {
          name: "fake",
          context: { cluster: "fake", user: "fake", ...(options.namespace !== undefined ? { namespace: options.namespace } : {}) },
        },
      ],
      "current-context": "fake",
      preferences: {},
    };
    const path = join(dir, `kubeconfig-${++this.kubeconfigs}.yaml`);
    await writeFile(path, stringify(config), { mode: 0o600 });
    return path;
  }

  put(plural: string, object: KubeObject): KubeObject {
    const resource = this.resource(plural);
    if (typeof object.metadata?.name !== "string" || object.metadata.name === "") {
      throw new Error(`put(${plural}): metadata.name is required`);
    }
    const next = structuredClone(object);
    next.apiVersion = apiVersionOf(resource);
    next.kind = resource.kind;
    if (resource.namespaced) next.metadata.namespace = object.metadata.namespace ?? "default";
    else delete next.metadata.namespace;
    const store = this.store(resource);
    const key = keyOf(next);
    const prev = store.get(key);
    if (prev !== undefined && contentOf(prev) === contentOf(next)) {
      return structuredClone(prev);
    }
    const rv = ++this.rv;
    next.metadata.resourceVersion = String(rv);
    next.metadata.uid = prev?.metadata.uid ?? randomUUID();
    next.metadata.creationTimestamp = prev?.metadata.creationTimestamp ?? nowTimestamp();
    store.set(key, next);
    this.record({ type: prev === undefined ? "ADDED" : "MODIFIED", resource, rv, object: next, prev });
    return structuredClone(next);
  }

  remove(plural: string, namespace: string, name: string): void {
    const resource = this.resource(plural);
    const store = this.store(resource);
    const key = `${resource.namespaced ? namespace : ""}/${name}`;
    const prev = store.get(key);
    if (prev === undefined) throw new Error(`remove(${plural}): ${key} does not exist`);
    const rv = ++this.rv;
    store.delete(key);
    const object = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(rv) } };
    this.record({ type: "DELETED", resource, rv, object, prev });
  }

  get(plural: string, namespace: string, name: string): KubeObject | undefined {
    const resource = this.resource(plural);
    const found = this.store(resource).get(`${resource.namespaced ? namespace : ""}/${name}`);
    return found === undefined ? undefined : structuredClone(found);
  }

  list(plural: string, namespace?: string): KubeObject[] {
    const resource = this.resource(plural);
    return this.sorted(this.store(resource))
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map((o) => structuredClone(o));
  }

  resourceVersion(): string {
    return String(this.rv);
  }

  bookmark(): void {
    for (const w of this.watchers) {
      if (w.bookmarks) this.sendBookmark(w);
    }
  }

  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  dropWatches(): void {
    for (const w of [...this.watchers]) {
      this.forget(w);
      w.res.socket?.destroy();
      w.res.destroy();
    }
  }

  endWatches(): void {
    for (const w of [...this.watchers]) {
      this.forget(w);
      w.res.end();
    }
  }

  failNext(count: number, status = 500): void {
    this.failures = { count, status };
  }

  openWatches(plural?: string): number {
    let n = 0;
    for (const w of this.watchers) {
      if (plural === undefined || w.resource.plural === plural) n++;
    }
    return n;
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error("fake kube-apiserver is closed");
    if (this.server !== undefined) return;
    const server = https.createServer({ ...this.tls }, (req, res) => this.handle(req, res));
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    // A client that hangs up mid-request must not take the test process down.
    server.on("clientError", (_err, socket) => socket.destroy());
    server.on("tlsClientError", () => {});
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const w of [...this.watchers]) this.forget(w);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  async close(): Promise<void> {
    await this.stop();
    this.closed = true;
    await Promise.all(this.tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  }

  // ----- store internals -----

  private resource(plural: string): ResourceType {
    const matches = this.resources.filter((r) => r.plural === plural || `${r.plural}.${r.group}` === plural);
    const [only] = matches;
    if (only === undefined || matches.length > 1) {
      throw new Error(`unknown or ambiguous resource type ${JSON.stringify(plural)}`);
    }
    return only;
  }

  private store(resource: ResourceType): Map<string, KubeObject> {
    const store = this.objects.get(resource);
    if (store === undefined) throw new Error(`no store for ${resource.plural}`);
    return store;
  }

  /** Keys in etcd's byte order, which is the order the real server lists in. */
  private sorted(store: Map<string, KubeObject>): KubeObject[] {
    return [...store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  private record(event: StoredEvent): void {
    this.history.push(event);
    const limit = this.options.historyLimit;
    if (limit !== undefined && this.history.length > limit) {
      const dropped = this.history.splice(0, this.history.length - limit);
      const last = dropped[dropped.length - 1];
      if (last !== undefined) this.compactedRv = last.rv;
    }
    for (const w of this.watchers) {
      if (w.resource === event.resource) this.deliver(w, event);
    }
  }

  /** The state of one type at an older resourceVersion, rebuilt by undoing newer history (it must not be compacted). */
  private stateAt(resource: ResourceType, rv: number): Map<string, KubeObject> {
    const state = new Map(this.store(resource));
    for (let i = this.history.length - 1; i >= 0; i--) {
      const event = this.history[i];
      if (event === undefined || event.rv <= rv) break;
      if (event.resource !== resource) continue;
      if (event.prev === undefined) state.delete(keyOf(event.object));
      else state.set(keyOf(event.prev), event.prev);
    }
    return state;
  }

  // ----- HTTP -----

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.on("error", () => {});
    const url = new URL(req.url ?? "/", "https://fake-kube-api");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query,
      status: 0,
      watch: parseBool(query["watch"]),
    };
    this.requests.push(record);
    try {
      this.route(req, res, url, query, record);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : failure(500, `Internal error occurred: ${String(err)}`);
      this.json(res, record, status.code, status);
    }
  }

  private route(req: IncomingMessage, res: ServerResponse, url: URL, query: Record<string, string>, record: RecordedRequest): void {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      throw new HttpError(failure(401, "Unauthorized"));
    }
    if (req.method !== "GET") {
      throw new HttpError(failure(405, "the server does not allow this method on the requested resource"));
    }
    let segments: string[];
    try {
      segments = url.pathname.split("/").filter((s) => s !== "").map(decodeURIComponent);
    } catch {
      throw notFound();
    }
    const discovery = this.discovery(segments);
    if (discovery !== undefined) {
      if (typeof discovery === "string") this.text(res, record, 200, discovery);
      else this.json(res, record, 200, discovery);
      return;
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === "api" && segments.length >= 2) {
      group = "";
      version = segments[1] ?? "";
      rest = segments.slice(2);
    } else if (segments[0] === "apis" && segments.length >= 3) {
      group = segments[1] ?? "";
      version = segments[2] ?? "";
      rest = segments.slice(3);
    } else {
      throw notFound();
    }
    let namespace: string | undefined;
    let plural: string | undefined;
    let name: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3 && rest.length <= 4) {
      [, namespace, plural, name] = rest;
    } else if (rest.length >= 1 && rest.length <= 2) {
      [plural, name] = rest;
    } else {
      throw notFound();
    }
    const resource = this.resources.find((r) => r.group === group && r.version === version && r.plural === plural);
    if (resource === undefined || (namespace !== undefined && !resource.namespaced) || (namespace === undefined && name !== undefined && resource.namespaced)) {
      throw notFound();
    }
    const watch = record.watch;
    if (this.failures.count > 0) {
      this.failures.count--;
      const code = this.failures.status;
      const details = code === 429 || code === 503 ? { retryAfterSeconds: 1 } : undefined;
      const headers: Record<string, string> = details !== undefined ? { "Retry-After": "1" } : {};
      this.json(res, record, code, failure(code, `injected failure (${code})`, details), headers);
      return;
    }
    if (name !== undefined && !watch) {
      this.getOne(res, record, resource, namespace, name);
      return;
    }
    const labels = parseLabelSelector(query["labelSelector"] ?? "");
    const fields = parseFieldSelector(query["fieldSelector"] ?? "", resource);
    const matches = (o: KubeObject) =>
      (namespace === undefined || o.metadata.namespace === namespace) &&
      (name === undefined || o.metadata.name === name) &&
      labelsMatch(labels, o.metadata.labels) &&
      fieldsMatch(fields, o);
    if (watch) this.watch(res, record, resource, query, matches);
    else this.listAll(res, record, resource, query, matches, labels.length + fields.length > 0);
  }

  private getOne(res: ServerResponse, record: RecordedRequest, resource: ResourceType, namespace: string | undefined, name: string): void {
    const found = this.store(resource).get(`${namespace ?? ""}/${name}`);
    if (found === undefined) {
      const qualified = resource.group === "" ? resource.plural : `${resource.plural}.${resource.group}`;
      throw new HttpError(
        failure(404, `${qualified} "${name}" not found`, {
          name,
          ...(resource.group !== "" ? { group: resource.group } : {}),
          kind: resource.plural,
        }),
      );
    }
    this.json(res, record, 200, found);
  }

  private listAll(
    res: ServerResponse,
    record: RecordedRequest,
    resource: ResourceType,
    query: Record<string, string>,
    matches: (o: KubeObject) => boolean,
    filtered: boolean,
  ): void {
    let atRv = this.rv;
    let start = "";
    const continueToken = query["continue"];
    const rvParam = query["resourceVersion"] ?? "";
    if (continueToken !== undefined && continueToken !== "") {
      const token = decodeContinue(continueToken);
      if (token.rv < this.compactedRv) {
        throw new HttpError(
          failure(
            410,
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
          ),
        );
      }
      atRv = token.rv;
      start = token.start;
    } else if (rvParam !== "" && rvParam !== "0") {
      const n = parseRv(rvParam);
      if (n > this.rv) {
        throw new HttpError(
          failure(504, `Too large resource version: ${n}, current: ${this.rv}`, {
            causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
            retryAfterSeconds: 1,
          }),
        );
      }
      if (query["resourceVersionMatch"] === "Exact") {
        if (n < this.compactedRv) throw new HttpError(failure(410, `too old resource version: ${n} (${this.compactedRv})`));
        atRv = n;
      }
    }
    const state = atRv === this.rv ? this.store(resource) : this.stateAt(resource, atRv);
    const all = this.sorted(state).filter((o) => keyOf(o) >= start && matches(o));
    const limit = Number(query["limit"] ?? "0");
    const page = Number.isInteger(limit) && limit > 0 ? all.slice(0, limit) : all;
    const last = page[page.length - 1];
    const more = page.length < all.length && last !== undefined;
    const metadata: Record<string, unknown> = { resourceVersion: String(atRv) };
    if (more) {
      metadata["continue"] = encodeContinue(atRv, keyOf(last));
      // The real server only knows the remaining count when nothing is filtered out.
      if (!filtered) metadata["remainingItemCount"] = all.length - page.length;
    }
    this.json(res, record, 200, {
      kind: resource.listKind,
      apiVersion: apiVersionOf(resource),
      metadata,
      items: page.map(withoutTypeMeta),
    });
  }

  private watch(
    res: ServerResponse,
    record: RecordedRequest,
    resource: ResourceType,
    query: Record<string, string>,
    matches: (o: KubeObject) => boolean,
  ): void {
    const rvParam = query["resourceVersion"] ?? "";
    const sendInitial = query["sendInitialEvents"] !== undefined ? parseBool(query["sendInitialEvents"]) : rvParam === "" || rvParam === "0";
    const from = rvParam === "" || rvParam === "0" ? undefined : parseRv(rvParam);
    const bookmarks = parseBool(query["allowWatchBookmarks"]);
    // Headers go out at once, as the apiserver flushes them before any event: a
    // client's watch() resolves on them, and tests time what follows.
    record.status = 200;
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Cache-Control": "no-cache, private",
      "Audit-Id": randomUUID(),
    });
    res.flushHeaders();
    if (from !== undefined && from < this.compactedRv && !sendInitial) {
      writeEvent(res, "ERROR", failure(410, `too old resource version: ${from} (${this.compactedRv})`));
      res.end();
      return;
    }
    const watcher: Watcher = { resource, res, matches, bookmarks, timers: [] };
    if (sendInitial) {
      for (const o of this.sorted(this.store(resource))) {
        if (matches(o)) writeEvent(res, "ADDED", o);
      }
      if (query["sendInitialEvents"] !== undefined && bookmarks) {
        this.sendBookmark(watcher, { "k8s.io/initial-events-end": "true" });
      }
    } else if (from !== undefined) {
      for (const event of this.history) {
        if (event.rv > from && event.resource === resource) this.deliver(watcher, event);
      }
    }
    this.watchers.add(watcher);
    // Fires when the client goes away as well as when the response ends.
    res.once("close", () => this.forget(watcher));
    const timeout = Number(query["timeoutSeconds"] ?? "0");
    if (Number.isFinite(timeout) && timeout > 0) {
      watcher.timers.push(
        setTimeout(() => {
          this.forget(watcher);
          res.end();
        }, timeout * 1000),
      );
    }
    const interval = this.options.bookmarkIntervalMs;
    if (bookmarks && interval !== undefined && interval > 0) {
      watcher.timers.push(setInterval(() => this.sendBookmark(watcher), interval));
    }
  }

  /**
   * Sends one stored event as a watch with this selector sees it: an object
   * that starts matching is ADDED, one that stops is DELETED (with its old
   * content at the new resourceVersion), as the apiserver's watch cache does.
   */
  private deliver(w: Watcher, event: StoredEvent): void {
    const now = event.type !== "DELETED" && w.matches(event.object);
    const before = event.prev !== undefined && w.matches(event.prev);
    if (now && !before) writeEvent(w.res, "ADDED", event.object);
    else if (now && before) writeEvent(w.res, "MODIFIED", event.object);
    else if (!now && before && event.prev !== undefined) {
      writeEvent(w.res, "DELETED", { ...event.prev, metadata: { ...event.prev.metadata, resourceVersion: String(event.rv) } });
    }
  }

  private sendBookmark(w: Watcher, annotations?: Record<string, string>): void {
    writeEvent(w.res, "BOOKMARK", {
      kind: w.resource.kind,
      apiVersion: apiVersionOf(w.resource),
      metadata: { resourceVersion: String(this.rv), ...(annotations !== undefined ? { annotations } : {}) },
    });
  }

  private forget(w: Watcher): void {
    this.watchers.delete(w);
    for (const t of w.timers) clearTimeout(t);
    w.timers.length = 0;
  }

  private discovery(segments: string[]): object | string | undefined {
    const path = segments.join("/");
    if (path === "version") {
      return { major: "1", minor: "34", gitVersion: "v1.34.0-fake", platform: "linux/amd64" };
    }
    if (path === "healthz" || path === "livez" || path === "readyz") return "ok";
    if (path === "api") {
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `127.0.0.1:${this.port}` }],
      };
    }
    const groups = [...new Set(this.resources.filter((r) => r.group !== "").map((r) => r.group))];
    const groupDoc = (g: string) => {
      const versions = [...new Set(this.resources.filter((r) => r.group === g).map((r) => r.version))].map((v) => ({
        groupVersion: `${g}/${v}`,
        version: v,
      }));
      return { name: g, versions, preferredVersion: versions[0] };
    };
    if (path === "apis") return { kind: "APIGroupList", apiVersion: "v1", groups: groups.map(groupDoc) };
    const resourceList = (group: string, version: string) => {
      const rs = this.resources.filter((r) => r.group === group && r.version === version);
      if (rs.length === 0) return undefined;
      return {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: group === "" ? version : `${group}/${version}`,
        resources: rs.map((r) => ({
          name: r.plural,
          singularName: r.kind.toLowerCase(),
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ["get", "list", "watch"],
        })),
      };
    };
    if (segments[0] === "api" && segments.length === 2) return resourceList("", segments[1] ?? "");
    if (segments[0] === "apis" && segments.length === 2 && groups.includes(segments[1] ?? "")) {
      return { kind: "APIGroup", apiVersion: "v1", ...groupDoc(segments[1] ?? "") };
    }
    if (segments[0] === "apis" && segments.length === 3) return resourceList(segments[1] ?? "", segments[2] ?? "");
    return undefined;
  }

  private json(res: ServerResponse, record: RecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}): void {
    record.status = status;
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(payload),
      "Cache-Control": "no-cache, private",
      "Audit-Id": randomUUID(),
      ...headers,
    });
    res.end(payload);
  }

  private text(res: ServerResponse, record: RecordedRequest, status: number, body: string): void {
    record.status = status;
    res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }
}

const notFound = () => new HttpError(failure(404, "the server could not find the requested resource", {}));

function parseRv(s: string): number {
  if (!/^\d+$/.test(s)) throw badRequest(`invalid resource version "${s}"`);
  return Number(s);
}

/** One event per line, written straight to the socket; nothing is batched, so tests can time delivery. */
function writeEvent(res: ServerResponse, type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR", object: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  res.write(`${JSON.stringify({ type, object })}\n`);
}
