/**
 * uAPI fuzzer: seeded (xorshift32), reproducible. Each case issues one ioctl on one fd of a live
 * system — iommufd, type1 container, compat container, group, group device fd, device cdev, stdio —
 * with a known or random request number and a random, structured or hostile argument (size/argsz
 * fields around the real sizes, flags, reserved words, ids, IOVAs, pointers: NULL, kernel, unaligned,
 * top of u64, unmapped).
 *
 * Invariants: only errnos come back (no exception escapes `process.ioctl`), each call returns within
 * a time bound, and a failing call leaves the whole-system snapshot unchanged, except the kernel's
 * own partial effects (iommufd/compat unmap, dirty bitmap and attach copy-outs). Write-backs on error
 * (compat unmap size, IOVA_RANGES on EMSGSIZE) touch the argument only, which the snapshot excludes.
 */

import { UserClient } from "../../src/client/user-api.js";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import type { Process } from "../../src/process/process.js";
import * as N from "../../src/uapi/numbers.js";
import { createSystem, type Kernel } from "../../src/uapi/system.js";
import { firstDifference, systemSnapshotText } from "../faults/system-snapshot.js";

export class XorShift {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
}

const BUF = 0x10_0000_0000n;
const BUF_SIZE = 0x80_0000n;
const ARG = 0x30_0000_0000n;
const ARG_SIZE = 0x2000n;
const U64_MAX = (1n << 64n) - 1n;

/** Requests the kernel knows, plus the extension number of seed 004 range queries. */
const KNOWN: readonly number[] = [...N.IOCTL_NAMES.keys()];

/** Commands whose failure the kernel itself does not unwind (partial effects, Appendix B.1). */
const PARTIAL_ON_ERROR: ReadonlySet<number> = new Set([
  N.IOMMU_IOAS_UNMAP,
  N.VFIO_IOMMU_UNMAP_DMA,
  N.VFIO_IOMMU_DIRTY_PAGES,
  N.IOMMU_HWPT_GET_DIRTY_BITMAP,
  N.VFIO_DEVICE_ATTACH_IOMMUFD_PT,
]);

interface World {
  kernel: Kernel;
  process: Process;
  fds: { fd: number; kind: string }[];
}

/** A system with one fd of every kind in a used state (mappings, bound and attached devices). */
function world(rng: XorShift): World {
  const { kernel } = createSystem(qemuQ35VtdHost());
  const process = kernel.spawn();
  process.memory.mmap(BUF, BUF_SIZE, "rw", { label: "buffer" });
  process.memory.mmap(ARG, ARG_SIZE, "rw", { label: "args" });
  // A read-only page right after the argument area (EFAULT on write-back, not on read).
  process.memory.mmap(ARG + ARG_SIZE, 0x1000n, "r", { label: "ro" });
  const c = new UserClient(process);
  const rw = { read: true, write: true };
  const fds: World["fds"] = [];
  const add = (fd: number, kind: string): number => (fds.push({ fd, kind }), fd);
  const ifd = add(c.open("/dev/iommu"), "iommufd");
  const ioas = c.ioasAlloc(ifd);
  c.ioasMap(ifd, ioas, BUF, 0x100000n, rw, 0x100000n);
  c.ioasMap(ifd, ioas, BUF + 0x100000n, 0x10000n, { read: true, write: false });
  if (rng.chance(0.7)) {
    const cdev = add(c.open("/dev/vfio/devices/vfio2"), "cdev");
    c.bind(cdev, ifd);
    if (rng.chance(0.7)) c.attach(cdev, ioas);
  }
  // type1 container with group 1 and its device.
  const cont = add(c.open("/dev/vfio/vfio"), "container");
  const g1 = add(c.open("/dev/vfio/1"), "group");
  c.setContainer(g1, cont);
  if (rng.chance(0.8)) {
    c.setIommu(cont, rng.chance(0.5) ? N.VFIO_TYPE1v2_IOMMU : N.VFIO_TYPE1_IOMMU);
    add(c.getDeviceFd(g1, "0000:00:04.0"), "device");
    c.mapDma(cont, BUF, 0x200000n, 0x100000n, rw);
  }
  // compat container (iommufd opened as a container) with group 2.
  const compat = add(c.open("/dev/iommu"), "compat");
  const g2 = add(c.open("/dev/vfio/2"), "group");
  c.setContainer(g2, compat);
  if (rng.chance(0.8)) {
    c.setIommu(compat, N.VFIO_TYPE1v2_IOMMU);
    c.mapDma(compat, BUF + 0x200000n, 0x400000n, 0x80000n, rw);
  }
  return { kernel, process, fds: [...fds, { fd: 0, kind: "stdio" }, { fd: 77, kind: "closed" }] };
}

