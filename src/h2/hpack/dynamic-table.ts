/**
 * Told of each entry a {@link DynamicTable} evicts, so the encoder can drop
 * it from its lookup maps. One object for the table's life, not a closure
 * per call.
 */
export interface EvictionListener {
  /** `id` is the entry's insertion number (see {@link DynamicTable.insertCount}). */
  evicted(name: string, value: string, id: number): void;
}

/** The overhead RFC 7541 §4.1 adds to each entry's octets: an estimate of the memory an entry costs. */
export const entryOverhead = 32;

const initialCapacity = 8;

/**
 * The dynamic table of HPACK (RFC 7541 §2.3.2, §4): the fields a
 * connection's encoder chose to index, newest first, kept by both ends in
 * step. Index 1 is the newest entry; the table holds entries while the sum
 * of their sizes (name octets + value octets + 32, §4.1) is at most
 * `maxSize`, and evicts the oldest first (FIFO, §4.4) to make room.
 *
 * A ring buffer: adding and evicting move no entries (an array shifted on
 * each eviction is O(n) per field). The ring starts small and doubles when
 * full, so an idle connection holds 8 slots, not the 128 a 4096-octet table
 * may need. Names and values are strings of one char per octet (see
 * latin1String), so `length` is the octet count.
 *
 * Each entry also keeps a small `flags` number for its owner (the decoder
 * remembers there whether the entry's name or value was malformed, so a
 * reference to it is flagged again).
 *
 * Every entry has an id, its insertion number: entry `id` is at index
 * `insertCount - id` while `id >= insertCount - length`. Ids never repeat,
 * so the encoder can keep them in maps and tell a stale one.
 */
export class DynamicTable {
  /** Octets of the entries (§4.1). */
  size = 0;
  /** Entries in the table. */
  length = 0;
  /** Entries ever added: the id the next entry gets. */
  insertCount = 0;
  private limit: number;
  private names: string[];
  private values: string[];
  private flags: Uint8Array;
  private mask = initialCapacity - 1;
  private readonly listener: EvictionListener | null;

  constructor(maxSize: number, listener: EvictionListener | null = null) {
    this.limit = maxSize;
    this.listener = listener;
    this.names = new Array<string>(initialCapacity).fill("");
    this.values = new Array<string>(initialCapacity).fill("");
    this.flags = new Uint8Array(initialCapacity);
  }

  /** The most octets the entries may take (§4.2); changed by {@link setMaxSize}. */
  get maxSize(): number {
    return this.limit;
  }

  /**
   * Adds a field as the newest entry (§4.4): first evicts the oldest
   * entries until it fits; a field larger than `maxSize` empties the table
   * and is not added (not an error, §4.4).
   */
  add(name: string, value: string, flags = 0): void {
    const entrySize = name.length + value.length + entryOverhead;
    if (entrySize > this.limit) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.limit - entrySize);
    if (this.length > this.mask) this.grow();
    const slot = this.insertCount & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.flags[slot] = flags;
    this.insertCount++;
    this.length++;
    this.size += entrySize;
  }

  /** A new maximum size (§4.3): evicts the oldest entries until the table fits. */
  setMaxSize(maxSize: number): void {
    this.limit = maxSize;
    this.evictTo(maxSize);
  }

  /** The name of the entry at `index` (1 = newest); the caller checks `1 <= index <= length`. */
  name(index: number): string {
    return this.names[(this.insertCount - index) & this.mask]!;
  }

  /** The value of the entry at `index` (1 = newest); the caller checks `1 <= index <= length`. */
  value(index: number): string {
    return this.values[(this.insertCount - index) & this.mask]!;
  }

  /** The flags given to {@link add} for the entry at `index` (1 = newest). */
  flagsAt(index: number): number {
    return this.flags[(this.insertCount - index) & this.mask]!;
  }

  /** Evicts the oldest entries until the table takes at most `size` octets. */
  private evictTo(size: number): void {
    while (this.size > size) {
      const id = this.insertCount - this.length;
      const slot = id & this.mask;
      const name = this.names[slot]!;
      const value = this.values[slot]!;
      this.names[slot] = ""; // let the strings be collected
      this.values[slot] = "";
      this.length--;
      this.size -= name.length + value.length + entryOverhead;
      if (this.listener !== null) this.listener.evicted(name, value, id);
    }
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const names = new Array<string>(capacity).fill("");
    const values = new Array<string>(capacity).fill("");
    const flags = new Uint8Array(capacity);
    const newMask = capacity - 1;
    for (let id = this.insertCount - this.length; id < this.insertCount; id++) {
      names[id & newMask] = this.names[id & this.mask]!;
      values[id & newMask] = this.values[id & this.mask]!;
      flags[id & newMask] = this.flags[id & this.mask]!;
    }
    this.names = names;
    this.values = values;
    this.flags = flags;
    this.mask = newMask;
  }
}
