/**
 * /dev/iommu dispatcher and handlers through real ioctl calls: size rules, EOPNOTSUPP for flags and
 * reserved fields, EOVERFLOW at the top of u64, E2BIG tails, write-back rules, and the cdev.
 */

import { describe, expect, it } from "vitest";
import { IoasError } from "../../../src/core/errno.js";
import { qemuQ35VtdHost } from "../../../src/core/topology/presets.js";
import { U64_MAX } from "../../../src/core/u64.js";
import type { IommufdFile } from "../../../src/uapi/iommufd/file.js";
import * as N from "../../../src/uapi/numbers.js";
import type { FieldSpec, StructCodec, StructInput } from "../../../src/uapi/struct.js";
import * as S from "../../../src/uapi/structs/iommufd.js";
import { vfioDeviceAttachIommufdPt, vfioDeviceBindIommufd } from "../../../src/uapi/structs/vfio.js";
import { createSystem } from "../../../src/uapi/system.js";

const ARG = 0x20000000n;
const ARRAY = 0x20001000n;
const BUF = 0x30000000n;

function setup() {
  const { kernel } = createSystem(qemuQ35VtdHost());
  const p = kernel.spawn();
  p.memory.mmap(ARG, 0x10000n, "rw");
  p.memory.mmap(BUF, 0x400000n, "rw");
  const fd = kernel.open(p, "/dev/iommu");
  const call = (
    request: number,
    bytes: Uint8Array | null,
    arg = ARG,
  ): { ret: number; errno: string | null } => {
    if (bytes) p.memory.write(arg, bytes);
    try {
      return { ret: p.getFile(fd).ioctl({ request, arg: bytes ? arg : 0n, process: p, fd }), errno: null };
    } catch (e) {
      if (e instanceof IoasError) return { ret: -1, errno: e.errno };
      throw e;
    }
  };
  const cmd = <F extends readonly FieldSpec[]>(codec: StructCodec<F>, v: StructInput<F>, size = codec.size) =>
    codec.encode({ size, ...v } as StructInput<F>, Math.max(size, codec.size));
  const read = <F extends readonly FieldSpec[]>(codec: StructCodec<F>) =>
    codec.decode(p.memory.read(ARG, codec.size));
  const ctx = (p.getFile(fd) as IommufdFile).ctx;
  return { kernel, p, fd, call, cmd, read, ctx };
}

const TABLE: [string, number, StructCodec<readonly FieldSpec[]>][] = [
  ["DESTROY", N.IOMMU_DESTROY, S.iommuDestroy],
  ["IOAS_ALLOC", N.IOMMU_IOAS_ALLOC, S.iommuIoasAlloc],
  ["ALLOW_IOVAS", N.IOMMU_IOAS_ALLOW_IOVAS, S.iommuIoasAllowIovas],
  ["COPY", N.IOMMU_IOAS_COPY, S.iommuIoasCopy],
  ["IOVA_RANGES", N.IOMMU_IOAS_IOVA_RANGES, S.iommuIoasIovaRanges],
  ["MAP", N.IOMMU_IOAS_MAP, S.iommuIoasMap],
  ["UNMAP", N.IOMMU_IOAS_UNMAP, S.iommuIoasUnmap],
  ["OPTION", N.IOMMU_OPTION, S.iommuOption],
  ["VFIO_IOAS", N.IOMMU_VFIO_IOAS, S.iommuVfioIoas],
  ["HWPT_ALLOC", N.IOMMU_HWPT_ALLOC, S.iommuHwptAlloc],
  ["GET_HW_INFO", N.IOMMU_GET_HW_INFO, S.iommuHwInfo],
  ["SET_DIRTY_TRACKING", N.IOMMU_HWPT_SET_DIRTY_TRACKING, S.iommuHwptSetDirtyTracking],
  ["GET_DIRTY_BITMAP", N.IOMMU_HWPT_GET_DIRTY_BITMAP, S.iommuHwptGetDirtyBitmap],
];

