import type { EvictionListener } from "./dynamic-table.ts";

/**
 * The dynamic entries that share one name, for the encoder's lookups.
 * Most names have one value in the table at a time (`content-type`, `te`,
 * `user-agent`), so the first value is kept inline and a map is made only
 * when a second value of the name arrives (`:path` of several methods).
 *
 * @private part of the encoder's DynamicTableIndex.
 */
export class NameEntries {
  /** Id of the newest entry with this name: the best name reference. */
  newest: number;
  /** Entries with this name in the table. */
  count = 1;
  /** While `byValue` is null: the one value, and its entry's id (-1 once evicted). */
  value: string;
  valueId: number;
  /** Value to the id of its newest entry, once the name has had two values. */
  byValue: Map<string, number> | null = null;

  constructor(value: string, id: number) {
    this.newest = id;
    this.value = value;
    this.valueId = id;
  }

  /** The id of the newest entry with this name and `value`, or -1. */
  idOf(value: string): number {
    if (this.byValue === null) return this.value === value ? this.valueId : -1;
    return this.byValue.get(value) ?? -1;
  }
}

/**
 * What the encoder needs to find in its dynamic table without scanning it:
 * for a name, the newest entry with that name and the entry with a given
 * value (RFC 7541 §2.3.3 indexes; the ids are {@link DynamicTable}
 * insertion numbers, so an index is `insertCount - id`). Kept up to date
 * by the encoder on each insertion and by the table on each eviction.
 *
 * The decoder needs none of this: it only reads entries by index.
 *
 * @private the encoder's.
 */
export class DynamicTableIndex implements EvictionListener {
  private readonly byName = new Map<string, NameEntries>();

  /** The entries named `name`, or undefined: one map lookup for both the exact and the name match. */
  entriesOf(name: string): NameEntries | undefined {
    return this.byName.get(name);
  }

  /** Records the entry the table just added. */
  added(name: string, value: string, id: number): void {
    const entries = this.byName.get(name);
    if (entries === undefined) {
      this.byName.set(name, new NameEntries(value, id));
      return;
    }
    entries.newest = id;
    entries.count++;
    if (entries.byValue === null) {
      if (entries.value === value || entries.valueId < 0) {
        entries.value = value;
        entries.valueId = id;
        return;
      }
      entries.byValue = new Map([[entries.value, entries.valueId]]);
    }
    entries.byValue.set(value, id);
  }

  /** Forgets an entry the table evicted (oldest first, so the newest of a name goes last). */
  evicted(name: string, value: string, id: number): void {
    const entries = this.byName.get(name);
    if (entries === undefined) return;
    if (--entries.count === 0) {
      this.byName.delete(name);
      return;
    }
    if (entries.byValue === null) {
      if (entries.valueId === id) entries.valueId = -1;
    } else if (entries.byValue.get(value) === id) {
      entries.byValue.delete(value);
    }
  }
}
