import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { sharedPowerOfTwo, smallBigint, U64_MAX } from "../../src/core/u64.js";

describe("shared bigints", () => {
  it("sharedPowerOfTwo keeps every value, powers of two up to 2^63 and their neighbours", () => {
    for (let k = 0n; k < 64n; k++) {
      const p = 1n << k;
      expect(sharedPowerOfTwo(p)).toBe(p);
      expect(sharedPowerOfTwo(p + 1n)).toBe(p + 1n);
      expect(sharedPowerOfTwo(p - 1n)).toBe(p - 1n);
    }
    for (const v of [0n, -1n, -4096n, U64_MAX, U64_MAX + 1n, 1n << 65n]) expect(sharedPowerOfTwo(v)).toBe(v);
  });

  it("sharedPowerOfTwo and smallBigint are the identity on values (any u64 and beyond)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), (v) => {
        expect(sharedPowerOfTwo(v)).toBe(v);
        expect(smallBigint(v)).toBe(v);
      }),
    );
  });
});
