/** What a backend's retry budget is made of. */
export interface RetryBudgetOptions {
  /** Retries in flight allowed as a share (0-100) of the backend's active calls. */
  readonly budgetPercent: number;
  /** Retries allowed per second on top of the share, so a quiet backend can still retry. */
  readonly minRetriesPerSecond: number;
  /** Milliseconds, from the runtime's clock (injected, so specs step it). */
  readonly now: () => number;
}

/** One call's standing with its backend's retry budget. */
export interface BudgetedCall {
  /** Asks for one more attempt; `true`: granted, and it counts as a retry in flight until the call ends. */
  tryRetry(): boolean;
  /** The call is over (any number of times, it counts once): it is no longer active and its retries no longer in flight. */
  end(): void;
}

/** The budget's counters, for logs and tests. */
export interface RetryBudgetState {
  readonly activeCalls: number;
  readonly retriesInFlight: number;
  /** Whole retries the per-second allowance could grant right now. */
  readonly tokens: number;
}

/**
 * Bounds transparent retries so that a failing backend is not hit by more
 * retries than calls, the retry storm Envoy and Linkerd budget against.
 * It combines their two models:
 *
 * - Envoy's `retry_budget`: retries **in flight** may be at most
 *   `budgetPercent`% of the backend's **active calls** (a retry stays in
 *   flight until its call ends, as an Envoy retry holds its slot until the
 *   request completes). The share scales with load and needs no window.
 * - Linkerd's `minRetriesPerSecond`: a token bucket of that many tokens,
 *   refilled continuously at that rate (a burst of one second's worth), which
 *   grants a retry the share does not. It lets a quiet backend (one call in
 *   flight: 20% of 1 is no retry) still retry a refused connection.
 *
 * A retry the share allows takes no token. With `budgetPercent: 0` and
 * `minRetriesPerSecond: 0` nothing is ever retried.
 */
export class RetryBudget {
  private readonly options: RetryBudgetOptions;
  private activeCalls = 0;
  private retriesInFlight = 0;
  private tokens: number;
  private refilledAt: number;

  constructor(options: RetryBudgetOptions) {
    this.options = options;
    this.tokens = options.minRetriesPerSecond;
    this.refilledAt = options.now();
  }

  /** A call to the backend starts: it is active until `end()`. */
  startCall(): BudgetedCall {
    this.activeCalls++;
    let retries = 0;
    let ended = false;
    return {
      tryRetry: () => {
        if (ended || !this.grant()) {
          return false;
        }
        retries++;
        this.retriesInFlight++;
        return true;
      },
      end: () => {
        if (ended) {
          return;
        }
        ended = true;
        this.activeCalls--;
        this.retriesInFlight -= retries;
      },
    };
  }

  state(): RetryBudgetState {
    this.refill();
    return { activeCalls: this.activeCalls, retriesInFlight: this.retriesInFlight, tokens: Math.floor(this.tokens) };
  }

  private grant(): boolean {
    if ((this.retriesInFlight + 1) * 100 <= this.options.budgetPercent * this.activeCalls) {
      return true;
    }
    this.refill();
    if (this.tokens >= 1) {
      this.tokens--;
      return true;
    }
    return false;
  }

  private refill(): void {
    const now = this.options.now();
    const elapsed = now - this.refilledAt;
    this.refilledAt = now;
    if (elapsed > 0) {
      const rate = this.options.minRetriesPerSecond;
      this.tokens = Math.min(rate, this.tokens + (elapsed * rate) / 1_000);
    }
  }
}
