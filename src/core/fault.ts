/**
 * Fault injection: every fallible step of the engine calls `shouldFail(site)` first and, when it
 * answers true, fails the way the kernel would there (usually ENOMEM).
 *
 * Like the kernel's fail-nth: arm the injector with n, run an operation, and the n-th site hit
 * fails. `hits` tells how many sites the operation reached, so a sweep knows when to stop.
 */

export interface FaultInjector {
  /** 1-based index of the site hit to fail; 0 = count only. */
  failAt: number;
  hits: number;
  /** Site names in hit order (for reports). */
  readonly trace: string[];
  /** Site that was failed, if any. */
  failedSite: string | undefined;
}

let active: FaultInjector | null = null;

export function shouldFail(site: string): boolean {
  if (!active) return false;
  active.hits++;
  active.trace.push(site);
  if (active.hits === active.failAt) {
    active.failedSite = site;
    return true;
  }
  return false;
}

/** Run `fn` with the n-th fallible site failing (n = 0: just count). Not reentrant. */
export function withFaultInjection<R>(failAt: number, fn: () => R): { result: R; injector: FaultInjector } {
  const injector: FaultInjector = { failAt, hits: 0, trace: [], failedSite: undefined };
  const prev = active;
  active = injector;
  try {
    return { result: fn(), injector };
  } finally {
    active = prev;
  }
}
