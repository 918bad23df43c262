import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import { buildView } from "../../src/view/model.js";
import {
  FULL_WINDOW,
  SPACE_END,
  invert,
  linearScale,
  parseScale,
  position,
  segmentScale,
  segmentWeight,
  serializeScale,
} from "../../src/view/scale.js";

const U64_MAX = SPACE_END - 1n;
const u64 = fc.bigInt({ min: 0n, max: U64_MAX });

describe("segment scale", () => {
  const view = buildView({
    host: qemuQ35VtdHost(),
    mappings: [
      { iova: 0n, length: 0x1000n },
      { iova: 0x1000n, length: 0x1000n },
      { iova: 0xfffffffffffff000n, length: 0x1000n },
    ],
  });
  const scale = parseScale(view.scale);

  it("gives every boundary its own visible slot on a 1000 px axis", () => {
    const xs = view.boundaries.map((b) => position(scale, BigInt(b)) * 1000);
    expect(xs[0]).toBe(0);
    expect(xs.at(-1)).toBe(1000);
    const total = scale.breaks.slice(1).reduce((a, b, i) => a + segmentWeight(b - scale.breaks[i]!), 0);
    for (let i = 1; i < xs.length; i++) {
      expect(xs[i]! - xs[i - 1]!).toBeGreaterThanOrEqual(1000 / total - 1e-9);
      expect(xs[i]! - xs[i - 1]!).toBeGreaterThan(5);
    }
  });

  it("handles the top of the u64 space: last page and 2^64", () => {
    expect(position(scale, 0xfffffffffffff000n)).toBeLessThan(1);
    expect(position(scale, U64_MAX)).toBeLessThan(1);
    expect(position(scale, SPACE_END)).toBe(1);
    expect(invert(scale, 1)).toBe(U64_MAX);
    expect(invert(scale, 0)).toBe(0n);
  });

  it("is monotonic over the whole space", () => {
    fc.assert(
      fc.property(u64, u64, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        return position(scale, lo) <= position(scale, hi);
      }),
    );
  });

  it("inverts positions back into the same segment", () => {
    fc.assert(
      fc.property(u64, (a) => {
        const back = invert(scale, position(scale, a));
        const seg = (x: bigint) => scale.breaks.filter((b) => b <= x).length;
        return seg(back) === seg(a) || back === a;
      }),
    );
    for (const b of scale.breaks.slice(0, -1)) expect(invert(scale, position(scale, b))).toBe(b);
  });

  it("restricts to a zoom window, keeping the boundaries inside it", () => {
    const w = { start: 0xfe000000n, last: 0xffffffffn };
    const z = segmentScale(scale.breaks, w);
    expect(z.breaks).toEqual([0xfe000000n, 0xfee00000n, 0xfef00000n, 0x100000000n]);
    expect(position(z, 0n)).toBe(0);
    expect(position(z, 0x100000000n)).toBe(1);
    const top = segmentScale([U64_MAX], { start: 0xfffffffffffff000n, last: U64_MAX });
    expect(top.breaks).toEqual([0xfffffffffffff000n, U64_MAX, SPACE_END]);
    expect(() => segmentScale([], { start: 2n, last: 1n })).toThrow(RangeError);
    expect(() => segmentScale([], { start: 0n, last: SPACE_END })).toThrow(RangeError);
  });

  it("round-trips through its JSON form", () => {
    expect(parseScale(serializeScale(scale))).toEqual(scale);
  });
});

describe("linear scale", () => {
  it("maps a window linearly", () => {
    const s = linearScale({ start: 0x1000n, last: 0x1fffn });
    expect(position(s, 0x1800n)).toBe(0.5);
    expect(invert(s, 0.5)).toBe(0x1800n);
    expect(invert(s, 1)).toBe(0x1fffn);
    expect(position(linearScale(FULL_WINDOW), 1n << 63n)).toBe(0.5);
  });
});
