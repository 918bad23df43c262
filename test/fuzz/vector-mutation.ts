/**
 * Vector-mutation fuzzer: replay a recorded trace and, at sampled ioctl records, issue a *mutated*
 * copy of the record instead — one to three argument fields replaced by hostile values (0, 1, the
 * top of u64, off-by-one sizes, flipped bits, pages around the original, unknown ids), now and then
 * aimed at another file the trace opened — from the exact state the real call saw. Where `fuzz.ts` builds arguments from struct sizes alone, this
 * starts from real calls, so the mutations reach deep paths (a MAP with every check passed but one).
 *
 * Invariants, as for `fuzz.ts`: only errnos come back (no engine exception), each call is bounded in
 * time, and a call that fails leaves the whole-system snapshot unchanged — except the kernel's own
 * partial effects (iommufd/compat unmap, dirty bitmaps, attach copy-out). After a mutated call that
 * changed the state (a success, or an allowed partial effect) the replay is rebuilt up to the record.
 */

import { Replayer, type RecordResult } from "../../src/replay/executor.js";
import { hostFromRun } from "../../src/replay/host-from-run.js";
import type { Trace } from "../../src/replay/loader.js";
import type { Json, JsonObject, OpRecord } from "../../src/replay/records.js";
import { createSystem } from "../../src/uapi/system.js";
import { firstDifference, systemSnapshotText } from "../faults/system-snapshot.js";
import { XorShift } from "./fuzz.js";

/** Ops whose failure the kernel itself does not unwind (Appendix B.1). */
const PARTIAL_ON_ERROR: ReadonlySet<string> = new Set([
  "IOMMU_IOAS_UNMAP",
  "VFIO_IOMMU_UNMAP_DMA",
  "VFIO_IOMMU_DIRTY_PAGES",
  "IOMMU_HWPT_GET_DIRTY_BITMAP",
  "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
]);

/** Per-call bound: far above any legitimate call (ms). */
const HANG_MS = 2000;
const U64_MAX = (1n << 64n) - 1n;

export interface MutationFailure {
  readonly trace: string;
  readonly seq: number;
  readonly op: string;
  readonly mutated: string;
  readonly problem: string;
}

export interface MutationReport {
  readonly cases: number;
  readonly failed: number;
  readonly histogram: Record<string, number>;
  readonly failures: MutationFailure[];
}

/** A hostile replacement for a hex-string field (kept in u32 range when the original was). */
function hexValue(rng: XorShift, orig: bigint): bigint {
  const small = orig < 1n << 32n && rng.chance(0.85);
  const top = small ? 0xffff_ffffn : U64_MAX;
  switch (rng.below(11)) {
    case 0:
      return 0n;
    case 1:
      return 1n;
    case 2:
      return top;
    case 3:
      return top - 0xfffn;
    case 4:
      return (orig + 0x1000n) & top;
    case 5:
      return orig >= 0x1000n ? orig - 0x1000n : orig + 1n;
    case 6:
      return (orig ^ (1n << BigInt(rng.below(small ? 32 : 64)))) & top;
    case 7:
      return orig + 1n <= top ? orig + 1n : 0n;
    case 8:
      return orig > 0n ? orig - 1n : top;
    case 9:
      return small ? 0x8000_0000n : 1n << 63n;
    default:
      return small ? BigInt(rng.u32()) : rng.u64();
  }
}

/** A hostile replacement for a small integer field (ids, counts, flags given as numbers). */
function numValue(rng: XorShift, orig: number): number {
  switch (rng.below(7)) {
    case 0:
      return 0;
    case 1:
      return orig + 1;
    case 2:
      return Math.max(0, orig - 1);
    case 3:
      return 0xffff_ffff;
    case 4:
      return 9999;
    case 5:
      return rng.below(8);
    default:
      return rng.u32();
  }
}

/** Paths to the leaves a mutation may replace: hex strings and integers, at any depth. */
function leaves(v: Json, path: (string | number)[], out: (string | number)[][]): void {
  if (typeof v === "string" && /^0x[0-9a-f]+$/.test(v)) out.push(path);
  else if (typeof v === "number" && Number.isInteger(v) && v >= 0) out.push(path);
  else if (Array.isArray(v)) v.forEach((x, i) => leaves(x, [...path, i], out));
  else if (v !== null && typeof v === "object")
    for (const [k, x] of Object.entries(v)) leaves(x, [...path, k], out);
}

