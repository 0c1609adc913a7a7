import type { EnvelopedMessage } from "@connectrpc/connect/protocol";

/** Request bytes kept per call so that it can be sent again: a unary or server-streaming request fits. */
export const REPLAY_LIMIT_BYTES = 64 * 1024;

/**
 * A call's request messages, readable once per attempt. Messages are still
 * pulled from the client lazily (never buffered whole, backpressure
 * intact); the ones read so far are held, up to `limitBytes` of message
 * data in total, so that another attempt can send them again before it
 * continues with the client's next message.
 *
 * The rule: a call may be sent again only while **everything read from the
 * client so far is held** (`replayable`). Nothing is read before the
 * upstream stream exists, so a call whose connection failed can always be
 * sent again, whatever its size; once more than `limitBytes` has been read,
 * or the call has been committed to an attempt, the held messages are
 * dropped as the attempt that goes on reads past them.
 *
 * Only the latest attempt reads on: an earlier one that is still pulling
 * ends when it notices it was replaced, and what it pulled is held for the
 * latest in order.
 */
export class ReplayableMessages {
  private readonly source: AsyncIterator<EnvelopedMessage>;
  private readonly limitBytes: number;
  /** Messages read from the client and not yet dropped; `held[0]` is message number `base`. */
  private held: EnvelopedMessage[] = [];
  private base = 0;
  private heldBytes = 0;
  /** Still keeping what is read for another attempt. */
  private keeping = true;
  private pending: Promise<void> | undefined;
  private done = false;
  private failure: { readonly error: unknown } | undefined;
  private attempts = 0;
  /** How many messages the latest attempt has read. */
  private position = 0;

  constructor(messages: AsyncIterable<EnvelopedMessage>, limitBytes: number = REPLAY_LIMIT_BYTES) {
    this.source = messages[Symbol.asyncIterator]();
    this.limitBytes = limitBytes;
  }

  /** Everything read from the client so far is held: another attempt can send the call again. */
  get replayable(): boolean {
    return this.keeping;
  }

  /** The messages for a new attempt, from the first; earlier attempts stop reading. */
  attempt(): AsyncIterable<EnvelopedMessage> {
    if (!this.keeping && this.attempts > 0) {
      throw new Error("the call's messages cannot be sent again: they are no longer all held");
    }
    this.attempts++;
    this.position = 0;
    return this.read(this.attempts);
  }

  /** No other attempt will come: stop holding messages (the current attempt reads on). */
  commit(): void {
    this.keeping = false;
    this.drop(this.position);
  }

  private async *read(attempt: number): AsyncGenerator<EnvelopedMessage> {
    let index = 0;
    for (;;) {
      if (attempt !== this.attempts) {
        return;
      }
      if (index < this.base + this.held.length) {
        const message = this.held[index - this.base] as EnvelopedMessage;
        index++;
        this.position = index;
        if (!this.keeping) {
          this.drop(index);
        }
        yield message;
        continue;
      }
      if (this.failure !== undefined) {
        throw this.failure.error;
      }
      if (this.done) {
        return;
      }
      await this.pull();
    }
  }

  /** Reads the client's next message into `held` (one read at a time, shared by every attempt waiting for it). */
  private pull(): Promise<void> {
    this.pending ??= this.source.next().then(
      (result) => {
        this.pending = undefined;
        if (result.done === true) {
          this.done = true;
          return;
        }
        this.held.push(result.value);
        this.heldBytes += result.value.data.byteLength;
        if (this.heldBytes > this.limitBytes) {
          this.keeping = false;
        }
      },
      (error: unknown) => {
        this.pending = undefined;
        this.failure = { error };
      },
    );
    return this.pending;
  }

  /** Drops the held messages before message number `upTo` (once nothing is kept for another attempt). */
  private drop(upTo: number): void {
    const count = upTo - this.base;
    if (count <= 0) {
      return;
    }
    if (count >= this.held.length) {
      this.held = [];
    } else {
      this.held.splice(0, count);
    }
    this.base = upTo;
  }
}
