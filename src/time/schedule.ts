/** Runs `run` once after `ms`; returns the cancel function. Injected so specs control time. */
export type Schedule = (run: () => void, ms: number) => () => void;

/**
 * setTimeout, unref'd where the runtime can, so a background timer (a health
 * check, a DNS refresh, a watch retry, a schema refresh) never keeps a
 * process alive on its own.
 */
export const defaultSchedule: Schedule = (run, ms) => {
  const timer: unknown = setTimeout(run, ms);
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer as ReturnType<typeof setTimeout>);
};