/** Interesting 32-bit values: sizes around the structs, ids, flags. */
function word32(rng: XorShift): number {
  switch (rng.below(8)) {
    case 0:
      return 0;
    case 1:
      return 1 + rng.below(8); // ids, small counts
    case 2:
      return rng.pick([8, 12, 16, 20, 24, 32, 40, 48, 56, 64, 72, 88, 4096]); // sizes
    case 3:
      return 1 << rng.below(32); // single flag bits
    case 4:
      return 0xffffffff;
    case 5:
      return rng.below(16); // flag combinations
    case 6:
      return 0x7fffffff + rng.below(3);
    default:
      return rng.u32();
  }
}

function word64(rng: XorShift): bigint {
  switch (rng.below(10)) {
    case 0:
      return 0n;
    case 1:
      return BUF + BigInt(rng.below(16)) * 0x1000n; // mapped user memory
    case 2:
      return BigInt(rng.below(0x1000)) * 0x1000n; // IOVAs / lengths in pages
    case 3:
      return 0x100000n * BigInt(1 + rng.below(8));
    case 4:
      return U64_MAX - BigInt(rng.below(0x2000));
    case 5:
      return 0xffff_8000_0000_0000n + BigInt(rng.below(0x1000)); // kernel address
    case 6:
      return ARG + BigInt(rng.below(0x100)); // may be unaligned
    case 7:
      return 1n << BigInt(rng.below(64));
    case 8:
      return BigInt(rng.below(0x1000)) + 1n; // unaligned small
    default:
      return rng.u64();
  }
}

/** A structured argument: a leading size/argsz word, then a random mix of 32- and 64-bit words. */
function structBytes(rng: XorShift): Uint8Array {
  const len = rng.pick([8, 16, 24, 32, 40, 48, 64, 96, 128, 256]);
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  for (let at = 0; at + 8 <= len; at += 8) {
    if (rng.chance(0.5)) {
      dv.setUint32(at, word32(rng), true);
      dv.setUint32(at + 4, word32(rng), true);
    } else dv.setBigUint64(at, word64(rng), true);
  }
  if (rng.chance(0.8)) dv.setUint32(0, rng.chance(0.7) ? len : word32(rng), true);
  if (rng.chance(0.1)) for (let i = 0; i < len; i++) b[i] = rng.below(256); // pure noise
  return b;
}

/** The known requests that make sense on an fd kind (by the name's family). */
const FAMILY: Readonly<Record<string, RegExp>> = {
  iommufd: /^IOMMU_/,
  compat: /^(VFIO_(GET_API|CHECK_EXT|SET_IOMMU|IOMMU_)|IOMMU_)/,
  container: /^VFIO_(GET_API|CHECK_EXT|SET_IOMMU|IOMMU_)/,
  group: /^VFIO_GROUP_/,
  device: /^VFIO_DEVICE_/,
  cdev: /^VFIO_DEVICE_/,
};
const KNOWN_BY_KIND = new Map(
  Object.entries(FAMILY).map(([kind, re]) => [kind, KNOWN.filter((r) => re.test(N.ioctlName(r)))]),
);