describe("/dev/iommu dispatcher (cmd_fail, cmd_length)", () => {
  it("EFAULT on a null argument, ENOTTY for holes, wrong bits and compat numbers without a handler", () => {
    const { call, cmd } = setup();
    expect(call(N.IOMMU_DESTROY, null).errno).toBe("EFAULT");
    expect(call(N._IO(0x3b, 0x7f), cmd(S.iommuDestroy, {})).errno).toBe("ENOTTY");
    expect(call(N._IO(0x3b, 0xff), cmd(S.iommuDestroy, {})).errno).toBe("ENOTTY");
    expect(call(N.IOMMU_DESTROY | (8 << 16), cmd(S.iommuDestroy, {})).errno).toBe("ENOTTY");
    expect(call(N.IOMMU_DESTROY, cmd(S.iommuDestroy, { id: 0 })).errno).toBe("ENOENT");
  });

  for (const [name, request, codec] of TABLE) {
    it(`${name}: size min-1 → EINVAL, non-zero tail → E2BIG, zero tail = full size`, () => {
      const { call } = setup();
      const short = new Uint8Array(codec.size + 8);
      new DataView(short.buffer).setUint32(0, codec.minSize - 1, true);
      expect(call(request, short).errno).toBe("EINVAL");
      const tail = new Uint8Array(codec.size + 8);
      new DataView(tail.buffer).setUint32(0, codec.size + 8, true);
      tail[codec.size + 3] = 1;
      expect(call(request, tail).errno).toBe("E2BIG");
      const full = new Uint8Array(codec.size + 8);
      new DataView(full.buffer).setUint32(0, codec.size, true);
      const a = call(request, full);
      new DataView(full.buffer).setUint32(0, codec.size + 8, true);
      expect(call(request, full).errno).toBe(a.errno === null && name === "IOAS_ALLOC" ? null : a.errno);
    });
  }
});

