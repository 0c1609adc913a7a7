import { describe, expect, it } from "vitest";
import { defaultSensitiveNames, defaultUnindexedNames, namePolicy, sensitiveName, unindexedName } from "./indexing-policy.ts";
import { staticNameIndex } from "./static-table.ts";

describe("namePolicy()", () => {
  it("gives the lowest static index in the low bits", () => {
    expect(namePolicy(":path") & 0xff).toBe(4);
    expect(namePolicy(":status") & 0xff).toBe(8);
    expect(namePolicy("content-type") & 0xff).toBe(31);
    expect(namePolicy("grpc-status")).toBe(0);
  });

  it("marks the sensitive names, static or not", () => {
    for (const name of defaultSensitiveNames) {
      expect(namePolicy(name) & sensitiveName, name).toBe(sensitiveName);
      expect(namePolicy(name) & 0xff, name).toBe(staticNameIndex(name));
    }
    expect(namePolicy("authorization")).toBe(sensitiveName | 23);
  });

  it("marks the names whose values are new on every call, keeping their static index", () => {
    for (const name of defaultUnindexedNames) expect(namePolicy(name) & unindexedName, name).toBe(unindexedName);
    expect(namePolicy("content-length")).toBe(unindexedName | 28);
    expect(namePolicy("grpc-timeout")).toBe(unindexedName);
  });

  it("indexes the fields of gRPC calls that repeat", () => {
    for (const name of [":path", ":authority", "content-type", "te", "user-agent", "grpc-encoding", "grpc-status"]) {
      expect(namePolicy(name) & (sensitiveName | unindexedName), name).toBe(0);
    }
  });
});