function request(rng: XorShift, kind: string): number {
  const r = rng.below(10);
  const family = KNOWN_BY_KIND.get(kind);
  if (r < 6 && family && family.length > 0) return rng.pick(family);
  if (r < 8) return rng.pick(KNOWN);
  if (r < 9) return N._IO(0x3b, rng.below(256)); // same type, any nr
  return rng.u32() | 0;
}

function argument(rng: XorShift, w: World): bigint {
  switch (rng.below(12)) {
    case 0:
      return 0n;
    case 1:
      return U64_MAX - BigInt(rng.below(8));
    case 2:
      return 0xffff_8000_0000_0000n;
    case 3:
      return BigInt(rng.below(16)); // by value (SET_IOMMU, CHECK_EXTENSION…)
    case 4:
      return ARG + ARG_SIZE - BigInt(rng.below(16)); // straddles the read-only page
    case 5:
      return 0x5000_0000_0000n; // unmapped
    default: {
      const at = ARG + BigInt(rng.below(4)); // sometimes unaligned
      w.process.memory.write(at, structBytes(rng));
      return at;
    }
  }
}

export interface FuzzFailure {
  readonly seed: number;
  readonly case: number;
  readonly fd: string;
  readonly request: string;
  readonly arg: string;
  readonly problem: string;
}

export interface FuzzReport {
  readonly cases: number;
  readonly passed: number;
  readonly failed: number;
  readonly seconds: number;
  readonly histogram: Record<string, number>;
  readonly failures: FuzzFailure[];
}

/** Per-call bound: far above any legitimate call (ms). */
const HANG_MS = 2000;

export function fuzz(opts: { cases: number; seed?: number; casesPerWorld?: number }): FuzzReport {
  const seed = opts.seed ?? 1;
  const rng = new XorShift(seed);
  const perWorld = opts.casesPerWorld ?? 200;
  const histogram: Record<string, number> = {};
  const failures: FuzzFailure[] = [];
  const t0 = performance.now();
  let w = world(rng);
  for (let i = 0; i < opts.cases; i++) {
    if (i > 0 && i % perWorld === 0) w = world(rng);
    // Stdio and closed fds now and then; mostly the subsystem fds.
    const target = rng.chance(0.03) ? w.fds.at(-1 - rng.below(2))! : rng.pick(w.fds.slice(0, -2));
    const req = request(rng, target.kind);
    const arg = argument(rng, w);
    const before = systemSnapshotText(w.kernel);
    const fail = (problem: string): void => {
      failures.push({
        seed,
        case: i,
        fd: target.kind,
        request: N.ioctlName(req),
        arg: "0x" + arg.toString(16),
        problem,
      });
    };
    const start = performance.now();
    let res: { ret: number; errno: string | null };
    try {
      res = w.process.ioctl(target.fd, req, arg);
    } catch (e) {
      fail(`exception escaped: ${(e as Error).name}: ${(e as Error).message}`);
      w = world(rng);
      continue;
    }
    const ms = performance.now() - start;
    if (ms > HANG_MS) fail(`took ${ms.toFixed(0)} ms`);
    const key = res.errno ?? "ok";
    histogram[key] = (histogram[key] ?? 0) + 1;
    if (res.errno !== null && !PARTIAL_ON_ERROR.has(req)) {
      const after = systemSnapshotText(w.kernel);
      if (after !== before)
        fail(`state changed by a failed call (${res.errno}): ${firstDifference(before, after)}`);
    }
    // Successful calls that open fds (GET_DEVICE_FD) are fuzzed too from now on.
    if (res.errno === null && req === N.VFIO_GROUP_GET_DEVICE_FD && res.ret > 2)
      w.fds.splice(w.fds.length - 2, 0, { fd: res.ret, kind: "device" });
  }
  const seconds = (performance.now() - t0) / 1000;
  const failedCases = new Set(failures.map((f) => f.case)).size;
  return {
    cases: opts.cases,
    passed: opts.cases - failedCases,
    failed: failedCases,
    seconds,
    histogram,
    failures,
  };
}
