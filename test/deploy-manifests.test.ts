import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadConfigText } from "../src/config/load-config.ts";

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  spec?: { ports?: Array<{ name: string; port: number; appProtocol?: string }> };
}

function manifests(file: string): Manifest[] {
  const text = readFileSync(new URL(`../deploy/${file}`, import.meta.url), "utf8");
  return parseAllDocuments(text).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as Manifest;
  });
}

// No cluster here: these checks keep the shipped manifests in step with the gateway's config and RBAC needs.
describe("deploy/ manifests", () => {
  const gateway = manifests("edgegate.yaml");
  const backend = manifests("example-backend.yaml");

  it("embed a gateway config the gateway accepts, watching the example backend's Service by port name", () => {
    const configMap = gateway.find((m) => m.kind === "ConfigMap");
    const config = loadConfigText(configMap?.data?.["edgegate.yaml"] ?? "", "deploy/edgegate.yaml");
    const discovery = config.backends[0]?.discovery;
    expect(discovery?.kind).toBe("kubernetes");
    const service = backend.find((m) => m.kind === "Service");
    expect(discovery).toMatchObject({ service: service?.metadata.name, port: service?.spec?.ports?.[0]?.name });
  });

  it("grant only get, list and watch on EndpointSlices", () => {
    const rules = [...gateway, ...manifests("rbac-cluster.yaml")]
      .filter((m) => m.kind === "Role" || m.kind === "ClusterRole")
      .flatMap((m) => m.rules ?? []);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule).toEqual({ apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] });
    }
  });
});
