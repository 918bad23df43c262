/**
 * Workload 3: one 1 TiB map and unmap on each engine (typed API, with a domain: the whole TiB is
 * pinned and mapped) — must be O(1) in time and memory, since nothing is per page — and 10^5 maps of
 * 2 MiB (then their unmaps).
 */

import { gc, heapUsed, now, type Bench, type Row } from "./lib.js";
import { qemuQ35VtdHost } from "../src/core/topology/presets.js";
import { ARENA, IOVA_BASE, benchHost, iommufdTyped, type1Typed, type Face } from "./setup.js";

const TiB = 1n << 40n;
const MiB2 = 2n << 20n;

/** One map + unmap of `TiB`: best of `reps` (each on a fresh context), heap delta while mapped. */
function oneTiB(make: (arena: bigint) => Face, reps: number): Row {
  let best = Infinity;
  let heap = Infinity;
  for (let r = 0; r < reps; r++) {
    const face = make(TiB);
    face.map(IOVA_BASE, ARENA, 1n << 30n); // warm the path with a small map
    face.unmap(IOVA_BASE, 1n << 30n);
    const h0 = heapUsed();
    const t0 = now();
    face.map(IOVA_BASE, ARENA, TiB);
    const t1 = now();
    const h1 = heapUsed();
    const t2 = now();
    face.unmap(IOVA_BASE, TiB);
    const t3 = now();
    best = Math.min(best, t1 - t0 + (t3 - t2));
    heap = Math.min(heap, h1 - h0);
  }
  return {
    workload: "map_unmap_1tib",
    impl: make(1n << 12n).impl,
    n: 1,
    pairs_per_s: Math.round(1e3 / best),
    ns_per_op: Math.round((best * 1e6) / 2),
    bytes_per_mapping: heap,
    note: `map+unmap ${best.toFixed(3)} ms, heap ${heap} B while mapped`,
  };
}

function many2M(make: (arena: bigint) => Face, n: number): Row {
  const face = make(BigInt(n) * MiB2);
  gc();
  const h0 = heapUsed();
  const t0 = now();
  for (let i = 0; i < n; i++) face.map(IOVA_BASE + BigInt(i) * MiB2, ARENA + BigInt(i) * MiB2, MiB2);
  const t1 = now();
  const h1 = heapUsed();
  for (let i = 0; i < n; i++) face.unmap(IOVA_BASE + BigInt(i) * MiB2, MiB2);
  const t2 = now();
  return {
    workload: "map_2mib",
    impl: face.impl,
    n,
    ops_per_s: Math.round((n / (t1 - t0)) * 1e3),
    ns_per_op: Math.round(((t1 - t0) * 1e6) / n),
    bytes_per_mapping: Math.round((h1 - h0) / n),
    note: `unmap ${Math.round(((t2 - t1) * 1e6) / n)} ns each`,
  };
}

export const bench: Bench = ({ quick, log }) => {
  const rows: Row[] = [];
  // 48-bit VT-d: a 1 TiB IOVA range does not fit the q35 default of 39 bits.
  const host = (): ReturnType<typeof benchHost> => benchHost(qemuQ35VtdHost({ addressWidth: 48 }));
  const makers = [(b: bigint) => type1Typed(b, host()), (b: bigint) => iommufdTyped(b, host())];
  for (const make of makers) {
    const row = oneTiB(make, quick ? 3 : 10);
    log(`${row.workload} ${row.impl}: ${row.note}`);
    rows.push(row);
  }
  const n = quick ? 10_000 : 100_000;
  for (const make of makers) {
    many2M(make, 5_000); // warm-up
    const row = many2M(make, n);
    log(
      `${row.workload} ${row.impl} n=${n}: ${row.ops_per_s} maps/s, ${row.bytes_per_mapping} B/mapping (${row.note})`,
    );
    rows.push(row);
  }
  return rows;
};
