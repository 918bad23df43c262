import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AreaHolder, AreaTable } from "../../../src/core/iommufd/area-table.js";
import { IoptPages, type PinSource, type PinTarget } from "../../../src/core/iommufd/pages.js";
import { IoasError } from "../../../src/core/errno.js";
import { PAGE_SIZE, U64_MAX } from "../../../src/core/u64.js";
import { AddressSpace } from "../../../src/process/memory.js";

const VA = 0x100000n;

/** A process memory with one VMA of 8 pages at VA and a second of 8 right after it. */
function source(rlimitPages = 1n << 20n): PinSource {
  const memory = new AddressSpace();
  memory.mmap(VA, 8n * PAGE_SIZE, "rw");
  memory.mmap(VA + 8n * PAGE_SIZE, 8n * PAGE_SIZE, "rw");
  return {
    memory,
    userAccount: { lockedVm: 0n },
    mmAccount: { lockedVm: 0n },
    capIpcLock: false,
    rlimitMemlock: rlimitPages * PAGE_SIZE,
  };
}

function store(src: PinSource, uptr = VA): PinTarget {
  return { uptr, writable: true, accountMode: "user", source: src };
}

function bounds(t: AreaTable): [bigint, bigint][] {
  return t.slots().map((s) => [t.iovaAt(s), t.lastAt(s)]);
}

describe("AreaTable rows", () => {
  it("agrees with a naive list under random inserts and removals, at the bottom, 2^53 and the top of u64", () => {
    const src = source();
    const shared = new IoptPages(VA, 4n, true, "user", src);
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom("inline", "shared", "remove"), fc.integer({ min: 0, max: 60 }), fc.nat(5)),
        ),
        fc.constantFrom(0n, (1n << 53n) - 30n, U64_MAX - 70n),
        (ops, base) => {
          const t = new AreaTable();
          const at = (k: number): bigint => base + BigInt(k);
          const naive: [number, number, string][] = [];
          for (const [op, s, len] of ops) {
            const l = s + len;
            if (op === "remove") {
              const i = naive.findIndex(([a]) => a === s);
              if (i >= 0) {
                t.remove(t.find(at(s)));
                naive.splice(i, 1);
              }
              continue;
            }
            const clash = naive.some(([a, b]) => a <= l && s <= b);
            const before = bounds(t);
            const slot =
              op === "inline"
                ? t.insertInline(at(s), at(l), BigInt(s) % PAGE_SIZE, store(src), true, s % 2 === 0)
                : t.insertShared(at(s), at(l), shared, BigInt(s), true, false);
            expect(slot < 0).toBe(clash);
            if (clash) expect(bounds(t)).toEqual(before);
            else naive.push([s, l, op]);
          }
          naive.sort((a, b) => a[0] - b[0]);
          expect(bounds(t)).toEqual(naive.map(([a, b]) => [at(a), at(b)]));
          for (const [a, , kind] of naive) {
            const slot = t.find(at(a));
            expect(t.sharedPagesAt(slot)).toBe(kind === "shared" ? shared : null);
            expect(t.startByteAt(slot)).toBe(kind === "shared" ? BigInt(a) : BigInt(a) % PAGE_SIZE);
            expect(t.writeAt(slot)).toBe(kind === "inline" && a % 2 === 0);
          }
        },
      ),
    );
  });

  it("refuses values a column would wrap, changing nothing", () => {
    const t = new AreaTable();
    const src = source();
    expect(() => t.insertInline(0n, U64_MAX + 1n, 0n, store(src), true, true)).toThrow(RangeError);
    expect(() => t.insertInline(0n, 0xfffn, PAGE_SIZE, store(src), true, true)).toThrow(RangeError);
    expect(() => t.insertInline(0n, 0xfffn, -1n, store(src), true, true)).toThrow(RangeError);
    expect(() =>
      t.insertShared(0n, 0xfffn, new IoptPages(VA, 1n, true, "user", src), -1n, true, true),
    ).toThrow(RangeError);
    expect(() => t.insertInline(0n, 0xfffn, 0n, store(src, -1n), true, true)).toThrow(RangeError);
    expect(t.size).toBe(0);
    const slot = t.insertInline(U64_MAX - 0xfffn, U64_MAX, 0n, store(src), true, true);
    expect([t.iovaAt(slot), t.lastAt(slot), t.lengthAt(slot)]).toEqual([U64_MAX - 0xfffn, U64_MAX, 0x1000n]);
  });

  it("makes a handle that throws once its area is gone", () => {
    const t = new AreaTable();
    const slot = t.insertInline(0x1000n, 0x1fffn, 0n, store(source()), true, true);
    const area = t.at(slot);
    expect(area.iova).toBe(0x1000n);
    t.remove(slot);
    expect(t.insertInline(0x5000n, 0x5fffn, 0n, store(source()), true, true)).toBe(slot);
    expect(() => area.iova).toThrow(/handle used after its mapping was removed/);
  });
});

