/**
 * A growable byte buffer the encoder writes header blocks (RFC 7541 §2.4,
 * §6) into: the caller owns it and reuses it for every block (or writes
 * blocks straight into its staging buffer, after room left for a frame
 * header), so encoding allocates nothing once the buffer has grown to the
 * connection's usual block size.
 *
 * Writers call {@link reserve} with an upper bound of what they will
 * write, then store into `bytes` from `length` on without further checks,
 * and set `length` past what they wrote.
 */
export class ByteSink {
  /** The storage; replaced (a larger copy) by {@link reserve}. Valid data is `bytes[0..length)`. */
  bytes: Uint8Array;
  /** The octets written so far. */
  length = 0;

  constructor(initialCapacity = 256) {
    this.bytes = new Uint8Array(initialCapacity);
  }

  /** Makes room for `count` more octets after `length`, and returns the (possibly new) storage. */
  reserve(count: number): Uint8Array {
    const needed = this.length + count;
    if (needed > this.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    return this.bytes;
  }

  /** Forgets what was written, keeping the storage. */
  clear(): void {
    this.length = 0;
  }

  /** The written octets, a view (not a copy): valid until the next write or {@link clear}. */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}
