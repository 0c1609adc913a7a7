import {
  ADD,
  DELETE,
  ERROR,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  UPDATE,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "../../log/logger.ts";
import type { Backoff } from "../backoff.ts";
import { describeKubeError, kubeErrorStatus, rbacResourceOfPath } from "./describe-kube-error.ts";
import { defaultSchedule, type Schedule } from "../../time/schedule.ts";

/** The longest the informer may wait before re-watching after a watch ended cleanly. */
const MAX_REWATCH_DELAY_MS = 1_000;

/**
 * How long after its start an informer that never synced takes a 403 for an
 * API server still starting, and retries it quietly (a debug line). A fresh
 * kube-apiserver answers 403 for some tens of milliseconds before its RBAC
 * authorizer has synced; a gateway started with its cluster (kind, CI) saw
 * a warning with an RBAC hint that was not true (issue 14). A 403 that lasts
 * longer is what it says: a missing permission.
 */
export const FORBIDDEN_GRACE_MS = 5_000;

export interface ResilientInformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** The collection's API path, e.g. `/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices`. */
  readonly path: string;
  /** Lists the collection with the same selectors the watch uses. */
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** What is watched, for logs: "EndpointSlices in shop". */
  readonly what: string;
  readonly log: Logger;
  readonly backoff: Backoff;
  /** Schedules a retry; returns its cancel function. Injected so tests can control time. */
  readonly schedule?: Schedule;
  /** The clock, for the grace of early 403s; injected so tests can control time. */
  readonly now?: () => number;
  /** An object was added or changed (`deleted` false) or deleted. */
  readonly onChange: (object: T, deleted: boolean) => void;
  /** The informer starts a watch: its list, if it made one, is in its cache. */
  readonly onWatching?: () => void;
  /** Counts, for metrics: an object event, a restart after a failure. */
  readonly events?: { readonly event: () => void; readonly restart: () => void };
}


/**
 * client-node's informer (`ListWatch`) made to last.
 *
 * The informer re-lists on 410 Gone and re-watches from its last
 * resourceVersion after a clean end or its inactivity timeout, but it stops
 * on any other error (a dropped connection, a refused one, a 5xx, a failed
 * list). This restarts it after a capped, jittered backoff; because the
 * informer keeps its resourceVersion, a restart re-watches from where it was
 * and only a 410 costs a re-list. Its own re-watch delay after a clean end
 * (1 s doubling to 30 s while no event arrives, blind to changes meanwhile)
 * is capped at a second. "Synced" is what the informer cannot say: true once
 * it has started watching, which it does only after its list is cached.
 */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly options: ResilientInformerOptions<T>;
  private readonly informer: ListWatch<T>;
  private cancelRetry: (() => void) | undefined;
  private stopped = false;
  private watching = false;
  private startedAt = 0;
  private readonly resource: string;

  constructor(options: ResilientInformerOptions<T>) {
    this.options = options;
    this.resource = rbacResourceOfPath(options.path);
    this.informer = new ListWatch<T>(
      options.path,
      new ResumingWatch(options.kubeConfig, {
        active: () => !this.stopped,
        onWatch: () => {
          this.watching = true;
          options.onWatching?.();
        },
        onEvent: () => options.backoff.reset(),
      }),
      async () => {
        const list = await options.list();
        options.backoff.reset();
        return list;
      },
      false,
      options.labelSelector,
      options.fieldSelector,
      { delayFn: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, MAX_REWATCH_DELAY_MS))) },
    );
    const live = (deleted: boolean) => (object: T) => {
      if (!this.stopped) {
        options.events?.event();
        options.onChange(object, deleted);
      }
    };
    this.informer.on(ADD, live(false));
    this.informer.on(UPDATE, live(false));
    this.informer.on(DELETE, live(true));
    this.informer.on(ERROR, (error: unknown) => this.retry(error));
  }

  start(): void {
    this.startedAt = (this.options.now ?? Date.now)();
    this.informer.start().catch((error: unknown) => this.retry(error));
  }

  /** True once the first list is in the cache (it stays true through later failures). */
  synced(): boolean {
    return this.watching;
  }

  /** The cached objects. */
  list(): readonly T[] {
    return this.informer.list();
  }

  stop(): void {
    this.stopped = true;
    this.cancelRetry?.();
    void this.informer.stop();
  }

  private retry(error: unknown): void {
    if (this.stopped) {
      return;
    }
    this.options.events?.restart();
    const delayMs = this.options.backoff.next();
    const fields = { error: describeKubeError(error, this.resource), retryInMs: delayMs };
    const starting =
      !this.watching &&
      kubeErrorStatus(error) === 403 &&
      (this.options.now ?? Date.now)() - this.startedAt < FORBIDDEN_GRACE_MS;
    if (starting) {
      this.options.log.debug(`watch of ${this.options.what} forbidden so far (an API server still starting?); retrying`, fields);
    } else {
      this.options.log.warn(`watch of ${this.options.what} failed; serving what it last saw and retrying`, fields);
    }
    this.cancelRetry?.();
    this.cancelRetry = (this.options.schedule ?? defaultSchedule)(() => {
      this.cancelRetry = undefined;
      if (!this.stopped) {
        this.informer.start().catch((e: unknown) => this.retry(e));
      }
    }, delayMs);
  }
}

interface ResumingWatchHooks {
  /** False once the informer was stopped. */
  active(): boolean;
  onWatch(): void;
  onEvent(): void;
}

/**
 * client-node's Watch with what the informer leaves out: bookmarks (so a
 * quiet, filtered watch still advances its resourceVersion and a re-watch
 * after a drop rarely needs a re-list), a hook when the informer starts
 * watching, a hook per event (the connection works: reset the backoff), no
 * connection for an informer that was stopped meanwhile, and no rejected
 * promise when authentication fails (the informer does not catch it).
 */
class ResumingWatch extends Watch {
  private readonly hooks: ResumingWatchHooks;

  constructor(kubeConfig: KubeConfig, hooks: ResumingWatchHooks) {
    super(kubeConfig);
    this.hooks = hooks;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (!this.hooks.active()) {
      // A stopped informer still opens the watch it was waiting to open: let it idle instead.
      return new AbortController();
    }
    this.hooks.onWatch();
    try {
      return await super.watch(path, { ...queryParams, allowWatchBookmarks: true }, (phase, object, raw) => {
        this.hooks.onEvent();
        callback(phase, object, raw);
      }, done);
    } catch (error) {
      queueMicrotask(() => done(error));
      return new AbortController();
    }
  }
}