/** A deep copy of `input` with one to three leaves replaced; `describe` names what changed. */
export function mutateInput(rng: XorShift, input: JsonObject): { input: JsonObject; describe: string } {
  const copy = JSON.parse(JSON.stringify(input)) as JsonObject;
  const paths: (string | number)[][] = [];
  leaves(copy, [], paths);
  if (paths.length === 0) return { input: copy, describe: "(no field to mutate)" };
  const changes: string[] = [];
  const n = 1 + rng.below(Math.min(3, paths.length));
  for (let i = 0; i < n; i++) {
    const path = rng.pick(paths);
    let parent: Json = copy;
    for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[key]!;
    const key = path[path.length - 1]!;
    const holder = parent as Record<string | number, Json>;
    const old = holder[key]!;
    const next =
      typeof old === "string" ? "0x" + hexValue(rng, BigInt(old)).toString(16) : numValue(rng, old as number);
    holder[key] = next;
    changes.push(`${path.join(".")}: ${String(old)} → ${String(next)}`);
  }
  return { input: copy, describe: changes.join(", ") };
}

/** The errno the replayed call returned (the recorded one unless the replay saw another). */
function errnoOf(res: RecordResult, rec: OpRecord): string | null {
  const m = res.mismatches.find((x) => x.field === "errno");
  if (m) return (m.got as string | null) ?? null;
  return rec.errno;
}

/** Mutate `cases` sampled ioctl records of `trace` (seeded, reproducible). */
export function mutateTrace(trace: Trace, opts: { cases: number; seed: number }): MutationReport {
  const rng = new XorShift(opts.seed);
  const records = trace.records;
  const ioctls = records.flatMap((r, i) => (r.kind === "op" && /^(VFIO|IOMMU)_/.test(r.op) ? [i] : []));
  // The fd names the trace opens: a mutation may aim a call at another kind of file.
  const fdNames = [...new Set(records.flatMap((r) => (r.kind === "op" && r.op === "open" ? [r.fd] : [])))];
  const picks = Array.from({ length: opts.cases }, () => rng.pick(ioctls)).sort((a, b) => a - b);

  const fresh = (): {
    replayer: Replayer;
    kernel: ReturnType<typeof createSystem>["kernel"];
    pos: number;
  } => {
    const kernel = createSystem(hostFromRun(trace.run, trace.sysfs, trace.sysfsFile)).kernel;
    return { kernel, replayer: new Replayer(kernel), pos: 0 };
  };
  let live = fresh();
  const histogram: Record<string, number> = {};
  const failures: MutationFailure[] = [];

  for (const k of picks) {
    if (live.pos > k) live = fresh();
    while (live.pos < k) live.replayer.step(records[live.pos++]!);
    const rec = records[k] as OpRecord;
    const m = mutateInput(rng, rec.in);
    const input = m.input;
    let describe = m.describe;
    let fd = rec.fd;
    if (fdNames.length > 1 && rng.chance(0.1)) {
      fd = rng.pick(fdNames);
      describe += `, fd: ${rec.fd} → ${fd}`;
    }
    const mutated: OpRecord = { ...rec, fd, in: input };
    const fail = (problem: string): void => {
      failures.push({ trace: trace.name, seq: rec.seq, op: rec.op, mutated: describe, problem });
    };
    const before = systemSnapshotText(live.kernel);
    const t0 = performance.now();
    let res: RecordResult;
    try {
      res = live.replayer.step(mutated)!;
    } catch (e) {
      fail(`exception escaped the replayer: ${(e as Error).message}`);
      live = fresh();
      continue;
    }
    const ms = performance.now() - t0;
    if (ms > HANG_MS) fail(`took ${ms.toFixed(0)} ms`);
    if (res.reason?.startsWith("engine error")) {
      fail(`non-errno exception: ${res.reason}`);
      live = fresh();
      continue;
    }
    const errno = res.reason ? "replayer" : (errnoOf(res, rec) ?? "ok");
    histogram[errno] = (histogram[errno] ?? 0) + 1;
    const after = systemSnapshotText(live.kernel);
    if (errno !== "ok" && errno !== "replayer" && !PARTIAL_ON_ERROR.has(rec.op) && after !== before)
      fail(`state changed by a failed call (${errno}): ${firstDifference(before, after)}`);
    // Back on the recorded path: the real call follows on an unchanged state; a changed one is
    // rebuilt from the start up to the next pick.
    if (after !== before) live = fresh();
    else {
      live.replayer.step(rec);
      live.pos = k + 1;
    }
  }
  return { cases: picks.length, failed: new Set(failures.map((f) => f.seq)).size, histogram, failures };
}
