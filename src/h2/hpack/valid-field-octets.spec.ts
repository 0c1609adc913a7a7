import { describe, expect, it } from "vitest";
import { validFieldName, validFieldValue } from "./valid-field-octets.ts";

const octets = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const name = (text: string) => validFieldName(octets(text), 0, text.length);
const value = (text: string) => validFieldValue(octets(text), 0, text.length);

describe("validFieldName()", () => {
  it("accepts lower-case tokens and pseudo-header names", () => {
    for (const ok of ["content-type", "grpc-status", "x-b3-traceid", "a", ":path", ":authority", "!#$%&'*+-.^_`|~09"]) {
      expect(name(ok), ok).toBe(true);
    }
  });

  it("rejects upper case (RFC 9113 §8.2.1)", () => {
    expect(name("Content-Type")).toBe(false);
    expect(name("x-A")).toBe(false);
    expect(name(":Path")).toBe(false);
  });

  it("rejects controls, space, DEL, non-ASCII, an inner colon, and empty names", () => {
    for (const bad of ["", ":", "a b", "a\tb", "a\x00", "a\x7f", "caf\u00e9", "a:b", "::a", "a\r\n"]) {
      expect(name(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it("checks every octet on its own", () => {
    for (let octet = 0; octet < 256; octet++) {
      const allowed = octet > 0x20 && octet < 0x7f && !(octet >= 0x41 && octet <= 0x5a) && octet !== 0x3a;
      expect(validFieldName(Uint8Array.of(0x61, octet), 0, 2), `0x${octet.toString(16)}`).toBe(allowed);
    }
  });
});

describe("validFieldValue()", () => {
  it("accepts any octets but NUL, CR and LF, including obs-text and inner whitespace", () => {
    for (const ok of ["", "application/grpc", "a b\tc", "caf\u00e9\u00ff\u0080", "\x01\x7f", "x"]) {
      expect(value(ok), JSON.stringify(ok)).toBe(true);
    }
  });

  it("rejects NUL, CR and LF anywhere, and whitespace at either end (RFC 9113 §8.2.1)", () => {
    for (const bad of ["a\x00b", "a\rb", "a\nb", "\r\n", " a", "a ", "\ta", "a\t", " "]) {
      expect(value(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
