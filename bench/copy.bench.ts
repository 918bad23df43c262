/**
 * The cost of sharing a page store (beside workload 1): iommufd keeps a MAP's store inline in its
 * area's row until something must share it; an IOAS_COPY of the area makes the store an
 * `IoptPages` object held by both areas. This measures n 4 KiB areas of IOAS A (a device attached:
 * every store pinned), each copied into IOAS B (another device attached: every copy mapped into a
 * second domain, no new pin or charge), then the copies and the originals unmapped.
 *
 * Rows: `copy_4k_shared` — copies per second and the heap each copy adds (the copy's own row in B
 * and the source's store made an object, with its holder); `unmap_4k_shared` — unmaps per second
 * of a copy and then its source (the last holder unpins).
 */

import { heapUsed, now, type Bench, type Row } from "./lib.js";
import { ARENA, IOVA_BASE, benchHost, iommufdTyped } from "./setup.js";

const PAGE = 0x1000n;
/** IOVA of the copies in B: far above A's mappings. */
const COPY_BASE = IOVA_BASE + (1n << 34n);

function run(n: number): Row[] {
  const host = benchHost();
  const a = iommufdTyped(BigInt(2 * n + 2) * PAGE, host);
  const ctx = a.ctx;
  const b = ctx.ioasAlloc();
  const edu2 = host.devices.find((d) => d.bdf === "0000:00:05.0")!;
  ctx.attachDevice(ctx.bindDevice(edu2), b);
  // Every other page, so no two areas are adjacent.
  for (let i = 0; i < n; i++) a.map(IOVA_BASE + BigInt(2 * i) * PAGE, ARENA + BigInt(2 * i) * PAGE, PAGE);
  const rw = { read: true, write: true };
  const h0 = heapUsed();
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const off = BigInt(2 * i) * PAGE;
    ctx.ioasCopy(b, a.ioas, { srcIova: IOVA_BASE + off, length: PAGE, dstIova: COPY_BASE + off, ...rw });
  }
  const t1 = now();
  const h1 = heapUsed();
  const t2 = now();
  for (let i = 0; i < n; i++) {
    const off = BigInt(2 * i) * PAGE;
    ctx.ioasUnmap(b, COPY_BASE + off, PAGE);
    a.unmap(IOVA_BASE + off, PAGE);
  }
  const t3 = now();
  const copyS = (t1 - t0) / 1e3;
  const unmapS = (t3 - t2) / 1e3;
  const bytes = Math.round((h1 - h0) / n);
  return [
    {
      workload: "copy_4k_shared",
      impl: "ioas-iommufd",
      n,
      ops_per_s: Math.round(n / copyS),
      ns_per_op: Math.round((copyS * 1e9) / n),
      bytes_per_mapping: bytes,
      note: `${bytes} B of heap per copy (its row in B, the source's store as an object with its holder)`,
    },
    {
      workload: "unmap_4k_shared",
      impl: "ioas-iommufd",
      n,
      ops_per_s: Math.round((2 * n) / unmapS),
      ns_per_op: Math.round((unmapS * 1e9) / (2 * n)),
      note: "each copy's unmap, then its source's (which unpins)",
    },
  ];
}

export const bench: Bench = (ctx) => {
  run(2_000); // JIT warm-up, discarded
  const rows = run(ctx.quick ? 10_000 : 100_000);
  for (const r of rows) ctx.log(`${r.workload} ${r.impl} n=${r.n}: ${r.ops_per_s} ops/s (${r.note})`);
  return rows;
};