describe("AreaTable stores", () => {
  it("pins an inline store in one run, charges its pages once, and uncharges them at unpin", () => {
    const src = source();
    const t = new AreaTable();
    // 0x2900 bytes from 0x800 into the pages: four pages, the last one partly.
    const slot = t.insertInline(0x40000800n, 0x400030ffn, 0x800n, store(src), true, true);
    t.pin(slot, "test");
    expect(t.holdsPin(slot)).toBe(true);
    expect(t.sharedPagesAt(slot)).toBeNull();
    expect(src.userAccount.lockedVm).toBe(4n);
    expect(t.storePinnedAt(slot)).toEqual([{ start: 0n, last: 3n }]);
    const [seg] = t.segmentsAt(slot);
    expect(seg!.length).toBe(0x2900n);
    expect(t.objectOffsetAt(slot)).toBe(seg!.objectOffset);
    expect(seg!.objectOffset % PAGE_SIZE).toBe(0x800n);
    t.pin(slot, "test"); // already held: nothing more
    expect(src.userAccount.lockedVm).toBe(4n);
    t.unpin(slot);
    expect([t.holdsPin(slot), src.userAccount.lockedVm]).toEqual([false, 0n]);
    expect(t.storePinnedAt(slot)).toEqual([]);
    expect(() => t.objectAt(slot)).toThrow(/not pinned/);
  });

  it("changes nothing when pinning fails (EFAULT on a hole, ENOMEM over RLIMIT_MEMLOCK)", () => {
    const src = source(2n);
    const t = new AreaTable();
    const over = t.insertInline(0x1000n, 0x3fffn, 0n, store(src), true, true); // 3 pages > 2
    expect(() => t.pin(over, "test")).toThrow(IoasError);
    const hole = t.insertInline(0x10000n, 0x10fffn, 0n, store(src, VA + 64n * PAGE_SIZE), true, true);
    expect(() => t.pin(hole, "test")).toThrow(/EFAULT|Bad address/);
    for (const s of [over, hole]) {
      expect([t.holdsPin(s), t.sharedPagesAt(s)]).toEqual([false, null]);
      expect(t.storePinnedAt(s)).toEqual([]);
    }
    expect(src.userAccount.lockedVm).toBe(0n);
  });

  it("pins a read-only VMA only for a store that does not write (EFAULT otherwise, nothing changed)", () => {
    const src = source();
    const ro = VA + 32n * PAGE_SIZE;
    src.memory.mmap(ro, 2n * PAGE_SIZE, "r");
    const t = new AreaTable();
    const rw = t.insertInline(0x1000n, 0x2fffn, 0n, store(src, ro), true, true);
    expect(() => t.pin(rw, "test")).toThrow(/EFAULT|Bad address/);
    expect([t.holdsPin(rw), t.sharedPagesAt(rw), src.userAccount.lockedVm]).toEqual([false, null, 0n]);
    const r = t.insertInline(0x10000n, 0x11fffn, 0n, { ...store(src, ro), writable: false }, true, false);
    t.pin(r, "test");
    expect([t.holdsPin(r), t.sharedPagesAt(r), src.userAccount.lockedVm]).toEqual([true, null, 2n]);
  });

  it("becomes shared when its pages resolve to two runs, charged the same", () => {
    const src = source();
    const t = new AreaTable();
    // Pages 6..9 of the two VMAs: one run in each.
    const slot = t.insertInline(0x200000n, 0x203fffn, 0n, store(src, VA + 6n * PAGE_SIZE), true, true);
    t.pin(slot, "test");
    const pages = t.sharedPagesAt(slot);
    expect(pages).toBeInstanceOf(IoptPages);
    expect([t.holdsPin(slot), src.userAccount.lockedVm, t.backedByOneRun(slot)]).toEqual([true, 4n, false]);
    expect(t.segmentsAt(slot).map((s) => s.length)).toEqual([0x2000n, 0x2000n]);
    t.unpin(slot);
    expect([t.holdsPin(slot), src.userAccount.lockedVm, pages!.pinnedPages]).toEqual([false, 0n, 0n]);
  });

  it("keeps pin, charge and translation when an inline store is made an object", () => {
    const src = source();
    const t = new AreaTable();
    const slot = t.insertInline(0x40000000n, 0x40003fffn, 0n, store(src), true, true);
    t.pin(slot, "test");
    t.setOneRun(slot, true);
    const before = [t.objectAt(slot), t.objectOffsetAt(slot), t.segmentsAt(slot), t.storePinnedAt(slot)];
    expect(t.shownAt(slot)).toBe(true);
    const pages = t.pagesOf(slot);
    expect(t.pagesOf(slot)).toBe(pages); // made once
    const holder = t.holderOf(slot);
    expect(holder).toBeInstanceOf(AreaHolder);
    expect(pages.holds(holder)).toBe(true);
    expect([t.objectAt(slot), t.objectOffsetAt(slot), t.segmentsAt(slot), t.storePinnedAt(slot)]).toEqual(
      before,
    );
    expect([t.shownAt(slot), src.userAccount.lockedVm, pages.pinnedPages]).toEqual([true, 4n, 4n]);
    // A second holder of the now shared store (an access pin) keeps its pages pinned past the area's unpin.
    const access = {};
    pages.pin(access, { start: 1n, last: 1n }, "test");
    t.unpin(slot);
    expect([t.holdsPin(slot), src.userAccount.lockedVm]).toEqual([false, 1n]);
    pages.unpin(access);
    expect(src.userAccount.lockedVm).toBe(0n);
  });
});

