/** Fast subset of `npm run fuzz`: a few thousand seeded cases, every invariant checked. */

import { describe, expect, it } from "vitest";
import { fuzz, XorShift } from "./fuzz.js";

describe("uAPI fuzzing (seeded)", () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: only errnos, no hang, no state change on error`, () => {
      const r = fuzz({ cases: 1500, seed });
      expect(r.failures).toEqual([]);
      expect(Object.keys(r.histogram).length).toBeGreaterThan(5);
    });
  }

  it("is reproducible", () => {
    const a = fuzz({ cases: 300, seed: 42 });
    const b = fuzz({ cases: 300, seed: 42 });
    expect(a.histogram).toEqual(b.histogram);
    expect(new XorShift(5).u32()).toBe(new XorShift(5).u32());
  });
});