describe("/dev/iommu handlers: unknown flags, reserved fields, overflow", () => {
  it("EOPNOTSUPP for flags and reserved fields of every command", () => {
    const { call, cmd } = setup();
    expect(call(N.IOMMU_IOAS_ALLOC, cmd(S.iommuIoasAlloc, { flags: 1 })).errno).toBe("EOPNOTSUPP");
    expect(call(N.IOMMU_IOAS_ALLOC, cmd(S.iommuIoasAlloc, {})).ret).toBe(0);
    const e = (c: Uint8Array, r: number) => call(r, c).errno;
    expect(e(cmd(S.iommuIoasMap, { flags: 8, ioas_id: 1, length: 4096 }), N.IOMMU_IOAS_MAP)).toBe(
      "EOPNOTSUPP",
    );
    expect(
      e(cmd(S.iommuIoasMap, { flags: 6, __reserved: 1, ioas_id: 1, length: 4096 }), N.IOMMU_IOAS_MAP),
    ).toBe("EOPNOTSUPP");
    expect(e(cmd(S.iommuIoasCopy, { flags: 16 }), N.IOMMU_IOAS_COPY)).toBe("EOPNOTSUPP");
    expect(e(cmd(S.iommuIoasIovaRanges, { ioas_id: 1, __reserved: 1 }), N.IOMMU_IOAS_IOVA_RANGES)).toBe(
      "EOPNOTSUPP",
    );
    expect(e(cmd(S.iommuIoasAllowIovas, { ioas_id: 1, __reserved: 1 }), N.IOMMU_IOAS_ALLOW_IOVAS)).toBe(
      "EOPNOTSUPP",
    );
    expect(e(cmd(S.iommuOption, { option_id: 1, object_id: 1, __reserved: 1 }), N.IOMMU_OPTION)).toBe(
      "EOPNOTSUPP",
    );
    expect(e(cmd(S.iommuOption, { option_id: 9, object_id: 1 }), N.IOMMU_OPTION)).toBe("EOPNOTSUPP");
    expect(e(cmd(S.iommuVfioIoas, { __reserved: 1 }), N.IOMMU_VFIO_IOAS)).toBe("EOPNOTSUPP");
    expect(e(cmd(S.iommuVfioIoas, { op: 7 }), N.IOMMU_VFIO_IOAS)).toBe("EOPNOTSUPP");
    expect(e(cmd(S.iommuHwptAlloc, { __reserved: 1 }), N.IOMMU_HWPT_ALLOC)).toBe("EOPNOTSUPP");
    expect(e(cmd(S.iommuHwInfo, { flags: 1 }), N.IOMMU_GET_HW_INFO)).toBe("EOPNOTSUPP");
    expect(e(cmd(S.iommuHwptSetDirtyTracking, { flags: 2 }), N.IOMMU_HWPT_SET_DIRTY_TRACKING)).toBe(
      "EOPNOTSUPP",
    );
    expect(e(cmd(S.iommuHwptGetDirtyBitmap, { flags: 2 }), N.IOMMU_HWPT_GET_DIRTY_BITMAP)).toBe("EOPNOTSUPP");
  });

  it("EOVERFLOW at the top of u64; no write-back on errors", () => {
    const { call, cmd, read } = setup();
    call(N.IOMMU_IOAS_ALLOC, cmd(S.iommuIoasAlloc, {}));
    const map = (v: Record<string, number | bigint>) => call(N.IOMMU_IOAS_MAP, cmd(S.iommuIoasMap, v));
    expect(map({ flags: 7, ioas_id: 1, user_va: BUF, length: U64_MAX, iova: 0 }).errno).toBe("EOVERFLOW");
    expect(map({ flags: 7, ioas_id: 1, user_va: BUF, length: 4096, iova: U64_MAX }).errno).toBe("EOVERFLOW");
    expect(map({ flags: 7, ioas_id: 1, user_va: BUF, length: 0x2000, iova: U64_MAX - 0xfffn }).errno).toBe(
      "EOVERFLOW",
    );
    expect(read(S.iommuIoasMap).iova).toBe(U64_MAX - 0xfffn);
    const unmap = call(N.IOMMU_IOAS_UNMAP, cmd(S.iommuIoasUnmap, { ioas_id: 1, iova: U64_MAX, length: 1 }));
    expect(unmap.errno).toBe("EOVERFLOW");
    expect(
      call(
        N.IOMMU_IOAS_COPY,
        cmd(S.iommuIoasCopy, { flags: 6, dst_ioas_id: 1, src_ioas_id: 1, length: U64_MAX }),
      ).errno,
    ).toBe("EOVERFLOW");
  });

  it("MAP responds with the IOVA; IOVA_RANGES writes the struct on EMSGSIZE", () => {
    const { call, cmd, read, p } = setup();
    call(N.IOMMU_IOAS_ALLOC, cmd(S.iommuIoasAlloc, {}));
    expect(
      call(N.IOMMU_IOAS_MAP, cmd(S.iommuIoasMap, { flags: 6, ioas_id: 1, user_va: BUF, length: 4096 })).ret,
    ).toBe(0);
    expect(read(S.iommuIoasMap).iova).toBe(0x1000n);
    const r = call(
      N.IOMMU_IOAS_IOVA_RANGES,
      cmd(S.iommuIoasIovaRanges, { ioas_id: 1, num_iovas: 0, allowed_iovas: 0 }),
    );
    expect(r.errno).toBe("EMSGSIZE");
    expect(read(S.iommuIoasIovaRanges).num_iovas).toBe(1);
    expect(read(S.iommuIoasIovaRanges).out_iova_alignment).toBe(1n);
    call(
      N.IOMMU_IOAS_IOVA_RANGES,
      cmd(S.iommuIoasIovaRanges, { ioas_id: 1, num_iovas: 4, allowed_iovas: ARRAY }),
    );
    expect(S.iommuIovaRange.decode(p.memory.read(ARRAY, 16))).toEqual({ start: 0n, last: U64_MAX });
  });

  it("OPTION writes only val64; RLIMIT_MODE and HUGE_PAGES rules", () => {
    const { call, cmd, read } = setup();
    const opt = (v: Record<string, number | bigint>) => call(N.IOMMU_OPTION, cmd(S.iommuOption, v));
    expect(opt({ option_id: 0, op: 0, val64: 2 }).errno).toBe("EINVAL");
    expect(opt({ option_id: 0, op: 0, val64: 1 }).ret).toBe(0);
    expect(opt({ option_id: 0, op: 1 }).ret).toBe(0);
    expect(read(S.iommuOption).val64).toBe(1n);
    expect(opt({ option_id: 1, op: 1, object_id: 0 }).errno).toBe("ENOENT");
    call(N.IOMMU_IOAS_ALLOC, cmd(S.iommuIoasAlloc, {}));
    expect(opt({ option_id: 0, op: 0, val64: 0 }).errno).toBe("EBUSY");
    expect(opt({ option_id: 1, op: 0, object_id: 1, val64: 2 }).errno).toBe("EINVAL");
    expect(opt({ option_id: 1, op: 0, object_id: 1, val64: 0 }).ret).toBe(0);
    expect(opt({ option_id: 1, op: 1, object_id: 1, val64: 7 }).ret).toBe(0);
    expect(read(S.iommuOption).val64).toBe(0n);
  });
});

