import { readdirSync, readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { nodeRuntime } from "../src/adapter/node/node-runtime.ts";
import { type Pod, startPod } from "../src/adapter/node/start-pod.ts";
import type { GatewayConfig } from "../src/config/gateway-config.ts";
import { loadConfigText } from "../src/config/load-config.ts";
import { greetRoutes } from "../src/demo/greet-service.ts";
import { createGateway, type Gateway } from "../src/gateway/create-gateway.ts";
import { GreetService } from "../src/gen/greet/v1/greet_pb.ts";
import { createLogger } from "../src/log/logger.ts";
import { endpointSlice, type FakeKubeApi, type KubeObject, startFakeKubeApi } from "./support/fake-kube-api.ts";
import { createTestPki, type TestPki } from "./support/test-pki.ts";
import { loopbackLookup } from "./support/loopback-lookup.ts";

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

interface ServicePort {
  name: string;
  port: number;
  targetPort?: string | number;
  appProtocol?: string;
}

interface IngressBackend {
  service?: { name: string; port: { number?: number; name?: string } };
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  rules?: Rule[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace: string }>;
  spec?: {
    type?: string;
    controller?: string;
    ports?: ServicePort[];
    ingressClassName?: string;
    tls?: Array<{ hosts?: string[]; secretName?: string }>;
    rules?: Array<{ host?: string; http?: { paths: Array<{ path: string; pathType: string; backend: IngressBackend }> } }>;
    template?: {
      spec: {
        serviceAccountName?: string;
        containers: Array<{ name: string; ports?: Array<{ name: string; containerPort: number }> }>;
      };
    };
  };
}

function manifests(file: string): Manifest[] {
  const text = readFileSync(new URL(`../deploy/${file}`, import.meta.url), "utf8");
  return parseAllDocuments(text).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as Manifest;
  });
}

function only(list: Manifest[], kind: string): Manifest {
  const found = list.filter((m) => m.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0] as Manifest;
}

/** The API version of every kind the manifests may use: the current, served ones (no beta, no extensions/v1beta1). */
const CURRENT_API: Record<string, string> = {
  Namespace: "v1",
  ServiceAccount: "v1",
  ConfigMap: "v1",
  Service: "v1",
  Deployment: "apps/v1",
  ClusterRole: "rbac.authorization.k8s.io/v1",
  ClusterRoleBinding: "rbac.authorization.k8s.io/v1",
  Role: "rbac.authorization.k8s.io/v1",
  RoleBinding: "rbac.authorization.k8s.io/v1",
  Ingress: "networking.k8s.io/v1",
  IngressClass: "networking.k8s.io/v1",
};

/** What the gateway may read, and nothing more: get, list and watch on four resources. */
const EXPECTED_RULES = [
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: ["get", "list", "watch"] },
];

/** A role's rules as one rule per (group, resource), sorted: how they are written does not matter, what they grant does. */
function granted(rules: readonly Rule[]): Rule[] {
  return rules
    .flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.map((resource) => ({ apiGroups: [group], resources: [resource], verbs: [...rule.verbs].sort() })),
      ),
    )
    .sort((a, b) => `${a.apiGroups[0]}/${a.resources[0]}`.localeCompare(`${b.apiGroups[0]}/${b.resources[0]}`));
}

/** The listener of the config bound to `port`, by the container port the Service targets. */
function containerPort(deployment: Manifest, name: string | number | undefined): number | undefined {
  const ports = deployment.spec?.template?.spec.containers[0]?.ports ?? [];
  return typeof name === "number" ? name : ports.find((p) => p.name === name)?.containerPort;
}

