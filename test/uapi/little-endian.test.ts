import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readU32, readU64, writeU32, writeU64 } from "../../src/uapi/little-endian.js";
import { Bytes } from "../../src/uapi/vfio/caps.js";

/** The reference: a DataView over a fresh ArrayBuffer. */
function viaDataView(size: number, set: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  set(new DataView(b.buffer));
  return b;
}

describe("little-endian helpers", () => {
  const U64_MAX = (1n << 64n) - 1n;
  const edges = [
    0n,
    1n,
    0xffffffffn,
    1n << 32n,
    (1n << 53n) - 1n,
    1n << 53n,
    (1n << 53n) + 1n,
    U64_MAX - 1n,
    U64_MAX,
  ];

  it("writeU64 matches DataView at every edge of the double range and the top of u64", () => {
    for (const v of edges) {
      const got = new Uint8Array(11);
      writeU64(got, 3, v);
      expect(got).toEqual(viaDataView(11, (d) => d.setBigUint64(3, v, true)));
      expect(readU64(got, 3)).toBe(v);
    }
  });

  it("writeU64 and writeU32/readU32 match DataView for any value", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), fc.integer({ min: 0, max: 0xffffffff }), (v, w) => {
        const got = new Uint8Array(12);
        writeU64(got, 0, v);
        writeU32(got, 8, w);
        const want = viaDataView(12, (d) => {
          d.setBigUint64(0, v, true);
          d.setUint32(8, w, true);
        });
        expect(got).toEqual(want);
        expect(readU32(got, 8)).toBe(w);
        expect(readU64(got, 0)).toBe(v);
        expect(readU64(want, 0)).toBe(new DataView(want.buffer).getBigUint64(0, true));
      }),
    );
  });

  it("Bytes (capability bodies) writes u32 and u64 fields in place, u64 reduced mod 2^64", () => {
    const b = new Bytes(24)
      .u32(0, 0xfee00000)
      .u64(8, U64_MAX)
      .u64(16, 1n << 64n).buf;
    const want = viaDataView(24, (d) => {
      d.setUint32(0, 0xfee00000, true);
      d.setBigUint64(8, U64_MAX, true);
      d.setBigUint64(16, 0n, true);
    });
    expect(b).toEqual(want);
  });
});
