/** Argument building and `out` reading for the native iommufd records (FORMAT.md §4.3). */

import { writeU32, writeU64 } from "../../uapi/little-endian.js";
import * as N from "../../uapi/numbers.js";
import {
  iommuDestroy,
  iommuHwInfo,
  iommuHwInfoVtd,
  iommuHwptAlloc,
  iommuIoasAlloc,
  iommuIoasAllowIovas,
  iommuIoasCopy,
  iommuIoasIovaRanges,
  iommuIoasMap,
  iommuIoasUnmap,
  iommuIovaRange,
  iommuOption,
  iommuVfioIoas,
} from "../../uapi/structs/iommufd.js";
import { has, hx, numIn, sizeIn, RecordValueError, u64In, type Json, type JsonObject } from "../records.js";
import { filled, PREFILL, prefillField } from "./common.js";
import type { IoctlOp } from "./types.js";

/** The IOVA_RANGES output array has 256 entries (4 KiB) in scratch. */
export const IOVA_RANGES_CAPACITY = 256;
/** The GET_HW_INFO data buffer is the rest of scratch after 0x4000 (48 KiB). */
const HW_INFO_BUFFER_MAX = 0xc000;

function rangesIn(input: JsonObject): { start: bigint; last: bigint }[] {
  const v = input["ranges"];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new RecordValueError("field ranges: expected an array");
  return (v as readonly Json[]).map((r, i) => {
    if (typeof r !== "object" || r === null || Array.isArray(r))
      throw new RecordValueError(`ranges[${i}]: expected {start,last}`);
    const o = r as JsonObject;
    return { start: u64In(o, "start"), last: u64In(o, "last") };
  });
}

