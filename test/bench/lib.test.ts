/**
 * The benchmark plumbing the ratios rest on: the unmap keys follow the anchor's second shuffle
 * (the order a shuffle of the map keys in place gives), and the median.
 */

import { describe, expect, it } from "vitest";
import { median, shuffle, shuffledEvenPages, unmapKeys, xorshift } from "../../bench/lib.js";

describe("bench lib", () => {
  it("unmapKeys: the map keys shuffled once more, in the same order a plain shuffle gives", () => {
    const rndA = xorshift();
    const rndB = xorshift();
    const pagesA = shuffledEvenPages(1000, rndA);
    const pagesB = shuffledEvenPages(1000, rndB);
    expect(pagesA).toEqual(pagesB);
    const plain = pagesA.map((p) => BigInt(p) << 12n);
    shuffle(plain, rndA);
    const mapKeys = pagesB.map((p) => BigInt(p) << 12n);
    const keys = unmapKeys(mapKeys, rndB, (k) => (1n << 36n) + k);
    expect(keys).toEqual(plain.map((k) => (1n << 36n) + k));
    // Every page once, none adjacent (even page numbers), and the order really changed.
    expect(new Set(keys).size).toBe(1000);
    expect(keys.every((k) => ((k >> 12n) & 1n) === 0n)).toBe(true);
    expect(keys).not.toEqual(pagesB.map((p) => (1n << 36n) + (BigInt(p) << 12n)));
  });

  it("median: the middle value (upper middle for an even count), input untouched", () => {
    const xs = [5, 1, 4, 2, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 4, 2, 3]);
    expect(median([4, 1, 3, 2])).toBe(3);
    expect(median([7])).toBe(7);
  });
});