describe("VFIO device cdev", () => {
  it("bind, attach (pt_id rewritten to the HWPT), GET_HW_INFO, detach", () => {
    const { kernel, p, call, cmd, read, fd } = setup();
    call(N.IOMMU_IOAS_ALLOC, cmd(S.iommuIoasAlloc, {}));
    const dfd = kernel.open(p, "/dev/vfio/devices/vfio0");
    const dev = p.getFile(dfd);
    const ioctl = (request: number, bytes: Uint8Array): string | null => {
      p.memory.write(ARG, bytes);
      try {
        dev.ioctl({ request, arg: ARG, process: p, fd: dfd });
        return null;
      } catch (e) {
        return (e as IoasError).errno;
      }
    };
    expect(
      ioctl(N.VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfioDeviceAttachIommufdPt.encode({ argsz: 12, pt_id: 1 })),
    ).toBe("EINVAL");
    expect(ioctl(N.VFIO_DEVICE_BIND_IOMMUFD, vfioDeviceBindIommufd.encode({ argsz: 16, iommufd: -1 }))).toBe(
      "EINVAL",
    );
    expect(ioctl(N.VFIO_DEVICE_BIND_IOMMUFD, vfioDeviceBindIommufd.encode({ argsz: 16, iommufd: fd }))).toBe(
      null,
    );
    expect(vfioDeviceBindIommufd.decode(p.memory.read(ARG, 16)).out_devid).toBe(2);
    expect(
      ioctl(N.VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfioDeviceAttachIommufdPt.encode({ argsz: 12, pt_id: 1 })),
    ).toBe(null);
    expect(vfioDeviceAttachIommufdPt.decode(p.memory.read(ARG, 12)).pt_id).toBe(3);
    expect(
      call(N.IOMMU_GET_HW_INFO, cmd(S.iommuHwInfo, { dev_id: 2, data_len: 24, data_uptr: ARRAY })).ret,
    ).toBe(0);
    expect(read(S.iommuHwInfo).out_data_type).toBe(1);
    expect(S.iommuHwInfoVtd.decode(p.memory.read(ARRAY, 24)).flags).toBe(1);
    expect(ioctl(N.VFIO_DEVICE_DETACH_IOMMUFD_PT, new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0]))).toBe(null);
    // The iommufd file lives as long as the bound cdev holds it.
    p.close(fd);
    p.close(dfd);
  });
});

describe("seed 004 extension: per-device reserved ranges (never merged upstream)", () => {
  it("is ENOTTY unless enabled; then lists the device's own regions with EMSGSIZE rules", async () => {
    const { enableResvIovaRanges, IOMMU_RESV_IOVA_RANGES_EXT, iommuResvIovaRanges } =
      await import("../../../src/uapi/iommufd/index.js");
    const { kernel, p, call, fd } = setup();
    const dfd = kernel.open(p, "/dev/vfio/devices/vfio0");
    p.memory.write(ARG, vfioDeviceBindIommufd.encode({ argsz: 16, iommufd: fd }));
    p.getFile(dfd).ioctl({ request: N.VFIO_DEVICE_BIND_IOMMUFD, arg: ARG, process: p, fd: dfd });
    const q = (n: number) =>
      call(
        IOMMU_RESV_IOVA_RANGES_EXT,
        iommuResvIovaRanges.encode({ size: 24, dev_id: 1, num_iovas: n, resv_iovas: ARRAY }),
      );
    expect(q(4).errno).toBe("ENOTTY");
    enableResvIovaRanges(kernel);
    expect(q(0).errno).toBe("EMSGSIZE");
    expect(iommuResvIovaRanges.decode(p.memory.read(ARG, 24)).num_iovas).toBe(1);
    expect(q(4).ret).toBe(0);
    expect(S.iommuIovaRange.decode(p.memory.read(ARRAY, 16))).toEqual({
      start: 0xfee00000n,
      last: 0xfeefffffn,
    });
  });
});
