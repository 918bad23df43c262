/**
 * Golden tests of every uAPI struct: sizes and minimum sizes as semantics.md §1.2–1.4 list them,
 * field offsets, encode → decode round trips, and one hand-written little-endian byte image each.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as N from "../../src/uapi/numbers.js";
import {
  bytesToHex,
  defineStruct,
  hexToBytes,
  type StructCodec,
  type FieldSpec,
} from "../../src/uapi/struct.js";
import * as I from "../../src/uapi/structs/iommufd.js";
import * as V from "../../src/uapi/structs/vfio.js";

type AnyCodec = StructCodec<readonly FieldSpec[]>;

interface Golden {
  readonly codec: AnyCodec;
  readonly size: number;
  readonly minSize: number;
  readonly offsets: Readonly<Record<string, number>>;
  readonly values: Readonly<Record<string, number | bigint>>;
  /** The struct's bytes for `values`, written by hand (little-endian). */
  readonly hex: string;
}

const c = (x: unknown): AnyCodec => x as AnyCodec;

const GOLDEN: readonly Golden[] = [
  {
    codec: c(V.vfioGroupStatus),
    size: 8,
    minSize: 8,
    offsets: { argsz: 0, flags: 4 },
    values: { argsz: 8, flags: 3 },
    hex: "08000000" + "03000000",
  },
  {
    codec: c(V.vfioIommuType1Info),
    size: 24,
    minSize: 16,
    offsets: { argsz: 0, flags: 4, iova_pgsizes: 8, cap_offset: 16, pad: 20 },
    values: { argsz: 0x78, flags: 3, iova_pgsizes: 0x40201000n, cap_offset: 0x18, pad: 0 },
    hex: "78000000" + "03000000" + "0010204000000000" + "18000000" + "00000000",
  },
  {
    codec: c(V.vfioInfoCapHeader),
    size: 8,
    minSize: 8,
    offsets: { id: 0, version: 2, next: 4 },
    values: { id: 2, version: 1, next: 0x38 },
    hex: "0200" + "0100" + "38000000",
  },
  {
    codec: c(V.vfioIommuType1InfoCapIovaRange),
    size: 16,
    minSize: 16,
    offsets: { id: 0, version: 2, next: 4, nr_iovas: 8, reserved: 12 },
    values: { id: 1, version: 1, next: 0, nr_iovas: 2, reserved: 0 },
    hex: "0100" + "0100" + "00000000" + "02000000" + "00000000",
  },
  {
    codec: c(V.vfioIovaRange),
    size: 16,
    minSize: 16,
    offsets: { start: 0, end: 8 },
    values: { start: 0xfef00000n, end: 0x7fffffffffn },
    hex: "0000f0fe00000000" + "ffffffff7f000000",
  },
  {
    codec: c(V.vfioIommuType1InfoCapMigration),
    size: 32,
    minSize: 32,
    offsets: { id: 0, version: 2, next: 4, flags: 8, pgsize_bitmap: 16, max_dirty_bitmap_size: 24 },
    values: {
      id: 2,
      version: 1,
      next: 0x38,
      flags: 0,
      pgsize_bitmap: 0x1000n,
      max_dirty_bitmap_size: 0x10000000n,
    },
    hex: "0200" + "0100" + "38000000" + "00000000" + "00000000" + "0010000000000000" + "0000001000000000",
  },
  {
    codec: c(V.vfioIommuType1InfoDmaAvail),
    size: 12,
    minSize: 12,
    offsets: { id: 0, version: 2, next: 4, avail: 8 },
    values: { id: 3, version: 1, next: 0x44, avail: 65535 },
    hex: "0300" + "0100" + "44000000" + "ffff0000",
  },
  {
    codec: c(V.vfioIommuType1DmaMap),
    size: 32,
    minSize: 32,
    offsets: { argsz: 0, flags: 4, vaddr: 8, iova: 16, size: 24 },
    values: { argsz: 32, flags: 3, vaddr: 0x10000c00000n, iova: 0xfee00000n, size: 0x1000n },
    hex: "20000000" + "03000000" + "0000c00000010000" + "0000e0fe00000000" + "0010000000000000",
  },
  {
    codec: c(V.vfioIommuType1DmaUnmap),
    size: 24,
    minSize: 24,
    offsets: { argsz: 0, flags: 4, iova: 8, size: 16 },
    values: { argsz: 0x30, flags: 1, iova: 0x40813000n, size: 0xa000n },
    hex: "30000000" + "01000000" + "0030814000000000" + "00a0000000000000",
  },
  {
    codec: c(V.vfioBitmap),
    size: 24,
    minSize: 24,
    offsets: { pgsize: 0, size: 8, data: 16 },
    values: { pgsize: 0x1000n, size: 8n, data: 0x10009002000n },
    hex: "0010000000000000" + "0800000000000000" + "0020000900010000",
  },
  {
    codec: c(V.vfioIommuType1DirtyBitmap),
    size: 8,
    minSize: 8,
    offsets: { argsz: 0, flags: 4 },
    values: { argsz: 0x28, flags: 4 },
    hex: "28000000" + "04000000",
  },
  {
    codec: c(V.vfioIommuType1DirtyBitmapGet),
    size: 40,
    minSize: 40,
    offsets: { iova: 0, size: 8, bitmap_pgsize: 16, bitmap_size: 24, bitmap_data: 32 },
    values: { iova: 0x589000n, size: 0x17000n, bitmap_pgsize: 0x1000n, bitmap_size: 8n, bitmap_data: 0n },
    hex:
      "0090580000000000" + "0070010000000000" + "0010000000000000" + "0800000000000000" + "0000000000000000",
  },
  {
    codec: c(V.vfioDeviceInfo),
    size: 24,
    minSize: 16,
    offsets: { argsz: 0, flags: 4, num_regions: 8, num_irqs: 12, cap_offset: 16, pad: 20 },
    values: { argsz: 0x18, flags: 2, num_regions: 9, num_irqs: 5, cap_offset: 0, pad: 0 },
    hex: "18000000" + "02000000" + "09000000" + "05000000" + "00000000" + "00000000",
  },
  {
    codec: c(V.vfioRegionInfo),
    size: 32,
    minSize: 32,
    offsets: { argsz: 0, flags: 4, index: 8, cap_offset: 12, size: 16, offset: 24 },
    values: { argsz: 0x20, flags: 3, index: 7, cap_offset: 0, size: 0x100n, offset: 0x70000000000n },
    hex: "20000000" + "03000000" + "07000000" + "00000000" + "0001000000000000" + "0000000000070000",
  },
  {
    codec: c(V.vfioDeviceBindIommufd),
    size: 24,
    minSize: 16,
    offsets: { argsz: 0, flags: 4, iommufd: 8, out_devid: 12, token_uuid_ptr: 16 },
    values: { argsz: 16, flags: 0, iommufd: -1, out_devid: 3, token_uuid_ptr: 0n },
    hex: "10000000" + "00000000" + "ffffffff" + "03000000" + "0000000000000000",
  },
  {
    codec: c(V.vfioDeviceAttachIommufdPt),
    size: 16,
    minSize: 12,
    offsets: { argsz: 0, flags: 4, pt_id: 8, pasid: 12 },
    values: { argsz: 12, flags: 0, pt_id: 5, pasid: 0 },
    hex: "0c000000" + "00000000" + "05000000" + "00000000",
  },
  {
    codec: c(V.vfioDeviceDetachIommufdPt),
    size: 12,
    minSize: 8,
    offsets: { argsz: 0, flags: 4, pasid: 8 },
    values: { argsz: 8, flags: 0, pasid: 0 },
    hex: "08000000" + "00000000" + "00000000",
  },
  {
    codec: c(I.iommuDestroy),
    size: 8,
    minSize: 8,
    offsets: { size: 0, id: 4 },
    values: { size: 8, id: 9999 },
    hex: "08000000" + "0f270000",
  },
  {
    codec: c(I.iommuIoasAlloc),
    size: 12,
    minSize: 12,
    offsets: { size: 0, flags: 4, out_ioas_id: 8 },
    values: { size: 12, flags: 0, out_ioas_id: 0xa5a5a5a5 },
    hex: "0c000000" + "00000000" + "a5a5a5a5",
  },
  {
    codec: c(I.iommuIovaRange),
    size: 16,
    minSize: 16,
    offsets: { start: 0, last: 8 },
    values: { start: 0n, last: 0xfedfffffn },
    hex: "0000000000000000" + "ffffdffe00000000",
  },
  {
    codec: c(I.iommuIoasIovaRanges),
    size: 32,
    minSize: 32,
    offsets: { size: 0, ioas_id: 4, num_iovas: 8, __reserved: 12, allowed_iovas: 16, out_iova_alignment: 24 },
    values: {
      size: 32,
      ioas_id: 1,
      num_iovas: 2,
      __reserved: 0,
      allowed_iovas: 0x10009000000n,
      out_iova_alignment: 0x1000n,
    },
    hex: "20000000" + "01000000" + "02000000" + "00000000" + "0000000900010000" + "0010000000000000",
  },
  {
    codec: c(I.iommuIoasAllowIovas),
    size: 24,
    minSize: 24,
    offsets: { size: 0, ioas_id: 4, num_iovas: 8, __reserved: 12, allowed_iovas: 16 },
    values: { size: 24, ioas_id: 2, num_iovas: 3, __reserved: 0, allowed_iovas: 0x10009001000n },
    hex: "18000000" + "02000000" + "03000000" + "00000000" + "0010000900010000",
  },
  {
    codec: c(I.iommuIoasMap),
    size: 40,
    minSize: 40,
    offsets: { size: 0, flags: 4, ioas_id: 8, __reserved: 12, user_va: 16, length: 24, iova: 32 },
    values: {
      size: 40,
      flags: 7,
      ioas_id: 2,
      __reserved: 0,
      user_va: 0x10003738000n,
      length: 0x8000n,
      iova: 0x26000n,
    },
    hex:
      "28000000" +
      "07000000" +
      "02000000" +
      "00000000" +
      "0080730300010000" +
      "0080000000000000" +
      "0060020000000000",
  },
  {
    codec: c(I.iommuIoasMapFile),
    size: 40,
    minSize: 40,
    offsets: { size: 0, flags: 4, ioas_id: 8, fd: 12, start: 16, length: 24, iova: 32 },
    values: { size: 40, flags: 6, ioas_id: 1, fd: 5, start: 0x2000n, length: 0x1000n, iova: 0n },
    hex:
      "28000000" +
      "06000000" +
      "01000000" +
      "05000000" +
      "0020000000000000" +
      "0010000000000000" +
      "0000000000000000",
  },
  {
    codec: c(I.iommuIoasCopy),
    size: 40,
    minSize: 40,
    offsets: { size: 0, flags: 4, dst_ioas_id: 8, src_ioas_id: 12, length: 16, dst_iova: 24, src_iova: 32 },
    values: {
      size: 40,
      flags: 7,
      dst_ioas_id: 2,
      src_ioas_id: 1,
      length: 0x8000n,
      dst_iova: 0x4c7000n,
      src_iova: 0x1000n,
    },
    hex:
      "28000000" +
      "07000000" +
      "02000000" +
      "01000000" +
      "0080000000000000" +
      "00704c0000000000" +
      "0010000000000000",
  },
  {
    codec: c(I.iommuIoasUnmap),
    size: 24,
    minSize: 24,
    offsets: { size: 0, ioas_id: 4, iova: 8, length: 16 },
    values: { size: 24, ioas_id: 1, iova: 0n, length: 0xffffffffffffffffn },
    hex: "18000000" + "01000000" + "0000000000000000" + "ffffffffffffffff",
  },
  {
    codec: c(I.iommuOption),
    size: 24,
    minSize: 24,
    offsets: { size: 0, option_id: 4, op: 8, __reserved: 10, object_id: 12, val64: 16 },
    values: { size: 24, option_id: 1, op: 1, __reserved: 0, object_id: 1, val64: 1n },
    hex: "18000000" + "01000000" + "0100" + "0000" + "01000000" + "0100000000000000",
  },
  {
    codec: c(I.iommuVfioIoas),
    size: 12,
    minSize: 12,
    offsets: { size: 0, ioas_id: 4, op: 8, __reserved: 10 },
    values: { size: 12, ioas_id: 3, op: 1, __reserved: 0 },
    hex: "0c000000" + "03000000" + "0100" + "0000",
  },
  {
    codec: c(I.iommuHwptAlloc),
    size: 48,
    minSize: 24,
    offsets: {
      size: 0,
      flags: 4,
      dev_id: 8,
      pt_id: 12,
      out_hwpt_id: 16,
      __reserved: 20,
      data_type: 24,
      data_len: 28,
      data_uptr: 32,
      fault_id: 40,
      __reserved2: 44,
    },
    values: {
      size: 48,
      flags: 0,
      dev_id: 3,
      pt_id: 1,
      out_hwpt_id: 5,
      __reserved: 0,
      data_type: 0,
      data_len: 0,
      data_uptr: 0n,
      fault_id: 0,
      __reserved2: 0,
    },
    hex:
      "30000000" +
      "00000000" +
      "03000000" +
      "01000000" +
      "05000000" +
      "00000000" +
      "00000000" +
      "00000000" +
      "0000000000000000" +
      "00000000" +
      "00000000",
  },
  {
    codec: c(I.iommuHwptAlloc40),
    size: 40,
    minSize: 24,
    offsets: { size: 0, out_hwpt_id: 16, data_uptr: 32 },
    values: { size: 40, out_hwpt_id: 7, data_uptr: 0x1000n },
    hex:
      "28000000" +
      "00000000" +
      "00000000" +
      "00000000" +
      "07000000" +
      "00000000" +
      "00000000" +
      "00000000" +
      "0010000000000000",
  },
  {
    codec: c(I.iommuHwptAlloc24),
    size: 24,
    minSize: 24,
    offsets: { size: 0, flags: 4, dev_id: 8, pt_id: 12, out_hwpt_id: 16, __reserved: 20 },
    values: { size: 24, flags: 2, dev_id: 3, pt_id: 1, out_hwpt_id: 4, __reserved: 0 },
    hex: "18000000" + "02000000" + "03000000" + "01000000" + "04000000" + "00000000",
  },
  {
    codec: c(I.iommuHwInfo),
    size: 40,
    minSize: 32,
    offsets: {
      size: 0,
      flags: 4,
      dev_id: 8,
      data_len: 12,
      data_uptr: 16,
      out_data_type: 24,
      out_max_pasid_log2: 28,
      out_capabilities: 32,
    },
    values: {
      size: 40,
      flags: 0,
      dev_id: 3,
      data_len: 0x18,
      data_uptr: 0x10009004000n,
      out_data_type: 1,
      out_max_pasid_log2: 0,
      out_capabilities: 0n,
    },
    hex:
      "28000000" +
      "00000000" +
      "03000000" +
      "18000000" +
      "0040000900010000" +
      "01000000" +
      "00" +
      "000000" +
      "0000000000000000",
  },
  {
    codec: c(I.iommuHwInfoVtd),
    size: 24,
    minSize: 24,
    offsets: { flags: 0, __reserved: 4, cap_reg: 8, ecap_reg: 16 },
    values: { flags: 1, __reserved: 0, cap_reg: 0xd2008c22260206n, ecap_reg: 0xf00f4an },
    hex: "01000000" + "00000000" + "060226228c00d200" + "4a0ff00000000000",
  },
  {
    codec: c(I.iommuHwptSetDirtyTracking),
    size: 16,
    minSize: 16,
    offsets: { size: 0, flags: 4, hwpt_id: 8, __reserved: 12 },
    values: { size: 16, flags: 1, hwpt_id: 5, __reserved: 0 },
    hex: "10000000" + "01000000" + "05000000" + "00000000",
  },
  {
    codec: c(I.iommuHwptGetDirtyBitmap),
    size: 48,
    minSize: 48,
    offsets: { size: 0, hwpt_id: 4, flags: 8, __reserved: 12, iova: 16, length: 24, page_size: 32, data: 40 },
    values: {
      size: 48,
      hwpt_id: 5,
      flags: 1,
      __reserved: 0,
      iova: 0x100000n,
      length: 0x200000n,
      page_size: 0x1000n,
      data: 0x10009002000n,
    },
    hex:
      "30000000" +
      "05000000" +
      "01000000" +
      "00000000" +
      "0000100000000000" +
      "0000200000000000" +
      "0010000000000000" +
      "0020000900010000",
  },
  {
    codec: c(I.iommuIoasChangeProcess),
    size: 8,
    minSize: 8,
    offsets: { size: 0, __reserved: 4 },
    values: { size: 8, __reserved: 0 },
    hex: "08000000" + "00000000",
  },
];

