/**
 * Fail-nth over the recorded vectors: replay a trace and, at each selected ioctl/open/close record,
 * fail its 1st, 2nd, … fallible site in turn (like iommufd_fail_nth), in place, until a run reaches
 * no injected failure — that last run is the retry and must reproduce the recorded result.
 *
 * After each injected failure: the call reports the site's errno; the whole-system snapshot equals
 * the one before the call (ids, objects, mappings, pins, locked_vm, fds); for a copy-out site it may
 * instead equal the state after a clean run (the work is committed before the copy back). When the
 * state changed (allowed or not), the replay is rebuilt from scratch up to the record.
 */

import { withFaultInjection } from "../../src/core/fault.js";
import type { ErrnoName } from "../../src/core/errno.js";
import { Replayer, type RecordResult } from "../../src/replay/executor.js";
import { hostFromRun } from "../../src/replay/host-from-run.js";
import type { Trace } from "../../src/replay/loader.js";
import type { TraceRecord } from "../../src/replay/records.js";
import { createSystem } from "../../src/uapi/system.js";
import { COPY_OUT_PARTIAL_OPS, isCopyOut, KERNEL_PARTIAL, siteErrno } from "./sites.js";
import { firstDifference, systemSnapshotText } from "./system-snapshot.js";

export interface VectorSweepOptions {
  /** Inject into at most this many op records, spread evenly (0 or undefined: every record). */
  readonly sample?: number;
  /** Guard per record (the kernel harness stops at 400). */
  readonly maxSites?: number;
}

export interface FaultFailure {
  readonly trace: string;
  readonly seq: number;
  readonly line: number;
  readonly op: string;
  readonly n: number;
  readonly site: string | undefined;
  readonly problem: string;
}

export interface VectorSweepReport {
  readonly trace: string;
  /** Op records injected into. */
  readonly records: number;
  /** Injected runs (one per record and failing site); each passed or failed. */
  readonly runs: number;
  readonly passed: number;
  readonly failed: number;
  /** Injected runs whose failure was absorbed by the engine (a fallback path). */
  readonly absorbed: number;
  /** Injected runs where the copy-out failed after the work was done (state = clean after). */
  readonly committed: number;
  readonly sites: Record<string, number>;
  readonly errnos: Partial<Record<ErrnoName, number>>;
  readonly failures: FaultFailure[];
}

interface Live {
  replayer: Replayer;
  kernel: ReturnType<typeof createSystem>["kernel"];
  /** Records [0, pos) have been fed. */
  pos: number;
}

/** The errno a record's replay saw (the replayer compares it with the recording). */
function errnoOf(res: RecordResult, rec: TraceRecord): string | null {
  const m = res.mismatches.find((x) => x.field === "errno");
  if (m) return (m.got as string | null) ?? null;
  return rec.kind === "op" ? rec.errno : null;
}