// No cluster here: these checks keep the shipped manifests in step with the gateway's config and RBAC needs.
describe("deploy/ manifests", () => {
  const files = readdirSync(new URL("../deploy/", import.meta.url)).filter((f) => f.endsWith(".yaml"));
  const gateway = manifests("edgegate.yaml");
  const backend = manifests("example-backend.yaml");
  const ingressFile = manifests("example-ingress.yaml");
  const namespacedRbac = manifests("rbac-namespaced.yaml");
  const configMap = only(gateway, "ConfigMap");
  const config = loadConfigText(configMap.data?.["edgegate.yaml"] ?? "", "deploy/edgegate.yaml");
  const ingress = only(ingressFile, "Ingress");
  const backendService = only(backend, "Service");

  it("parse, every document, with current API versions", () => {
    expect(files).toEqual(expect.arrayContaining(["edgegate.yaml", "example-backend.yaml", "example-ingress.yaml", "rbac-namespaced.yaml"]));
    for (const file of files) {
      const documents = manifests(file);
      expect(documents.length).toBeGreaterThan(0);
      for (const m of documents) {
        expect(CURRENT_API[m.kind], `${file}: ${m.kind} ${m.metadata.name}`).toBeDefined();
        expect(m.apiVersion, `${file}: ${m.kind} ${m.metadata.name}`).toBe(CURRENT_API[m.kind]);
      }
    }
  });

  it("embed a gateway config the gateway accepts: a TLS and a cleartext listener, routes from Ingresses of the IngressClass", () => {
    const [tls, cleartext] = config.listeners;
    expect(tls?.tls).toEqual({ certificates: [] }); // certificates come from the Ingresses' TLS Secrets
    expect(cleartext?.tls).toBeUndefined();
    expect(config.kubernetes).toEqual({ kubeconfig: undefined, ingress: { className: "edgegate", namespaces: undefined } });
    expect(only(gateway, "IngressClass")).toMatchObject({
      metadata: { name: config.kubernetes.ingress?.className },
      spec: { controller: "edgegate.dev/ingress-controller" },
    });

    // The Service: 443 to the TLS listener (no h2c appProtocol: it is TLS), 80 to the cleartext one.
    const deployment = only(gateway, "Deployment");
    const service = gateway.find((m) => m.kind === "Service" && m.metadata.name === "edgegate") as Manifest;
    expect(service.spec?.type).toBe("LoadBalancer");
    const https = service.spec?.ports?.find((p) => p.port === 443);
    const http = service.spec?.ports?.find((p) => p.port === 80);
    expect(https?.name).toBe("https");
    expect(http?.name).toBe("http");
    expect(https?.appProtocol === undefined || https.appProtocol === "https").toBe(true);
    expect(containerPort(deployment, https?.targetPort)).toBe(tls?.address.port);
    expect(containerPort(deployment, http?.targetPort)).toBe(cleartext?.address.port);
  });

  it("grant exactly get, list and watch on EndpointSlices, Ingresses, Services and Secrets, to the gateway's ServiceAccount", () => {
    const deployment = only(gateway, "Deployment");
    const serviceAccount = only(gateway, "ServiceAccount");
    expect(deployment.spec?.template?.spec.serviceAccountName).toBe(serviceAccount.metadata.name);
    const roles = [...gateway, ...namespacedRbac].filter((m) => m.kind === "Role" || m.kind === "ClusterRole");
    expect(roles.map((m) => m.kind).sort()).toEqual(["ClusterRole", "Role"]);
    for (const role of roles) {
      expect(granted(role.rules ?? []), `${role.kind} ${role.metadata.name}`).toEqual(EXPECTED_RULES);
    }
    const bindings = [...gateway, ...namespacedRbac].filter((m) => m.kind === "RoleBinding" || m.kind === "ClusterRoleBinding");
    expect(bindings).toHaveLength(2);
    for (const binding of bindings) {
      const role = roles.find((r) => r.kind === binding.roleRef?.kind && r.metadata.name === binding.roleRef.name);
      expect(role, `${binding.kind} ${binding.metadata.name} -> ${binding.roleRef?.name}`).toBeDefined();
      expect(binding.subjects).toEqual([
        { kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: serviceAccount.metadata.namespace },
      ]);
    }
    // Ingresses are watched in all namespaces: the grant must be cluster-wide.
    expect(gateway.some((m) => m.kind === "ClusterRoleBinding")).toBe(true);
  });

  it("give an example Ingress of class edgegate, to a port of the example backend's Service by number, with a TLS Secret", () => {
    expect(ingress.spec?.ingressClassName).toBe(config.kubernetes.ingress?.className);
    const rules = ingress.spec?.rules ?? [];
    expect(rules).toHaveLength(1);
    const paths = rules[0]?.http?.paths ?? [];
    expect(paths).toHaveLength(1);
    const target = paths[0]?.backend.service;
    expect(target?.name).toBe(backendService.metadata.name);
    expect(ingress.metadata.namespace).toBe(backendService.metadata.namespace); // an Ingress reaches Services of its own namespace only
    expect(typeof target?.port.number).toBe("number");
    const servicePort = backendService.spec?.ports?.find((p) => p.port === target?.port.number);
    expect(servicePort?.name).toBe("grpc"); // the slices know the port by this name only
    const tls = ingress.spec?.tls ?? [];
    expect(tls).toHaveLength(1);
    expect(tls[0]?.secretName).toMatch(/^[a-z0-9][a-z0-9.-]*$/);
    expect(tls[0]?.hosts).toEqual([rules[0]?.host]);
  });
});

