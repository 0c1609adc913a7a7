/** Runs `run` once after `ms`; returns the cancel function. Injected so specs control time. */
export type Schedule = (run: () => void, ms: number) => () => void;

/** setTimeout, unref'd where the runtime can, so checks never keep a process alive. */
export const defaultSchedule: Schedule = (run, ms) => {
  const timer: unknown = setTimeout(run, ms);
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer as ReturnType<typeof setTimeout>);
};
