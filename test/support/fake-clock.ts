/** A timer callback and when it is due, on a {@link FakeClock}. */
interface Timer {
  readonly at: number;
  readonly sequence: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to, with a `schedule` (run once after ms; returns cancel) on it. */
export interface FakeClock {
  now(): number;
  schedule(run: () => void, ms: number): () => void;
  /** Timers not yet run nor cancelled. */
  pending(): number;
  /** Moves time forward, running due timers in order and letting real async work settle between them. */
  advance(ms: number): Promise<void>;
}

export function createFakeClock(start = 0): FakeClock {
  let now = start;
  let sequence = 0;
  const timers: Timer[] = [];
  // A few turns of the real event loop, so in-memory I/O (streams, handlers) settles before the next timer.
  const flush = async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  return {
    now: () => now,
    schedule(run, ms) {
      const timer: Timer = { at: now + ms, sequence: sequence++, run, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    pending: () => timers.filter((t) => !t.cancelled).length,
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        await flush();
        const due = timers
          .filter((t) => !t.cancelled && t.at <= target)
          .sort((x, y) => x.at - y.at || x.sequence - y.sequence)[0];
        if (due === undefined) {
          break;
        }
        timers.splice(timers.indexOf(due), 1);
        now = due.at;
        due.run();
      }
      now = target;
      await flush();
    },
  };
}