/** Whether a role's rules allow a request the gateway made to the API server. */
function allowed(rules: readonly Rule[], request: { method: string; path: string; watch: boolean }): boolean {
  // /api/v1[/namespaces/NS]/RESOURCE[/NAME] or /apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[/NAME]
  const match = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(\/[^/]+)?$/.exec(request.path.split("?")[0] ?? "");
  if (match === null || request.method !== "GET") return false;
  const group = match[1] ?? "";
  const resource = match[2] ?? "";
  const verb = request.watch ? "watch" : match[3] === undefined ? "list" : "get";
  return rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
}

// Still no cluster, but an in-process API server holding the example objects:
// the gateway, run with the ConfigMap's config, must serve the example Ingress
// over TLS and ask the API server for nothing the RBAC above does not grant.
describe("deploy/ manifests, played against a fake API server", () => {
  const gateway = manifests("edgegate.yaml");
  const ingress = only(manifests("example-ingress.yaml"), "Ingress");
  const backendService = only(manifests("example-backend.yaml"), "Service");
  const clusterRole = only(gateway, "ClusterRole");
  const host = ingress.spec?.rules?.[0]?.host ?? "";
  const namespace = ingress.metadata.namespace ?? "";
  let api: FakeKubeApi;
  let pki: TestPki;
  let pods: Pod[] = [];
  let running: Gateway;

  beforeAll(async () => {
    api = await startFakeKubeApi();
    pki = await createTestPki();
    const certificate = await pki.issue([host]);
    for (let i = 0; i < 3; i++) {
      const name = `demo-backend-${i}`;
      pods.push(await startPod(name, greetRoutes(name), { host: `127.0.0.${21 + i}`, port: pods[0]?.address.port ?? 0 }));
    }
    const now = new Date().toISOString();
    api.put("ingresses", { ...(ingress as unknown as KubeObject), metadata: { ...ingress.metadata, creationTimestamp: now } });
    api.put("services", backendService as unknown as KubeObject);
    api.put("secrets", {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: { name: ingress.spec?.tls?.[0]?.secretName ?? "", namespace },
      data: { "tls.crt": btoa(certificate.certPem), "tls.key": btoa(certificate.keyPem) },
    });
    api.put(
      "endpointslices",
      endpointSlice({
        namespace,
        name: `${backendService.metadata.name}-x1`,
        service: backendService.metadata.name,
        ports: [{ name: "grpc", port: pods[0]?.address.port ?? 0 }],
        endpoints: pods.map((pod) => ({ ip: pod.address.host })),
      }),
    );
    const fromConfigMap = loadConfigText(only(gateway, "ConfigMap").data?.["edgegate.yaml"] ?? "", "deploy/edgegate.yaml");
    const config: GatewayConfig = {
      ...fromConfigMap,
      listeners: fromConfigMap.listeners.map((listener) => ({ ...listener, address: { host: "127.0.0.1", port: 0 } })),
      admin: undefined,
      kubernetes: { ...fromConfigMap.kubernetes, kubeconfig: await api.writeKubeconfig() }, // in a pod: the ServiceAccount
    };
    running = await createGateway(config, nodeRuntime, createLogger("error", () => {}));
    for (let i = 0; i < 200 && !running.ready(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(running.ready()).toBe(true);
  });

  afterAll(async () => {
    await running?.close();
    await Promise.all(pods.map((pod) => pod.close()));
    await api?.close();
    pods = [];
  });

  it("serve the example Ingress's host over TLS (SNI) and h2c, balanced over the backend's pods", async () => {
    const [tls, cleartext] = running.listeners;
    const over = (baseUrl: string) =>
      createClient(GreetService, createGrpcTransport({ baseUrl, nodeOptions: { ca: pki.ca.certPem, lookup: loopbackLookup } }));
    const secure = over(`https://${host}:${tls?.port}`);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await secure.greet({ name: "you" })).pod);
    expect([...seen].sort()).toEqual(pods.map((pod) => pod.name).sort());
    expect((await over(`http://${host}:${cleartext?.port}`).greet({ name: "you" })).greeting).toBe("Hello, you!");
  });

  it("ask the API server only for what the ClusterRole grants", () => {
    expect(api.requests.length).toBeGreaterThan(0);
    for (const request of api.requests) {
      expect(allowed(clusterRole.rules ?? [], request), `${request.method} ${request.path}${request.watch ? " (watch)" : ""}`).toBe(true);
    }
    const secretRequests = api.requests.filter((r) => r.path.startsWith("/api/v1/secrets"));
    expect(secretRequests.length).toBeGreaterThan(0);
    for (const request of secretRequests) expect(request.query["fieldSelector"]).toBe("type=kubernetes.io/tls");
  });
});
