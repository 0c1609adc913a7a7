import { describe, expect, it } from "vitest";
import { latin1String } from "./latin1-string.ts";

describe("latin1String()", () => {
  it("makes one char per octet, 0x80-0x9f included (which TextDecoder's 'latin1', windows-1252, would change)", () => {
    const octets = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = latin1String(octets, 0, 256);
    expect(text.length).toBe(256);
    for (let i = 0; i < 256; i++) expect(text.charCodeAt(i)).toBe(i);
    expect(new TextDecoder("latin1").decode(octets.subarray(0x80, 0x81))).not.toBe("\u0080");
  });

  it("gives every length right, on each path (short cases, 16-octet pieces, the tail)", () => {
    const octets = Uint8Array.from({ length: 100 }, (_, i) => 0x21 + i);
    for (let start = 0; start < 3; start++) {
      for (let end = start; end <= 100; end++) {
        const expected = String.fromCharCode(...octets.subarray(start, end));
        expect(latin1String(octets, start, end), `${start}..${end}`).toBe(expected);
      }
    }
  });

  it("gives long strings right, ASCII (the runtime's decoder) or not (16-char pieces)", () => {
    for (const length of [127, 128, 129, 300, 5000]) {
      const ascii = Uint8Array.from({ length }, (_, i) => 0x20 + (i % 95));
      expect(latin1String(ascii, 0, length)).toBe(String.fromCharCode(...ascii));
      const high = ascii.slice();
      high[length - 1] = 0x80; // one octet that UTF-8 would reject, at the end
      const text = latin1String(high, 0, length);
      expect(text.length).toBe(length);
      expect(text.charCodeAt(length - 1)).toBe(0x80);
      expect(latin1String(ascii, 1, length)).toBe(String.fromCharCode(...ascii.subarray(1)));
    }
  });

  it("keeps UTF-8 as its octets, for whoever decodes it later", () => {
    const utf8 = new TextEncoder().encode("héllo ✓");
    const text = latin1String(utf8, 0, utf8.length);
    expect(text.length).toBe(utf8.length);
    expect(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0)))).toBe("héllo ✓");
  });
});
