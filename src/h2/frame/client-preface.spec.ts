import { describe, expect, it } from "vitest";
import { CLIENT_PREFACE } from "./client-preface.ts";

describe("CLIENT_PREFACE", () => {
  it("is the 24 octets of RFC 9113 §3.4", () => {
    expect(CLIENT_PREFACE.length).toBe(24);
    expect(new TextDecoder().decode(CLIENT_PREFACE)).toBe("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  });
});