export const IOMMUFD_OPS: Readonly<Record<string, IoctlOp>> = {
  IOMMU_DESTROY: {
    request: N.IOMMU_DESTROY,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const buf = iommuDestroy.encode({ size, id: numIn(input, "id") }, Math.max(size, iommuDestroy.size));
      return { arg: ctx.stack(buf), out: () => ({}) };
    },
  },

  IOMMU_IOAS_ALLOC: {
    request: N.IOMMU_IOAS_ALLOC,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      let buf: Uint8Array;
      if (has(input, "trailing_u32")) {
        // A struct followed by one u32, zeroed as a whole (no 0xa5 pre-fill in this form).
        buf = iommuIoasAlloc.encode({ size }, Math.max(size, iommuIoasAlloc.size + 4));
        writeU32(buf, iommuIoasAlloc.size, numIn(input, "trailing_u32"));
      } else {
        buf = iommuIoasAlloc.encode(
          { size, flags: numIn(input, "flags") },
          Math.max(size, iommuIoasAlloc.size),
        );
        prefillField(buf, iommuIoasAlloc, "out_ioas_id");
      }
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ out_ioas_id: iommuIoasAlloc.decode(ctx.read(addr, iommuIoasAlloc.size)).out_ioas_id }),
      };
    },
  },

  IOMMU_IOAS_IOVA_RANGES: {
    request: N.IOMMU_IOAS_IOVA_RANGES,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const capacity = numIn(input, "num_iovas");
      const array = u64In(input, "allowed_iovas");
      const buf = iommuIoasIovaRanges.encode(
        { size, ioas_id: numIn(input, "ioas_id"), num_iovas: capacity, allowed_iovas: array },
        Math.max(size, iommuIoasIovaRanges.size),
      );
      prefillField(buf, iommuIoasIovaRanges, "out_iova_alignment");
      if (array !== 0n) ctx.write(array, filled(IOVA_RANGES_CAPACITY * iommuIovaRange.size, PREFILL));
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out(res) {
          const v = iommuIoasIovaRanges.decode(ctx.read(addr, iommuIoasIovaRanges.size));
          const ranges: Json[] = [];
          if (res.ret >= 0 || res.errno === "EMSGSIZE") {
            const n = Math.min(v.num_iovas, capacity, IOVA_RANGES_CAPACITY);
            if (n > 0) {
              const bytes = ctx.read(array, n * iommuIovaRange.size);
              for (let i = 0; i < n; i++) {
                const r = iommuIovaRange.decode(bytes, i * iommuIovaRange.size);
                ranges.push({ start: hx(r.start), last: hx(r.last) });
              }
            }
          }
          return { num_iovas: v.num_iovas, out_iova_alignment: hx(v.out_iova_alignment), ranges };
        },
      };
    },
  },

  IOMMU_IOAS_ALLOW_IOVAS: {
    request: N.IOMMU_IOAS_ALLOW_IOVAS,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const array = u64In(input, "allowed_iovas");
      const ranges = rangesIn(input);
      if (array !== 0n && ranges.length > 0) {
        const bytes = new Uint8Array(ranges.length * iommuIovaRange.size);
        ranges.forEach((r, i) => iommuIovaRange.encodeInto(bytes, r, i * iommuIovaRange.size));
        ctx.write(array, bytes);
      }
      const buf = iommuIoasAllowIovas.encode(
        {
          size,
          ioas_id: numIn(input, "ioas_id"),
          num_iovas: numIn(input, "num_iovas"),
          allowed_iovas: array,
        },
        Math.max(size, iommuIoasAllowIovas.size),
      );
      return { arg: ctx.stack(buf), out: () => ({}) };
    },
  },

  IOMMU_IOAS_MAP: {
    request: N.IOMMU_IOAS_MAP,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const trailing = has(input, "trailing_bytes");
      const buf = iommuIoasMap.encode(
        {
          size,
          flags: numIn(input, "flags"),
          ioas_id: numIn(input, "ioas_id"),
          user_va: u64In(input, "user_va"),
          length: u64In(input, "length"),
          iova: u64In(input, "iova"),
        },
        Math.max(size, iommuIoasMap.size + (trailing ? 8 : 0)),
      );
      if (trailing) writeU64(buf, iommuIoasMap.size, BigInt.asUintN(64, u64In(input, "trailing_bytes")));
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ iova: hx(iommuIoasMap.decode(ctx.read(addr, iommuIoasMap.size)).iova) }),
      };
    },
  },

  IOMMU_IOAS_COPY: {
    request: N.IOMMU_IOAS_COPY,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const buf = iommuIoasCopy.encode(
        {
          size,
          flags: numIn(input, "flags"),
          dst_ioas_id: numIn(input, "dst_ioas_id"),
          src_ioas_id: numIn(input, "src_ioas_id"),
          length: u64In(input, "length"),
          dst_iova: u64In(input, "dst_iova"),
          src_iova: u64In(input, "src_iova"),
        },
        Math.max(size, iommuIoasCopy.size),
      );
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ dst_iova: hx(iommuIoasCopy.decode(ctx.read(addr, iommuIoasCopy.size)).dst_iova) }),
      };
    },
  },

  IOMMU_IOAS_UNMAP: {
    request: N.IOMMU_IOAS_UNMAP,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const buf = iommuIoasUnmap.encode(
        {
          size,
          ioas_id: numIn(input, "ioas_id"),
          iova: u64In(input, "iova"),
          length: u64In(input, "length"),
        },
        Math.max(size, iommuIoasUnmap.size),
      );
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ length: hx(iommuIoasUnmap.decode(ctx.read(addr, iommuIoasUnmap.size)).length) }),
      };
    },
  },

  IOMMU_OPTION: {
    request: N.IOMMU_OPTION,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      // `option_id` / `op` are names ("HUGE_PAGES", "GET", "unknown"); the numbers are `*_num`.
      const buf = iommuOption.encode(
        {
          size,
          option_id: numIn(input, "option_id_num"),
          op: numIn(input, "op_num"),
          object_id: numIn(input, "object_id"),
          val64: u64In(input, "val64"),
        },
        Math.max(size, iommuOption.size),
      );
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ val64: hx(iommuOption.decode(ctx.read(addr, iommuOption.size)).val64) }),
      };
    },
  },

  IOMMU_VFIO_IOAS: {
    request: N.IOMMU_VFIO_IOAS,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const buf = iommuVfioIoas.encode(
        { size, ioas_id: numIn(input, "ioas_id"), op: numIn(input, "op_num") },
        Math.max(size, iommuVfioIoas.size),
      );
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ ioas_id: iommuVfioIoas.decode(ctx.read(addr, iommuVfioIoas.size)).ioas_id }),
      };
    },
  },

  IOMMU_HWPT_ALLOC: {
    request: N.IOMMU_HWPT_ALLOC,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const buf = iommuHwptAlloc.encode(
        {
          size,
          flags: numIn(input, "flags"),
          dev_id: numIn(input, "dev_id"),
          pt_id: numIn(input, "pt_id"),
        },
        Math.max(size, iommuHwptAlloc.size),
      );
      prefillField(buf, iommuHwptAlloc, "out_hwpt_id");
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ out_hwpt_id: iommuHwptAlloc.decode(ctx.read(addr, iommuHwptAlloc.size)).out_hwpt_id }),
      };
    },
  },

  IOMMU_GET_HW_INFO: {
    request: N.IOMMU_GET_HW_INFO,
    build(ctx, input) {
      const size = sizeIn(input, "size");
      const dataLen = numIn(input, "data_len");
      const data = u64In(input, "data_uptr");
      const buf = iommuHwInfo.encode(
        { size, dev_id: numIn(input, "dev_id"), data_len: dataLen, data_uptr: data },
        Math.max(size, iommuHwInfo.size),
      );
      const prefill = Math.min(dataLen, HW_INFO_BUFFER_MAX);
      if (data !== 0n && prefill > 0) ctx.write(data, filled(prefill, PREFILL));
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out(res) {
          const v = iommuHwInfo.decode(ctx.read(addr, iommuHwInfo.size));
          const out: Record<string, Json> = {
            data_len: hx(v.data_len),
            out_data_type: v.out_data_type,
            out_capabilities: hx(v.out_capabilities),
            out_max_pasid_log2: v.out_max_pasid_log2,
          };
          if (res.ret >= 0 && v.out_data_type === N.IOMMU_HW_INFO_TYPE_INTEL_VTD && data !== 0n) {
            const vtd = iommuHwInfoVtd.decode(ctx.read(data, iommuHwInfoVtd.size));
            out["vtd.flags"] = hx(vtd.flags);
            out["vtd.cap_reg"] = hx(vtd.cap_reg);
            out["vtd.ecap_reg"] = hx(vtd.ecap_reg);
          }
          return out;
        },
      };
    },
  },
};

/** `_IO(';',0xff)` and other raw numbers: a pointer to zeroed bytes, nothing read back. */
export function rawIoctlOp(request: number): IoctlOp {
  return {
    request,
    build: (ctx) => ({ arg: ctx.stack(new Uint8Array(64)), out: () => ({}) }),
  };
}
