import { describe, expect, it } from "vitest";
import { DynamicTable, type EvictionListener } from "./dynamic-table.ts";

function entries(table: DynamicTable): string[] {
  return Array.from({ length: table.length }, (_, i) => `${table.name(i + 1)}: ${table.value(i + 1)}`);
}

class Recorder implements EvictionListener {
  readonly evictions: string[] = [];
  evicted(name: string, value: string, id: number): void {
    this.evictions.push(`${id} ${name}: ${value}`);
  }
}

describe("DynamicTable", () => {
  it("sizes entries as name + value octets + 32 (RFC 7541 §4.1)", () => {
    const table = new DynamicTable(4096);
    table.add("custom-key", "custom-header");
    expect(table.size).toBe(55); // RFC 7541 C.2.1
    table.add("", "");
    expect(table.size).toBe(87);
  });

  it("indexes newest first (§2.3.3)", () => {
    const table = new DynamicTable(4096);
    table.add("a", "1");
    table.add("b", "2");
    table.add("c", "3");
    expect(entries(table)).toEqual(["c: 3", "b: 2", "a: 1"]);
    expect(table.insertCount).toBe(3);
  });

  it("evicts the oldest entries first to make room (§4.4)", () => {
    const recorder = new Recorder();
    const table = new DynamicTable(3 * 34, recorder); // room for three 34-octet entries
    for (const name of ["a", "b", "c", "d", "e"]) table.add(name, "1");
    expect(entries(table)).toEqual(["e: 1", "d: 1", "c: 1"]);
    expect(table.size).toBe(102);
    expect(recorder.evictions).toEqual(["0 a: 1", "1 b: 1"]);
  });

  it("evicts as many entries as a large one needs", () => {
    const table = new DynamicTable(100);
    table.add("a", "1"); // 34
    table.add("b", "2"); // 34
    table.add("c", "x".repeat(40)); // 73: both go
    expect(entries(table)).toEqual([`c: ${"x".repeat(40)}`]);
    expect(table.size).toBe(73);
  });

  it("empties itself for an entry larger than the table, without adding it (§4.4)", () => {
    const recorder = new Recorder();
    const table = new DynamicTable(64, recorder);
    table.add("a", "1");
    table.add("big", "x".repeat(64));
    expect(table.length).toBe(0);
    expect(table.size).toBe(0);
    expect(recorder.evictions).toEqual(["0 a: 1"]);
    table.add("a", "x".repeat(31)); // exactly 64 fits
    expect(table.size).toBe(64);
  });

  it("evicts down to a lower maximum size, and keeps the new maximum (§4.3)", () => {
    const table = new DynamicTable(4096);
    for (let i = 0; i < 10; i++) table.add(`n${i}`, "v"); // 35 each
    table.setMaxSize(100);
    expect(entries(table)).toEqual(["n9: v", "n8: v"]);
    expect(table.maxSize).toBe(100);
    table.setMaxSize(0);
    expect(table.length).toBe(0);
    table.add("a", "");
    expect(table.length).toBe(0);
    table.setMaxSize(4096);
    table.add("a", "");
    expect(entries(table)).toEqual(["a: "]);
  });

  it("grows its ring past the first 8 slots and wraps around without losing order", () => {
    const table = new DynamicTable(4096);
    for (let i = 0; i < 300; i++) {
      table.add(`name-${i}`, `value-${i}`);
      // name-i + value-i: about 50 octets, so some 80 fit and the oldest keep going
      expect(table.name(1)).toBe(`name-${i}`);
    }
    const held = table.length;
    expect(held).toBeGreaterThan(70);
    for (let index = 1; index <= held; index++) {
      expect(table.value(index)).toBe(`value-${300 - index}`);
    }
    expect(table.size).toBeLessThanOrEqual(4096);
  });

  it("keeps each entry's flags", () => {
    const table = new DynamicTable(4096);
    table.add("a", "1", 2);
    table.add("b", "2", 0);
    expect(table.flagsAt(1)).toBe(0);
    expect(table.flagsAt(2)).toBe(2);
    for (let i = 0; i < 20; i++) table.add(`c${i}`, "", 1); // through a grow
    expect(table.flagsAt(22)).toBe(2);
  });
});
