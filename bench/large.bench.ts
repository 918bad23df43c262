/**
 * Workload 3: one 1 TiB map and unmap on each engine (typed API, with a domain: the whole TiB is
 * pinned and mapped) — must be O(1) in time and memory, since nothing is per page — and 10^5 maps of
 * 2 MiB (then their unmaps).
 */

import { gc, heapUsed, median, now, type Bench, type Row } from "./lib.js";
import { qemuQ35VtdHost } from "../src/core/topology/presets.js";
import { ARENA, IOVA_BASE, benchHost, iommufdTyped, type1Typed, type Face } from "./setup.js";

const TiB = 1n << 40n;
const MiB2 = 2n << 20n;

/** Contexts measured together for the heap of one 1 TiB mapping (amortises one-time JIT objects). */
const HEAP_CONTEXTS = 2000;

/**
 * One map + unmap of `TiB`: time is the median of `reps` map+unmap pairs on one context after a
 * warm-up; heap is what one live 1 TiB mapping holds — the heap of HEAP_CONTEXTS contexts each with
 * one 1 TiB mapping minus the same contexts empty, divided by their number. The row gives the first
 * round (fresh contexts: the mapping pays for the structures its context makes at the first map, a
 * tree leaf, the first chunk of type1's dma table); the note adds the median of four later rounds
 * (contexts that mapped before keep that room, so a mapping there costs little or nothing). A
 * single before/after delta around one map would also count code and feedback V8 allocates for the
 * path once, a few KiB that belong to no mapping (spread over HEAP_CONTEXTS here).
 */
function oneTiB(make: (arena: bigint) => Face, reps: number): Row {
  const face = make(TiB);
  for (let r = 0; r < 20; r++) {
    face.map(IOVA_BASE, ARENA, TiB);
    face.unmap(IOVA_BASE, TiB);
  }
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    face.map(IOVA_BASE, ARENA, TiB);
    face.unmap(IOVA_BASE, TiB);
    times.push(now() - t0);
  }
  const time = median(times);
  // Map and unmap in every context several times; the first round also allocates what the path
  // needs once (feedback, the first leaf of a tree), so the median of the later rounds is taken.
  const faces = Array.from({ length: HEAP_CONTEXTS }, () => make(TiB));
  const perMapping: number[] = [];
  for (let round = 0; round < 5; round++) {
    const h0 = heapUsed();
    for (const f of faces) f.map(IOVA_BASE, ARENA, TiB);
    const h1 = heapUsed();
    for (const f of faces) f.unmap(IOVA_BASE, TiB);
    perMapping.push((h1 - h0) / HEAP_CONTEXTS);
  }
  const heap = Math.round(perMapping[0]!);
  const again = Math.round(median(perMapping.slice(1)));
  return {
    workload: "map_unmap_1tib",
    impl: face.impl,
    n: 1,
    pairs_per_s: Math.round(1e3 / time),
    ns_per_op: Math.round((time * 1e6) / 2),
    bytes_per_mapping: heap,
    note: `map+unmap ${time.toFixed(4)} ms (median of ${reps}), heap ${heap} B per live 1 TiB mapping (${again} B when its context mapped before)`,
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
    const row = oneTiB(make, quick ? 50 : 500);
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
