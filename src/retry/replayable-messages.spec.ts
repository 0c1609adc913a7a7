import type { EnvelopedMessage } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { ReplayableMessages } from "./replayable-messages.ts";

function message(size: number, fill = 1): EnvelopedMessage {
  return { flags: 0, data: new Uint8Array(size).fill(fill) };
}

/** A client's messages, counting how many were read. */
function source(messages: EnvelopedMessage[], failAfter?: number) {
  let read = 0;
  async function* generate() {
    for (const m of messages) {
      if (read === failAfter) {
        throw new Error("client went away");
      }
      read++;
      yield m;
    }
  }
  return { iterable: generate(), read: () => read };
}

async function take(iterable: AsyncIterable<EnvelopedMessage>, count = Number.POSITIVE_INFINITY) {
  const out: number[] = [];
  const it = iterable[Symbol.asyncIterator]();
  while (out.length < count) {
    const r = await it.next();
    if (r.done === true) {
      break;
    }
    out.push(r.value.data[0] ?? -1);
  }
  return { out, it };
}

describe("ReplayableMessages", () => {
  it("reads from the client only as an attempt pulls, and passes every message through", async () => {
    const client = source([message(1, 1), message(1, 2), message(1, 3)]);
    const messages = new ReplayableMessages(client.iterable);
    const attempt = messages.attempt();
    expect(client.read()).toBe(0);
    const { out } = await take(attempt, 2);
    expect(out).toEqual([1, 2]);
    expect(client.read()).toBe(2);
  });

  it("sends what was read again to the next attempt, then continues with the client's next message", async () => {
    const client = source([message(1, 1), message(1, 2), message(1, 3)]);
    const messages = new ReplayableMessages(client.iterable);
    await take(messages.attempt(), 2);
    expect(messages.replayable).toBe(true);
    const { out } = await take(messages.attempt());
    expect(out).toEqual([1, 2, 3]);
    expect(client.read()).toBe(3);
  });

  it("can no longer be replayed once more than the limit was read", async () => {
    const client = source([message(40), message(40), message(40)]);
    const messages = new ReplayableMessages(client.iterable, 64);
    const first = await take(messages.attempt(), 1);
    expect(messages.replayable).toBe(true);
    expect((await first.it.next()).done).toBe(false);
    expect(messages.replayable).toBe(false);
    expect(() => messages.attempt()).toThrow(/no longer all held/);
    // The attempt that goes on still gets every message.
    expect((await first.it.next()).done).toBe(false);
    expect((await first.it.next()).done).toBe(true);
  });

  it("a large first message that was never read can still go to another attempt", async () => {
    const client = source([message(1_000_000, 7)]);
    const messages = new ReplayableMessages(client.iterable, 64);
    messages.attempt(); // failed before its stream existed: nothing read
    expect(messages.replayable).toBe(true);
    expect((await take(messages.attempt())).out).toEqual([7]);
  });

  it("stops an earlier attempt once another has started", async () => {
    const client = source([message(1, 1), message(1, 2)]);
    const messages = new ReplayableMessages(client.iterable);
    const first = await take(messages.attempt(), 1);
    const second = messages.attempt();
    expect((await first.it.next()).done).toBe(true);
    expect((await take(second)).out).toEqual([1, 2]);
  });

  it("a message an earlier attempt was still waiting for goes to the latest one, in order", async () => {
    let release: (() => void) | undefined;
    async function* slow() {
      yield message(1, 1);
      await new Promise<void>((resolve) => (release = resolve));
      yield message(1, 2);
    }
    const messages = new ReplayableMessages(slow());
    const first = messages.attempt()[Symbol.asyncIterator]();
    await first.next();
    const waiting = first.next(); // pulls the client's second message
    const second = messages.attempt()[Symbol.asyncIterator]();
    expect((await second.next()).value?.data[0]).toBe(1);
    const next = second.next();
    release?.();
    expect((await next).value?.data[0]).toBe(2);
    expect((await waiting).done).toBe(true);
    expect((await second.next()).done).toBe(true);
  });

  it("passes the client's failure to the attempt reading", async () => {
    const client = source([message(1, 1), message(1, 2)], 1);
    const messages = new ReplayableMessages(client.iterable);
    const { it } = await take(messages.attempt(), 1);
    await expect(it.next()).rejects.toThrow("client went away");
  });

  it("after commit the attempt reads on and nothing can be sent again", async () => {
    const client = source([message(1, 1), message(1, 2)]);
    const messages = new ReplayableMessages(client.iterable);
    const first = await take(messages.attempt(), 1);
    messages.commit();
    expect(messages.replayable).toBe(false);
    expect(() => messages.attempt()).toThrow();
    expect((await first.it.next()).value?.data[0]).toBe(2);
    expect((await first.it.next()).done).toBe(true);
  });
});
