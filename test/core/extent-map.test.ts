import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ExtentMap } from "../../src/core/extent-map.js";
import { U64_MAX } from "../../src/core/u64.js";

describe("ExtentMap", () => {
  it("agrees with a naive list under random inserts and removes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 5 }))),
        fc.integer({ min: 0, max: 70 }),
        fc.constantFrom(4, 5, 256),
        // Below 2^53 doubles are exact; across 2^53 two keys share a double; at 2^60 and the top of
        // u64, 256 and 2048 do.
        fc.constantFrom(0n, (1n << 53n) - 30n, 1n << 60n, U64_MAX - 80n),
        (ops, probe, leafSize, base) => {
          const m = new ExtentMap<number>({ leafSize });
          const at = (k: number): bigint => base + BigInt(k);
          const naive: [number, number][] = [];
          for (const [ins, s, len] of ops) {
            const l = s + len;
            if (ins) {
              const clash = naive.some(([a, b]) => a <= l && s <= b);
              if (clash) expect(() => m.insert(at(s), at(l), s)).toThrow(RangeError);
              else {
                m.insert(at(s), at(l), s);
                naive.push([s, l]);
              }
            } else {
              const idx = naive.findIndex(([a]) => a === s);
              const got = m.remove(at(s));
              expect(got === undefined).toBe(idx < 0);
              if (idx >= 0) naive.splice(idx, 1);
            }
          }
          naive.sort((a, b) => a[0] - b[0]);
          expect([...m].map((e) => [Number(e.start - base), Number(e.last - base)])).toEqual(naive);
          const hit = naive.find(([a, b]) => a <= probe && probe <= b);
          expect(m.find(at(probe))?.start).toBe(hit ? at(hit[0]) : undefined);
          const over = naive.filter(([a, b]) => a <= probe + 3 && probe <= b);
          expect(m.overlapping(at(probe), at(probe + 3)).map((e) => Number(e.start - base))).toEqual(
            over.map(([a]) => a),
          );
          expect(m.firstOverlapping(at(probe), at(probe + 3))?.value).toBe(over[0]?.[0]);
          expect(m.get(at(probe))?.value).toBe(naive.find(([a]) => a === probe)?.[0]);
          const above = naive.find(([a]) => a >= probe);
          expect(m.ceiling(at(probe))?.value).toBe(above?.[0]);
        },
      ),
    );
  });

  it.each([
    ["2^60", 1n << 60n], // doubles here are 256 apart: 64 consecutive keys share one double
    ["2^53", (1n << 53n) - 32n], // from 2^53 up, pairs of keys share a double (2^53 and 2^53+1 first)
  ])("orders keys that round to the same double exactly (at %s)", (_, base) => {
    for (const leafSize of [4, 256]) ordersExactly(base, leafSize);
  });

  function ordersExactly(base: bigint, leafSize: number): void {
    const m = new ExtentMap<number>({ leafSize });
    const order = [...Array(64).keys()].sort((a, b) => ((a * 37) % 64) - ((b * 37) % 64));
    for (const k of order) m.insert(base + BigInt(k), base + BigInt(k), k);
    expect([...m].map((e) => e.value)).toEqual([...Array(64).keys()]);
    for (let k = 0; k < 64; k++) expect(m.find(base + BigInt(k))?.value).toBe(k);
    expect(m.ceiling(base + 10n)?.value).toBe(10);
    expect(m.overlapping(base + 5n, base + 7n).map((e) => e.value)).toEqual([5, 6, 7]);
    for (const k of order) expect(m.remove(base + BigInt(k))?.value).toBe(k);
    expect(m.size).toBe(0);
  }

  it("holds extents at the very top of the u64 space", () => {
    const m = new ExtentMap<string>();
    m.insert(U64_MAX - 0xfffn, U64_MAX, "top");
    m.insert(0n, 0n, "zero");
    expect(m.find(U64_MAX)?.value).toBe("top");
    expect(m.find(U64_MAX - 0x1000n)).toBeUndefined();
    expect(m.ceiling(1n)?.value).toBe("top");
    expect(m.overlapping(0n, U64_MAX).map((e) => e.value)).toEqual(["zero", "top"]);
  });

  it("forEachHole visits exactly the holes of at least minLength, in order (leaf skipping included)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 6 })), {
          maxLength: 120,
        }),
        fc.integer({ min: 0, max: 320 }),
        fc.integer({ min: 0, max: 320 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(4, 5, 256),
        (ins, a, b, minLen, leafSize) => {
          const m = new ExtentMap<number>({ leafSize });
          const covered = new Set<number>();
          for (const [s, len] of ins) {
            if (m.hasOverlap(BigInt(s), BigInt(s + len))) continue;
            m.insert(BigInt(s), BigInt(s + len), s);
            for (let x = s; x <= s + len; x++) covered.add(x);
          }
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const want: [number, number][] = [];
          for (let x = lo; x <= hi; x++) {
            if (covered.has(x)) continue;
            let y = x;
            while (y + 1 <= hi && !covered.has(y + 1)) y++;
            if (y - x + 1 >= minLen) want.push([x, y]);
            x = y;
          }
          const got: [number, number][] = [];
          m.forEachHole(BigInt(lo), BigInt(hi), BigInt(minLen), (s, l) => {
            got.push([Number(s), Number(l)]);
            return false;
          });
          expect(got).toEqual(want);
          // Stopping early: only the first hole.
          const first: [number, number][] = [];
          m.forEachHole(
            BigInt(lo),
            BigInt(hi),
            BigInt(minLen),
            (s, l) => (first.push([Number(s), Number(l)]), true),
          );
          expect(first).toEqual(want.slice(0, 1));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("removeOverlapping = overlapping + remove; insertExtent keeps the caller's object; one extent stays inline", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { maxLength: 120 }),
        fc.integer({ min: 0, max: 4000 }),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 4, max: 9 }),
        (slots, a, len, leafSize) => {
          const m = new ExtentMap<number>({ leafSize });
          const ref = new ExtentMap<number>({ leafSize });
          for (const s of slots) {
            const e = { start: BigInt(s * 10), last: BigInt(s * 10 + 4), value: s };
            expect(m.insertExtent(e)).toBe(true);
            expect(m.insertExtent({ start: e.start + 1n, last: e.start + 1n, value: -1 })).toBe(false);
            expect(m.get(e.start)).toBe(e);
            ref.insert(e.start, e.last, s);
          }
          const want = ref.overlapping(BigInt(a), BigInt(a + len)).map((e) => e.value);
          for (const v of want) ref.remove(BigInt(v * 10));
          expect(m.removeOverlapping(BigInt(a), BigInt(a + len)).map((e) => e.value)).toEqual(want);
          expect(m.values().map((e) => e.value)).toEqual(ref.values().map((e) => e.value));
          expect(m.size).toBe(ref.size);
          expect(m.first()?.value).toBe(ref.first()?.value);
          expect(m.last()?.value).toBe(ref.last()?.value);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("removeEntry removes that object only, whether the cursor rests on it or not", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 80 }),
        fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 80 }),
        fc.integer({ min: 4, max: 9 }),
        (slots, picks, leafSize) => {
          const m = new ExtentMap<number>({ leafSize });
          const live = slots.map((s) => ({ start: BigInt(s * 10), last: BigInt(s * 10 + 4), value: s }));
          for (const e of live) m.insertExtent(e);
          for (const [k, lookFirst] of picks) {
            if (live.length === 0) break;
            const e = live.splice(k % live.length, 1)[0]!;
            // An equal-bounds stranger is not the entry; a lookup first leaves the cursor on e.
            expect(m.removeEntry({ start: e.start, last: e.last, value: e.value })).toBe(false);
            if (lookFirst) expect(m.find(e.start + 2n)).toBe(e);
            expect(m.removeEntry(e)).toBe(true);
            expect(m.removeEntry(e)).toBe(false);
            expect(m.get(e.start)).toBeUndefined();
          }
          expect(m.values().map((e) => e.value)).toEqual(live.map((e) => e.value).sort((a, b) => a - b));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("stays exact across many leaves, pools of several chunks, reused leaves and an emptied index", () => {
    // leafSize 4: 3,000 extents make ~1,000 leaves (16 chunks of 64), removals free and reuse them.
    let seed = 7;
    const rand = (k: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % k;
    for (const leafSize of [4, 256]) {
      const m = new ExtentMap<number>({ leafSize });
      const live = new Map<number, number>(); // start -> last, starts multiples of 16
      const check = (): void => {
        const want = [...live].sort((a, b) => a[0] - b[0]);
        expect(m.values().map((e) => [Number(e.start), Number(e.last)])).toEqual(want);
        expect(m.size).toBe(want.length);
        for (let probe = 0; probe < 20; probe++) {
          const x = rand(16 * 4000);
          const hit = want.find(([a, b]) => a <= x && x <= b);
          expect(m.find(BigInt(x))?.value).toBe(hit?.[0]);
          const above = want.find(([a]) => a >= x);
          expect(m.ceiling(BigInt(x))?.value).toBe(above?.[0]);
        }
      };
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 3000; i++) {
          const start = 16 * rand(4000);
          const last = start + rand(12);
          if (live.has(start)) {
            expect(m.hasOverlap(BigInt(start), BigInt(last))).toBe(true);
            continue;
          }
          m.insert(BigInt(start), BigInt(last), start);
          live.set(start, last);
        }
        check();
        // Remove about two thirds, in random order: leaves empty out and their ids are reused.
        for (const start of [...live.keys()].sort(() => rand(3) - 1)) {
          if (rand(3) === 0) continue;
          expect(m.remove(BigInt(start))?.value).toBe(start);
          live.delete(start);
        }
        check();
      }
      // A range removal across many leaves, then everything: the index empties and starts afresh.
      const cut = m.removeOverlapping(16n * 1000n, 16n * 3000n).map((e) => e.value);
      expect(cut).toEqual(
        [...live.keys()].filter((a) => a + 11 >= 16000 && a <= 48000).sort((a, b) => a - b),
      );
      for (const a of cut) live.delete(a);
      check();
      for (const a of [...live.keys()]) expect(m.remove(BigInt(a))).toBeDefined();
      expect([m.size, m.first(), m.last(), m.find(0n)]).toEqual([0, undefined, undefined, undefined]);
      m.insert(5n, 6n, 5);
      m.insert(1n, 2n, 1);
      expect(m.values().map((e) => e.value)).toEqual([1, 5]);
    }
  });
});
