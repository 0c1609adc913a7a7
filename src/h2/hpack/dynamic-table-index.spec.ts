import { describe, expect, it } from "vitest";
import { DynamicTable } from "./dynamic-table.ts";
import { DynamicTableIndex } from "./dynamic-table-index.ts";

/** A table and its index, kept together as the encoder keeps them. */
function indexed(maxSize: number) {
  const index = new DynamicTableIndex();
  const table = new DynamicTable(maxSize, index);
  const add = (name: string, value: string) => {
    table.add(name, value);
    index.added(name, value, table.insertCount - 1);
  };
  /** The HPACK dynamic index (1 = newest) of an exact match, or -1. */
  const exact = (name: string, value: string) => {
    const id = index.entriesOf(name)?.idOf(value) ?? -1;
    return id < 0 ? -1 : table.insertCount - id;
  };
  const byName = (name: string) => {
    const entries = index.entriesOf(name);
    return entries === undefined ? -1 : table.insertCount - entries.newest;
  };
  return { table, add, exact, byName };
}

describe("DynamicTableIndex", () => {
  it("finds the newest entry of a name, and an entry by name and value", () => {
    const { add, exact, byName } = indexed(4096);
    add("a", "1");
    add("b", "2");
    add("a", "3");
    expect(byName("a")).toBe(1);
    expect(byName("b")).toBe(2);
    expect(exact("a", "1")).toBe(3);
    expect(exact("a", "3")).toBe(1);
    expect(exact("a", "2")).toBe(-1);
    expect(byName("c")).toBe(-1);
  });

  it("forgets entries as the table evicts them", () => {
    const { add, exact, byName } = indexed(3 * 34);
    add("a", "1");
    add("a", "2");
    add("b", "1");
    add("c", "1"); // evicts a: 1
    expect(exact("a", "1")).toBe(-1);
    expect(exact("a", "2")).toBe(3);
    add("d", "1"); // evicts a: 2, the last "a"
    expect(byName("a")).toBe(-1);
    expect(exact("b", "1")).toBe(3);
  });

  it("keeps the newest id when a value comes back after its entry was evicted", () => {
    const { add, exact } = indexed(2 * 34);
    add("a", "1");
    add("b", "1");
    add("a", "1"); // evicts the first a: 1 (the index is at the new one)
    expect(exact("a", "1")).toBe(1);
    add("c", "1"); // evicts b
    add("a", "2"); // evicts a: 1
    expect(exact("a", "1")).toBe(-1);
    expect(exact("a", "2")).toBe(1);
  });

  it("stays right through many values of one name and a full turn of the table", () => {
    const { table, add, exact } = indexed(1024);
    for (let i = 0; i < 500; i++) {
      add(":path", `/svc/M${i % 37}`);
      for (let back = 0; back < Math.min(i, 20); back++) {
        const value = `/svc/M${(i - back) % 37}`;
        const at = exact(":path", value);
        expect(at).toBeGreaterThan(0);
        expect(table.value(at)).toBe(value);
      }
    }
  });
});