describe("uAPI structs", () => {
  for (const g of GOLDEN) {
    describe(g.codec.name, () => {
      it("has the kernel's size and minimum size", () => {
        expect(g.codec.size).toBe(g.size);
        expect(g.codec.minSize).toBe(g.minSize);
      });

      it("has the kernel's field offsets", () => {
        for (const [f, off] of Object.entries(g.offsets)) expect(g.codec.offsetOf(f), f).toBe(off);
      });

      it("encodes to the hand-written bytes and decodes them back", () => {
        expect(g.hex.length).toBe(g.size * 2);
        expect(bytesToHex(g.codec.encode(g.values))).toBe(g.hex);
        const decoded = g.codec.decode(hexToBytes(g.hex)) as Record<string, number | bigint>;
        for (const [f, v] of Object.entries(g.values)) expect(decoded[f], f).toBe(v);
      });

      it("round-trips random values", () => {
        const scalars = g.codec.fields.filter((f) => !f.type.startsWith("pad"));
        const arb = fc.record(
          Object.fromEntries(
            scalars.map((f) => [
              f.name,
              f.type === "u64"
                ? fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
                : f.type === "s32"
                  ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
                  : fc.integer({ min: 0, max: 2 ** (8 * f.size) - 1 }),
            ]),
          ),
        );
        fc.assert(
          fc.property(arb, (vals) => {
            const back = g.codec.decode(g.codec.encode(vals as never)) as Record<string, unknown>;
            expect(back).toEqual(vals);
          }),
          { numRuns: 50 },
        );
      });
    });
  }
});

