import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decomposePageSizes } from "../../../src/core/dma/page-sizes.js";

const VTD = 0x40201000n; // 4K | 2M | 1G
const K4 = 0x1000n;
const M2 = 0x200000n;
const G1 = 0x40000000n;

/** Naive reference: walk page by page choosing the largest fitting aligned size. */
function naive(iova: bigint, len: bigint, bitmap: bigint, phys: bigint): Map<bigint, bigint> {
  const sizes = [G1, M2, K4].filter((s) => (bitmap & s) !== 0n);
  const out = new Map<bigint, bigint>();
  let off = 0n;
  while (off < len) {
    const size = sizes.find((s) => (iova + off) % s === 0n && (phys + off) % s === 0n && off + s <= len)!;
    out.set(size, (out.get(size) ?? 0n) + 1n);
    off += size;
  }
  return out;
}

describe("page-size decomposition", () => {
  it("uses 1 GiB pages where iova and memory are co-aligned, smaller ones at the edges", () => {
    expect(decomposePageSizes(G1 - K4, G1 + 2n * K4, VTD)).toEqual([
      { pageSize: G1, count: 1n },
      { pageSize: K4, count: 2n },
    ]);
    expect(decomposePageSizes(0n, 1n << 40n, VTD)).toEqual([{ pageSize: G1, count: 1024n }]);
  });
  it("falls back to 4 KiB when huge pages are off or memory is not co-aligned", () => {
    expect(decomposePageSizes(0n, M2, VTD, 0n, K4)).toEqual([{ pageSize: K4, count: 512n }]);
    expect(decomposePageSizes(0n, M2, VTD, K4)).toEqual([{ pageSize: K4, count: 512n }]);
  });
  it("agrees with a page walk", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2048 }),
        fc.integer({ min: 1, max: 2048 }),
        fc.integer({ min: 0, max: 1024 }),
        (a, l, p) => {
          const iova = BigInt(a) * K4 * 3n;
          const len = BigInt(l) * K4 * 5n;
          const phys = BigInt(p) * K4 * 512n + (p % 2 === 0 ? 0n : iova % M2);
          const got = new Map(decomposePageSizes(iova, len, VTD, phys).map((u) => [u.pageSize, u.count]));
          expect(got).toEqual(naive(iova, len, VTD, phys));
        },
      ),
      { numRuns: 300 },
    );
  });
});