export function sweepTrace(trace: Trace, opts: VectorSweepOptions = {}): VectorSweepReport {
  const maxSites = opts.maxSites ?? 400;
  const records = trace.records;
  const fresh = (): Live => {
    // A new host object each time: DMA ownership is tracked per host.
    const kernel = createSystem(hostFromRun(trace.run, trace.sysfs, trace.sysfsFile)).kernel;
    return { kernel, replayer: new Replayer(kernel), pos: 0 };
  };
  const advance = (live: Live, k: number): void => {
    while (live.pos < k) live.replayer.step(records[live.pos++]!);
  };

  // Baseline: each op record's clean status.
  const baseline = new Map<number, RecordResult>();
  {
    const live = fresh();
    records.forEach((rec, i) => {
      const r = live.replayer.step(rec);
      if (r) baseline.set(i, r);
      live.pos++;
    });
  }
  const opIndexes = [...baseline.keys()];
  let selected: Set<number>;
  if (!opts.sample || opts.sample >= opIndexes.length) selected = new Set(opIndexes);
  else {
    selected = new Set();
    const stride = opIndexes.length / opts.sample;
    for (let i = 0; i < opts.sample; i++) selected.add(opIndexes[Math.floor(i * stride)]!);
  }

  const failures: FaultFailure[] = [];
  const sites: Record<string, number> = {};
  const errnos: Partial<Record<ErrnoName, number>> = {};
  let runs = 0;
  let absorbed = 0;
  let committed = 0;
  let live = fresh();
  const rebuild = (k: number): void => {
    live = fresh();
    advance(live, k);
  };

  for (const k of [...selected].sort((a, b) => a - b)) {
    const rec = records[k]!;
    if (rec.kind !== "op") continue;
    advance(live, k);
    const fail = (n: number, site: string | undefined, problem: string): void => {
      failures.push({ trace: trace.name, seq: rec.seq, line: rec.line, op: rec.op, n, site, problem });
    };
    for (let n = 1; ; n++) {
      if (n > maxSites) {
        fail(n, undefined, `more than ${maxSites} fallible sites`);
        rebuild(k);
        break;
      }
      const before = systemSnapshotText(live.kernel);
      const { result, injector } = withFaultInjection(n, () => live.replayer.step(rec));
      const res = result!;
      const site = injector.failedSite;
      if (site === undefined) {
        // The n-th site was never reached: this run was the clean retry.
        const want = baseline.get(k)!;
        if (res.status !== want.status)
          fail(
            n,
            undefined,
            `retry after injection: ${res.status} (${describe(res)}), clean replay ${want.status}`,
          );
        live.pos = k + 1;
        break;
      }
      runs++;
      sites[site] = (sites[site] ?? 0) + 1;
      if (res.reason?.startsWith("engine error")) {
        fail(n, site, `non-errno exception: ${res.reason}`);
      } else {
        const errno = errnoOf(res, rec);
        if (errno === null) {
          // Absorbed (a fallback path): the call must still give the recorded answer.
          absorbed++;
          // It may take another way (e.g. EINVAL from an automatic HWPT means "try the next one" and a
          // new HWPT is made), but the call must still succeed as recorded.
          if (res.mismatches.some((m) => m.field === "ret" || m.field === "errno") || res.reason)
            fail(n, site, `injection absorbed but the call's outcome changed: ${describe(res)}`);
        } else {
          errnos[errno as ErrnoName] = (errnos[errno as ErrnoName] ?? 0) + 1;
          if (errno !== siteErrno(site)) fail(n, site, `errno ${errno}, expected ${siteErrno(site)}`);
          const after = systemSnapshotText(live.kernel);
          if (after === before) continue; // in place: next n on the same state
          if (isCopyOut(site)) {
            const cleanAfter = (() => {
              rebuild(k);
              live.replayer.step(rec);
              return systemSnapshotText(live.kernel);
            })();
            if (after === cleanAfter) committed++;
            else if (!COPY_OUT_PARTIAL_OPS.has(rec.op))
              fail(
                n,
                site,
                `copy-out failure left a state that is neither before nor after: ${firstDifference(cleanAfter, after)}`,
              );
            else committed++;
          } else {
            const partial = KERNEL_PARTIAL.find((p) => p.op === rec.op && p.site === site);
            if (!partial || withoutFields(before, partial.fields) !== withoutFields(after, partial.fields))
              fail(n, site, `state changed by a failed call (${errno}): ${firstDifference(before, after)}`);
          }
        }
      }
      rebuild(k);
    }
  }
  const failedRuns = new Set(failures.map((f) => `${f.seq}/${f.n}`)).size;
  return {
    trace: trace.name,
    records: selected.size,
    runs,
    passed: runs - failedRuns,
    failed: failedRuns,
    absorbed,
    committed,
    sites,
    errnos,
    failures,
  };
}

/** A snapshot text with the named fields removed at any depth. */
function withoutFields(text: string, fields: readonly string[]): string {
  return JSON.stringify(JSON.parse(text), (k, v: unknown) => (fields.includes(k) ? undefined : v));
}

function describe(r: RecordResult): string {
  if (r.reason) return r.reason;
  return r.mismatches.map((m) => `${m.field}: want ${String(m.want)} got ${String(m.got)}`).join("; ");
}