describe("struct codec rules", () => {
  it("reads a short buffer's missing tail as zero and truncates encodes to the given size", () => {
    const b = I.iommuIoasAlloc.encode({ size: 12, flags: 1, out_ioas_id: 7 }, 8);
    expect(bytesToHex(b)).toBe("0c00000001000000");
    expect(I.iommuIoasAlloc.decode(b)).toEqual({ size: 12, flags: 1, out_ioas_id: 0 });
    expect(I.iommuIoasAlloc.encode({ size: 16 }, 16).length).toBe(16);
  });

  it("rejects values that do not fit and unknown fields", () => {
    expect(() => I.iommuIoasAlloc.encode({ size: 2 ** 32 })).toThrow(RangeError);
    expect(() => I.iommuIoasMap.encode({ iova: -1n })).toThrow(RangeError);
    expect(() => I.iommuIoasAlloc.encode({ nope: 1 } as never)).toThrow(/no field nope/);
  });

  it("computes natural alignment and explicit offsets", () => {
    const s = defineStruct("t", [
      ["a", "u8"],
      ["b", "u64"],
      ["c", "u16"],
      ["d", "u32", 20],
    ]);
    expect([s.offsetOf("a"), s.offsetOf("b"), s.offsetOf("c"), s.offsetOf("d")]).toEqual([0, 8, 16, 20]);
    expect(s.size).toBe(24);
    expect(() =>
      defineStruct("bad", [
        ["a", "u64"],
        ["b", "u32", 4],
      ]),
    ).toThrow(/overlaps/);
  });

  it("selects the HWPT_ALLOC layout by kernel struct size", () => {
    expect(I.hwptAllocStruct(48).size).toBe(48);
    expect(I.hwptAllocStruct(40).size).toBe(40);
    expect(I.hwptAllocStruct(24).size).toBe(24);
  });
});

