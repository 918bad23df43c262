import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryObject } from "../../../src/process/memory.js";
import { DMA_READ, DMA_WRITE, DmaTable, type DmaTask } from "../../../src/core/vfio/dma-table.js";
import { U64_MAX } from "../../../src/core/u64.js";

// The table never looks inside a task: any object stands for one.
const taskA = { name: "a" } as unknown as DmaTask;
const taskB = { name: "b" } as unknown as DmaTask;

function contents(t: DmaTable): [bigint, bigint, bigint, number][] {
  return t.slots().map((s) => [t.iovaAt(s), t.lastAt(s), t.vaddrAt(s), t.flagsAt(s)]);
}

describe("DmaTable", () => {
  it("agrees with a naive list under random maps and unmaps, at the bottom, 2^60 and the top of u64", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 5 }))),
        fc.integer({ min: 0, max: 70 }),
        fc.constantFrom(0n, (1n << 53n) - 30n, 1n << 60n, U64_MAX - 70n),
        (ops, probe, base) => {
          const t = new DmaTable();
          const at = (k: number): bigint => base + BigInt(k);
          const naive: [number, number][] = [];
          for (const [add, s, len] of ops) {
            const l = s + len;
            if (add) {
              const clash = naive.some(([a, b]) => a <= l && s <= b);
              const before = contents(t);
              const slot = t.insert(at(s), at(l), at(s) ^ 0x5000n, DMA_READ, taskA);
              expect(slot < 0).toBe(clash);
              if (clash) expect(contents(t)).toEqual(before);
              else naive.push([s, l]);
            } else {
              const slot = t.find(at(s));
              const idx = naive.findIndex(([a]) => a === s);
              if (idx >= 0) {
                expect(t.iovaAt(slot)).toBe(at(s));
                t.remove(slot);
                naive.splice(idx, 1);
              }
            }
          }
          naive.sort((a, b) => a[0] - b[0]);
          expect(contents(t)).toEqual(naive.map(([a, b]) => [at(a), at(b), at(a) ^ 0x5000n, DMA_READ]));
          const hit = naive.find(([a, b]) => a <= probe && probe <= b);
          const found = t.find(at(probe));
          expect(found < 0 ? undefined : t.iovaAt(found)).toBe(hit ? at(hit[0]) : undefined);
          const over = naive.filter(([a, b]) => a <= probe + 3 && probe <= b).map(([a]) => at(a));
          expect(t.overlapping(at(probe), at(probe + 3)).map((s) => t.iovaAt(s))).toEqual(over);
          const first = t.firstOverlapping(at(probe), at(probe + 3));
          expect(first < 0 ? undefined : t.iovaAt(first)).toBe(over[0]);
        },
      ),
    );
  });

  it("spans several chunks of columns: 10,000 dmas, half removed, slots reused, every value kept", () => {
    const t = new DmaTable();
    const n = 10_000;
    const slotOf: number[] = [];
    for (let i = 0; i < n; i++)
      slotOf.push(t.insert(BigInt(i) << 13n, (BigInt(i) << 13n) + 0xfffn, BigInt(i), i & 3, taskA));
    for (let i = 0; i < n; i += 2) t.remove(slotOf[i]!);
    for (let i = 0; i < n; i += 2) {
      const iova = (BigInt(i) << 13n) + 0x1000n;
      slotOf[i] = t.insert(iova, iova + 0xfffn, BigInt(i) + 7n, 8, taskB);
    }
    expect(Math.max(...slotOf)).toBe(n - 1);
    expect(t.size).toBe(n);
    for (let i = 0; i < n; i++) {
      const s = t.find((BigInt(i) << 13n) + (i % 2 === 0 ? 0x1000n : 0n));
      expect(s).toBe(slotOf[i]);
      expect([t.vaddrAt(s), t.flagsAt(s), t.taskAt(s)]).toEqual(
        i % 2 === 0 ? [BigInt(i) + 7n, 8, taskB] : [BigInt(i), i & 3, taskA],
      );
    }
  });

  it("keeps u64 values exact up to 2^64 - 1 and refuses anything outside u64", () => {
    const t = new DmaTable();
    const top = U64_MAX - 0xfffn;
    const slot = t.insert(top, U64_MAX, U64_MAX - 0xfffn, DMA_WRITE, taskA);
    expect([t.iovaAt(slot), t.lastAt(slot), t.sizeAt(slot), t.vaddrAt(slot)]).toEqual([
      top,
      U64_MAX,
      0x1000n,
      U64_MAX - 0xfffn,
    ]);
    expect(() => t.insert(-0x1000n, -1n, 0n, DMA_READ, taskA)).toThrow(RangeError);
    expect(() => t.insert(0n, U64_MAX + 1n, 0n, DMA_READ, taskA)).toThrow(RangeError);
    expect(() => t.insert(0n, 0xfffn, U64_MAX + 1n, DMA_READ, taskA)).toThrow(RangeError);
    expect(() => t.insert(0x2000n, 0x1fffn, 0n, DMA_READ, taskA)).toThrow(RangeError);
    expect(() => t.setVaddr(slot, -1n)).toThrow(RangeError);
    // Flags are one byte beside the slot's generation: a wider value would corrupt it.
    expect(() => t.setFlags(slot, 0x100)).toThrow(RangeError);
    expect(t.flagsAt(slot)).toBe(DMA_WRITE);
    expect(t.size).toBe(1);
  });

  it("reuses freed slots, and a handle that outlived its dma throws instead of reading the next one", () => {
    const t = new DmaTable();
    const a = t.insert(0x1000n, 0x1fffn, 0x9000n, DMA_READ, taskA);
    const dma = t.at(a);
    expect(dma.iova).toBe(0x1000n);
    t.remove(a);
    const b = t.insert(0x5000n, 0x5fffn, 0xa000n, DMA_READ | DMA_WRITE, taskB);
    expect(b).toBe(a);
    expect(() => dma.iova).toThrow(/after its mapping was removed/);
    expect(() => (dma.vaddrInvalid = true)).toThrow(/after its mapping was removed/);
    expect(t.at(b).task).toBe(taskB);
    expect(t.at(b).write).toBe(true);
    expect(() => t.remove(a + 7)).toThrow(/engine bug/);
  });

  it("packs the live dmas in IOVA order and unpacks them into an equal table", () => {
    const obj = new MemoryObject(0x10000n);
    const t = new DmaTable();
    const s1 = t.insert(0x8000n, 0x9fffn, 0x100000n, DMA_READ, taskA);
    const s0 = t.insert(0x1000n, 0x1fffn, 0x200000n, DMA_WRITE, taskB);
    t.setPin(s1, obj, 0x3000n);
    t.remove(t.insert(0x4000n, 0x4fffn, 0n, DMA_READ, taskA));
    const back = new DmaTable();
    back.unpack(t.pack());
    expect(back.pack()).toEqual(t.pack());
    expect(back.pack()[0]).toEqual([0x1000n, 0x1000n, 0x200000n, DMA_WRITE, taskB, null, 0n]);
    expect(back.at(back.find(0x8000n)).object).toBe(obj);
    expect(s0).not.toBe(s1);
  });

  it("refuses malformed packed rows, each with its reason", () => {
    const row = (at?: number, v?: unknown): unknown[] => {
      const r: unknown[] = [0x1000n, 0x1000n, 0n, DMA_READ, taskA, null, 0n];
      if (at !== undefined) r[at] = v;
      return r;
    };
    const bad: [unknown, RegExp][] = [
      [{}, /expected an array/],
      [[[1, 2]], /expected 7 values/],
      [[[1, 0x1000n, 0n, 1, taskA, null, 0n]], /bigints/],
      [[row(3, 0x100)], /bad flags/],
      [[row(4, null)], /no task/],
      [[row(5, "pin")], /bad pin/],
      [[row(6, -1n)], /pin offset/],
      [[row(1, 0n)], /size 0/],
      [[row(), row()], /overlaps another/],
      [[row(0, U64_MAX)], /outside u64/],
    ];
    for (const [rows, msg] of bad) expect(() => new DmaTable().unpack(rows), String(msg)).toThrow(msg);
    const full = new DmaTable();
    full.unpack([row()]);
    expect(() => full.unpack([row()])).toThrow(/non-empty/);
  });
});
