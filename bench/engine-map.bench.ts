/**
 * Workloads 1 and 2: map then unmap 4 KiB mappings at random non-overlapping IOVAs (the same index
 * set and order as map-unmap.bench.ts and the C anchor), n live, through the whole engines:
 *   1. the typed APIs — type1 (container + group: every MAP_DMA pins and maps into a VT-d domain)
 *      and iommufd (IOAS + attached device: every IOAS_MAP creates pages, an area, pins and fills
 *      the automatic HWPT's domain);
 *   2. the binary uAPI — UserClient: structs written to process memory, ioctl, results read back.
 * Each mapping is backed by its own arena page (VA = ARENA + IOVA offset).
 */

import { heapUsed, now, shuffledEvenPages, unmapKeys, xorshift, type Bench, type Row } from "./lib.js";
import { ARENA, IOVA_BASE, iommufdTyped, iommufdUapi, type1Typed, type1Uapi, type Face } from "./setup.js";

const PAGE = 0x1000n;

export function runFace(workload: string, make: (arenaBytes: bigint) => Face, n: number): Row {
  const rnd = xorshift();
  const pages = shuffledEvenPages(n, rnd);
  const offs = pages.map((p) => BigInt(p) << 12n);
  const face = make(BigInt(2 * n + 2) * PAGE);
  const h0 = heapUsed();
  const t0 = now();
  for (let i = 0; i < n; i++) face.map(IOVA_BASE + offs[i]!, ARENA + offs[i]!, PAGE);
  const t1 = now();
  const h1 = heapUsed();
  const keys = unmapKeys(offs, rnd, (o) => IOVA_BASE + o);
  const t2 = now();
  for (let i = 0; i < n; i++) face.unmap(keys[i]!, PAGE);
  const t3 = now();
  const seconds = (t1 - t0 + (t3 - t2)) / 1e3;
  return {
    workload,
    impl: face.impl,
    n,
    pairs_per_s: Math.round(n / seconds),
    ns_per_op: Math.round((seconds * 1e9) / (2 * n)),
    bytes_per_mapping: Math.round((h1 - h0) / n),
    note: `map ${Math.round(((t1 - t0) * 1e6) / n)} ns, unmap ${Math.round(((t3 - t2) * 1e6) / n)} ns`,
  };
}

export const bench: Bench = (ctx) => {
  const sizes = ctx.quick ? [10_000] : [10_000, 100_000, 1_000_000];
  const rows: Row[] = [];
  const faces: [string, (b: bigint) => Face][] = [
    ["map_unmap_4k_random", type1Typed],
    ["map_unmap_4k_random", (b) => iommufdTyped(b)],
    ["map_unmap_4k_random_uapi", type1Uapi],
    ["map_unmap_4k_random_uapi", iommufdUapi],
  ];
  for (const n of sizes) {
    for (const [workload, make] of faces) {
      runFace(workload, make, 20_000); // JIT warm-up, discarded
      const row = runFace(workload, make, n);
      ctx.log(
        `${workload} ${row.impl} n=${n}: ${row.pairs_per_s} pairs/s, ${row.bytes_per_mapping} B/mapping (${row.note})`,
      );
      rows.push(row);
    }
  }
  return rows;
};
