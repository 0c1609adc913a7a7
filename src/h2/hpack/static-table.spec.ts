import { describe, expect, it } from "vitest";
import { staticExactIndex, staticNameIndex, staticNames, staticTableLength, staticValues } from "./static-table.ts";

describe("staticNames / staticValues (RFC 7541 Appendix A)", () => {
  it("hold 61 entries after the unused index 0", () => {
    expect(staticTableLength).toBe(61);
    expect(staticNames.length).toBe(62);
    expect(staticValues.length).toBe(62);
  });

  it("match Appendix A at its landmarks", () => {
    const entry = (i: number) => [staticNames[i], staticValues[i]];
    expect(entry(1)).toEqual([":authority", ""]);
    expect(entry(2)).toEqual([":method", "GET"]);
    expect(entry(7)).toEqual([":scheme", "https"]);
    expect(entry(8)).toEqual([":status", "200"]);
    expect(entry(14)).toEqual([":status", "500"]);
    expect(entry(16)).toEqual(["accept-encoding", "gzip, deflate"]);
    expect(entry(23)).toEqual(["authorization", ""]);
    expect(entry(31)).toEqual(["content-type", ""]);
    expect(entry(55)).toEqual(["set-cookie", ""]);
    expect(entry(58)).toEqual(["user-agent", ""]);
    expect(entry(61)).toEqual(["www-authenticate", ""]);
  });

  it("has only lower-case names, and values only in entries 2-14 and 16", () => {
    for (let i = 1; i <= 61; i++) {
      expect(staticNames[i]).toBe(staticNames[i]!.toLowerCase());
      expect(staticValues[i] !== "", `entry ${i}`).toBe((i >= 2 && i <= 14) || i === 16);
    }
  });
});

describe("staticNameIndex()", () => {
  it("gives the lowest index of a name, 0 for names not in the table", () => {
    expect(staticNameIndex(":authority")).toBe(1);
    expect(staticNameIndex(":method")).toBe(2);
    expect(staticNameIndex(":path")).toBe(4);
    expect(staticNameIndex(":status")).toBe(8);
    expect(staticNameIndex("www-authenticate")).toBe(61);
    expect(staticNameIndex("grpc-status")).toBe(0);
    expect(staticNameIndex("Content-Type")).toBe(0);
    expect(staticNameIndex("")).toBe(0);
  });

  it("agrees with the table for every name", () => {
    for (let i = 1; i <= 61; i++) expect(staticNames[staticNameIndex(staticNames[i]!)]).toBe(staticNames[i]);
  });
});

describe("staticExactIndex()", () => {
  const exact = (name: string, value: string) => staticExactIndex(staticNameIndex(name), name, value);

  it("finds each entry by its name and value", () => {
    for (let i = 1; i <= 61; i++) expect(exact(staticNames[i]!, staticValues[i]!), `entry ${i}`).toBe(i);
  });

  it("gives 0 for a known name with another value, or an unknown name", () => {
    expect(exact(":status", "418")).toBe(0);
    expect(exact(":method", "PUT")).toBe(0);
    expect(exact("content-type", "application/grpc")).toBe(0);
    expect(exact("grpc-status", "")).toBe(0);
  });
});
