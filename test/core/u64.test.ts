import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { smallBigint } from "../../src/core/u64.js";

describe("shared bigints", () => {
  it("smallBigint is the identity on values (any u64 and beyond)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), (v) => {
        expect(smallBigint(v)).toBe(v);
      }),
    );
  });
});