describe("AreaTable saved rows", () => {
  it("packs its rows in IOVA order and unpacks them into an equal table", () => {
    const src = source();
    const shared = new IoptPages(VA, 16n, true, "user", src);
    const t = new AreaTable();
    const a = t.insertInline(0x9000n, 0x9fffn, 0n, store(src), true, false);
    t.pin(a, "test");
    t.insertShared(0x1000n, 0x2fffn, shared, 0x3000n, true, true);
    const rows = t.pack();
    expect(rows.map((r) => r[0])).toEqual([0x1000n, 0x9000n]);
    const back = new AreaTable();
    back.unpack(rows);
    expect(back.pack()).toEqual(rows);
    expect(back.holdsPin(back.find(0x9000n))).toBe(true);
    expect(back.sharedPagesAt(back.find(0x1000n))).toBe(shared);
  });

  it("refuses malformed rows", () => {
    const src = source();
    const shared = new IoptPages(VA, 16n, true, "user", src);
    const holder = new AreaHolder();
    const inline = 8; // AREA_INLINE
    const cases: [unknown, RegExp][] = [
      [{}, /expected an array of areas/],
      [[[1n]], /expected 8 values/],
      [[[-1n, 1n, 0n, inline, src, null, 0n, 0n]], /outside u64/],
      [[[0n, 1n, 0n, 256, src, null, 0n, 0n]], /bad flags/],
      [[[0n, 0n, 0n, inline, src, null, 0n, 0n]], /length 0/],
      [[[0n, 1n, 0n, inline, shared, null, 0n, 0n]], /needs its pin source/],
      [[[0n, 1n, 0n, inline | 16, src, null, 0n, 0n]], /run does not match/],
      [[[0n, 1n, PAGE_SIZE, inline, src, null, 0n, 0n]], /start byte past a page/],
      [[[0n, 1n, 0n, 0, src, holder, 0n, 0n]], /shared row needs its store/],
      [
        [
          [0n, 0x10n, 0n, 0, shared, holder, 0n, 0n],
          [0x8n, 0x10n, 0n, 0, shared, new AreaHolder(), 0n, 0n],
        ],
        /area 1: overlaps another/,
      ],
    ];
    for (const [rows, msg] of cases) expect(() => new AreaTable().unpack(rows)).toThrow(msg);
  });
});