describe("ioctl numbers", () => {
  it("match semantics.md §1.1", () => {
    expect(N.VFIO_GET_API_VERSION).toBe(0x3b64);
    expect(N.VFIO_GROUP_GET_DEVICE_FD).toBe(0x3b6a);
    expect(N.VFIO_DEVICE_GET_INFO).toBe(0x3b6b);
    expect(N.VFIO_DEVICE_GET_REGION_INFO).toBe(0x3b6c);
    expect(N.VFIO_IOMMU_GET_INFO).toBe(15216);
    expect(N.VFIO_IOMMU_DIRTY_PAGES).toBe(15221);
    expect(N.VFIO_DEVICE_DETACH_IOMMUFD_PT).toBe(0x3b78);
    expect(N.IOMMU_DESTROY).toBe(15232);
    expect(N.IOMMU_GET_HW_INFO).toBe(15242);
    expect(N.IOMMU_IOAS_MAP_FILE).toBe(15247);
    expect(N.IOMMU_IOAS_CHANGE_PROCESS).toBe(15250);
  });

  it("names numbers for reports and parses the vectors' raw spelling", () => {
    expect(N.ioctlName(N.IOMMU_IOAS_MAP)).toBe("IOMMU_IOAS_MAP");
    expect(N.ioctlName(0x3bff)).toBe("_IO(';',0xff)");
    expect(N.ioctlByName("_IO(';',0xff)")).toBe(0x3bff);
    expect(N.ioctlByName("VFIO_SET_IOMMU")).toBe(0x3b66);
    expect(N.ioctlByName("nope")).toBeUndefined();
  });
});
