/**
 * The fail-nth sweep (the engine's version of iommufd's selftest harness): run a scenario's steps,
 * and for each step fail its 1st, 2nd, … fallible site in turn, from a fresh setup each time.
 *
 * After an injected failure the sweep checks what the kernel guarantees: the call reports an errno,
 * the state snapshot equals the one taken before the call (except where the step declares the
 * kernel's own partial effect), and the same step then succeeds when run again without injection.
 */

import { isDeepStrictEqual } from "node:util";
import { IoasError, type ErrnoName } from "./errno.js";
import { withFaultInjection } from "./fault.js";

export interface SweepStep<S> {
  readonly name: string;
  run(state: S): void;
  /** The kernel itself leaves a partial effect when this step fails (e.g. iommufd unmap). */
  readonly partialOnError?: boolean;
}

export interface SweepScenario<S> {
  readonly name: string;
  setup(): S;
  readonly steps: readonly SweepStep<S>[];
  /** JSON-able state: objects, ids, mappings, accounting, pins. */
  snapshot(state: S): unknown;
  /**
   * Sites that fail after the step's work is committed (a copy back to the process): the state may
   * then equal the one after a clean run instead of the one before (no retry is made then).
   */
  committedOnError?(site: string): boolean;
}

export interface SweepFailure {
  readonly scenario: string;
  readonly step: string;
  readonly n: number;
  readonly site: string | undefined;
  readonly problem: string;
}

export interface SweepReport {
  readonly scenario: string;
  /** Injected runs performed. */
  readonly runs: number;
  /** Fallible sites hit per step in the clean run. */
  readonly sites: Record<string, number>;
  readonly errnos: Partial<Record<ErrnoName, number>>;
  readonly failures: SweepFailure[];
}

/** Guard against a step whose site count never converges (the kernel harness stops at 400). */
const MAX_SITES_PER_STEP = 400;

export function sweep<S>(scenario: SweepScenario<S>): SweepReport {
  const failures: SweepFailure[] = [];
  const sites: Record<string, number> = {};
  const errnos: Partial<Record<ErrnoName, number>> = {};
  let runs = 0;
  const fail = (step: string, n: number, site: string | undefined, problem: string): void => {
    failures.push({ scenario: scenario.name, step, n, site, problem });
  };

  scenario.steps.forEach((step, k) => {
    const prepare = (): S => {
      const state = scenario.setup();
      for (const earlier of scenario.steps.slice(0, k)) earlier.run(state);
      return state;
    };
    // Clean run: count the fallible sites of this step.
    const clean = prepare();
    const counted = withFaultInjection(0, () => step.run(clean)).injector.hits;
    sites[step.name] = counted;
    const cleanAfter = scenario.committedOnError ? scenario.snapshot(clean) : undefined;
    for (let n = 1; n <= Math.min(counted, MAX_SITES_PER_STEP); n++) {
      runs++;
      const state = prepare();
      const before = scenario.snapshot(state);
      let error: unknown;
      const { injector } = withFaultInjection(n, () => {
        try {
          step.run(state);
        } catch (e) {
          error = e;
        }
      });
      if (error === undefined) {
        // The failed site's error was absorbed (allowed: e.g. an optional fast path). State must be sane
        // enough for the next step, which the following iterations check.
        continue;
      }
      if (!(error instanceof IoasError)) {
        fail(step.name, n, injector.failedSite, `threw a non-errno exception: ${String(error)}`);
        continue;
      }
      errnos[error.errno] = (errnos[error.errno] ?? 0) + 1;
      const site = injector.failedSite;
      if (
        site !== undefined &&
        scenario.committedOnError?.(site) &&
        isDeepStrictEqual(scenario.snapshot(state), cleanAfter)
      )
        continue;
      if (!step.partialOnError && !isDeepStrictEqual(scenario.snapshot(state), before)) {
        fail(step.name, n, injector.failedSite, `state changed by a failed call (${error.errno})`);
        continue;
      }
      try {
        step.run(state);
      } catch (e) {
        if (!step.partialOnError) {
          fail(step.name, n, injector.failedSite, `retry without injection failed: ${String(e)}`);
        }
      }
    }
  });
  return { scenario: scenario.name, runs, sites, errnos, failures };
}
