import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IoptPages, type PinSource } from "../../../src/core/iommufd/pages.js";
import { normalize, totalLength, type IovaRange } from "../../../src/core/ranges.js";
import { PAGE_SIZE } from "../../../src/core/u64.js";
import { AddressSpace } from "../../../src/process/memory.js";

const UPTR = 0x100000n;
const NPAGES = 16;

function source(): PinSource {
  const memory = new AddressSpace();
  // Two VMAs: the pages' runs split at page 6 (a store that needs its run map).
  memory.mmap(UPTR, 6n * PAGE_SIZE, "rw");
  memory.mmap(UPTR + 6n * PAGE_SIZE, BigInt(NPAGES - 6) * PAGE_SIZE, "rw");
  return {
    memory,
    userAccount: { lockedVm: 0n },
    mmAccount: { lockedVm: 0n },
    capIpcLock: false,
    rlimitMemlock: 1n << 40n,
  };
}

describe("IoptPages holders", () => {
  it("pins the union of its holders' ranges, each page charged once, whatever the pin/unpin order", () => {
    const holders = Array.from({ length: 4 }, (_, i) => ({ name: `h${i}` }));
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 3 }),
            fc.boolean(),
            fc.integer({ min: 0, max: NPAGES - 1 }),
            fc.integer({ min: 0, max: NPAGES - 1 }),
          ),
          { maxLength: 30 },
        ),
        (ops) => {
          const src = source();
          const pages = new IoptPages(UPTR, BigInt(NPAGES), true, "user", src);
          const held = new Map<object, IovaRange>();
          for (const [who, pin, a, b] of ops) {
            const h = holders[who]!;
            if (pin) {
              const range = { start: BigInt(Math.min(a, b)), last: BigInt(Math.max(a, b)) };
              pages.pin(h, range, "test");
              if (!held.has(h)) held.set(h, range); // a held holder's second pin is a no-op
            } else {
              pages.unpin(h);
              held.delete(h);
            }
            const union = normalize([...held.values()]);
            expect(pages.pinned).toEqual(union);
            expect(pages.pinnedPages).toBe(totalLength(union));
            expect(src.userAccount.lockedVm).toBe(totalLength(union));
            for (const h2 of holders) expect(pages.holds(h2)).toBe(held.has(h2));
            // Every pinned byte resolves to its VMA's object, at its own offset.
            for (const r of union) {
              const segs = pages.segments(r.start * PAGE_SIZE, (r.last - r.start + 1n) * PAGE_SIZE);
              expect(segs.reduce((n, s) => n + s.length, 0n)).toBe((r.last - r.start + 1n) * PAGE_SIZE);
            }
          }
          for (const h of holders) pages.unpin(h);
          expect(pages.pinnedPages).toBe(0n);
          expect(src.userAccount.lockedVm).toBe(0n);
        },
      ),
    );
  });

  it("moves a holder's pin to new holders without changing what is pinned (area split)", () => {
    const src = source();
    const pages = new IoptPages(UPTR, BigInt(NPAGES), true, "mm", src);
    const whole = { name: "area" };
    const lhs = { name: "lhs" };
    const rhs = { name: "rhs" };
    pages.pin(whole, { start: 0n, last: BigInt(NPAGES - 1) }, "test");
    expect(src.mmAccount.lockedVm).toBe(BigInt(NPAGES));
    pages.rehold(whole, [
      { holder: lhs, range: { start: 0n, last: 4n } },
      { holder: rhs, range: { start: 5n, last: BigInt(NPAGES - 1) } },
    ]);
    expect([pages.holds(whole), pages.holds(lhs), pages.holds(rhs)]).toEqual([false, true, true]);
    expect(pages.pinnedPages).toBe(BigInt(NPAGES));
    pages.unpin(lhs);
    expect(pages.pinned).toEqual([{ start: 5n, last: BigInt(NPAGES - 1) }]);
    expect(src.mmAccount.lockedVm).toBe(BigInt(NPAGES - 5));
    pages.unpin(rhs);
    expect(src.mmAccount.lockedVm).toBe(0n);
  });
});
