import { describe, expect, it } from "vitest";
import { CertificateStore, type StoredCertificate } from "./certificate-store.ts";

function cert(key: string, names: string[], pem = key): StoredCertificate {
  return { key, names, certPem: pem, keyPem: `${pem}-key`, notAfter: 0 };
}

describe("CertificateStore", () => {
  it("selects by exact name, then one-label wildcard, else the first", () => {
    const store = new CertificateStore();
    store.set(cert("file:default", ["default.example.com"]));
    store.set(cert("file:wild", ["*.apps.example.com"]));
    store.set(cert("secret:shop/api", ["api.example.com", "x.apps.example.com"]));
    expect(store.select("api.example.com")?.key).toBe("secret:shop/api");
    expect(store.select("API.Example.com")?.key).toBe("secret:shop/api");
    expect(store.select("x.apps.example.com")?.key).toBe("secret:shop/api");
    expect(store.select("y.apps.example.com")?.key).toBe("file:wild");
    expect(store.select("a.y.apps.example.com")?.key).toBe("file:default");
    expect(store.select(undefined)?.key).toBe("file:default");
    expect(store.select("unknown.test")?.key).toBe("file:default");
  });

  it("replaces an entry on rotation, keeps its place, and tells subscribers only about real changes", () => {
    const store = new CertificateStore();
    let changes = 0;
    store.subscribe(() => changes++);
    store.set(cert("file:a", ["a.test"], "v1"));
    store.set(cert("file:b", ["b.test"]));
    store.set(cert("file:a", ["a.test"], "v1"));
    expect(changes).toBe(2);
    store.set(cert("file:a", ["a.test"], "v2"));
    expect(changes).toBe(3);
    expect(store.select("a.test")?.certPem).toBe("v2");
    expect(store.select(undefined)?.key).toBe("file:a");
    store.delete("file:a");
    store.delete("file:a");
    expect(changes).toBe(4);
    expect(store.select("a.test")?.key).toBe("file:b");
  });

  it("takes a change of names alone (same PEMs) as a change, and an order change as none", () => {
    const store = new CertificateStore();
    let changes = 0;
    store.subscribe(() => changes++);
    store.set(cert("secret:shop/api", ["api.example.com"]));
    store.set(cert("secret:shop/api", ["api.example.com", "new.example.com"]));
    expect(changes).toBe(2);
    expect(store.select("new.example.com")?.key).toBe("secret:shop/api");
    store.set(cert("secret:shop/api", ["new.example.com", "api.example.com"]));
    expect(changes).toBe(2);
  });

  it("has nothing to serve when empty", () => {
    expect(new CertificateStore().select("a.test")).toBeUndefined();
  });
});
