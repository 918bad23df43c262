/**
 * Workload 5: automatic IOVA allocation (IOAS_MAP without FIXED_IOVA) for 10^5 mixed-size maps in a
 * fragmented IOAS: 2·10^4 fixed 4 KiB mappings with 4 KiB holes between them sit at the bottom of
 * the space, so first fit must step over them; sizes cycle through 4 KiB … 2 MiB. iommufd typed API
 * with a device attached (every map pins and fills the domain).
 */

import { now, xorshift, type Bench, type Row } from "./lib.js";
import { ARENA, iommufdTyped } from "./setup.js";
import type { PinSource } from "../src/core/iommufd/pages.js";
import { AddressSpace } from "../src/process/memory.js";

const SIZES = [0x1000n, 0x2000n, 0x1000n, 0x10000n, 0x1000n, 0x100000n, 0x3000n, 0x200000n];

function run(n: number, fragments: number): { ms: number; last: bigint } {
  const face = iommufdTyped(1n << 22n);
  const memory = new AddressSpace();
  memory.mmap(ARENA, 2n << 20n, "rw");
  const src: PinSource = {
    memory,
    userAccount: { lockedVm: 0n },
    mmAccount: { lockedVm: 0n },
    capIpcLock: true,
    rlimitMemlock: 1n << 62n,
  };
  for (let i = 0; i < fragments; i++)
    face.ctx.ioasMap(
      face.ioas,
      { iova: 0x100000n + BigInt(i) * 0x2000n, userVa: ARENA, length: 0x1000n, read: true, write: true },
      src,
    );
  const rnd = xorshift(0x1234567n);
  const sizes = Array.from({ length: n }, () => SIZES[Number(rnd() % BigInt(SIZES.length))]!);
  let last = 0n;
  const t0 = now();
  for (let i = 0; i < n; i++)
    last = face.ctx.ioasMap(face.ioas, { userVa: ARENA, length: sizes[i]!, read: true, write: true }, src);
  return { ms: now() - t0, last };
}

export const bench: Bench = ({ quick, log }) => {
  const n = quick ? 10_000 : 100_000;
  run(2_000, 2_000); // warm-up
  const r = run(n, quick ? 2_000 : 20_000);
  const row: Row = {
    workload: "auto_iova_mixed",
    impl: "ioas-iommufd",
    n,
    ops_per_s: Math.round((n / r.ms) * 1e3),
    ns_per_op: Math.round((r.ms * 1e6) / n),
    note: `${r.ms.toFixed(0)} ms; last IOVA 0x${r.last.toString(16)}`,
  };
  log(`${row.workload} n=${n}: ${row.ops_per_s} maps/s (${row.note})`);
  return [row];
};
