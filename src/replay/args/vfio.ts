/** Argument building and `out` reading for the VFIO container / group / device records (FORMAT.md §4.3). */

import { writeU32 } from "../../uapi/little-endian.js";
import * as N from "../../uapi/numbers.js";
import {
  vfioBitmap,
  vfioDeviceAttachIommufdPt,
  vfioDeviceBindIommufd,
  vfioDeviceDetachIommufdPt,
  vfioDeviceInfo,
  vfioGroupStatus,
  vfioInfoCapHeader,
  vfioIommuType1DirtyBitmap,
  vfioIommuType1DirtyBitmapGet,
  vfioIommuType1DmaMap,
  vfioIommuType1DmaUnmap,
  vfioIommuType1Info,
  vfioIommuType1InfoCapIovaRange,
  vfioIommuType1InfoCapMigration,
  vfioIommuType1InfoDmaAvail,
  vfioIovaRange,
  vfioRegionInfo,
} from "../../uapi/structs/vfio.js";
import { has, hx, numIn, sizeIn, strIn, u64In, type Json, type JsonObject } from "../records.js";
import {
  bytesToHex,
  changedFields,
  fdArg,
  filled,
  hexFields,
  PREFILL,
  PREFILL_U32,
  prefillField,
} from "./common.js";
import type { ArgContext, IoctlOp } from "./types.js";

/** Dirty bitmaps live in an 8 KiB scratch buffer; sizes are capped at that (FORMAT.md §4.2). */
export const BITMAP_BUFFER_SIZE = 8192;

const noArg = (request: number): IoctlOp => ({
  request,
  build: () => ({ arg: 0n, out: () => ({}) }),
});

const byValue = (request: number): IoctlOp => ({
  request,
  build: (_ctx, input) => ({ arg: u64In(input, "arg"), out: () => ({}) }),
});

/** GET_INFO's argument buffer: max(4096, argsz) bytes (FORMAT.md §4.2). */
const INFO_BUFFER_SIZE = 4096;
const infoBuffer = new Uint8Array(INFO_BUFFER_SIZE);
/** How much of it `out` reads first (see VFIO_IOMMU_GET_INFO). */
const INFO_READ_PREFIX = 256;

/** Zero the bitmap the kernel will fill, as the program does before the call. */
function zeroBitmap(ctx: ArgContext, input: JsonObject): { data: bigint; size: number } {
  const data = u64In(input, "bitmap.data");
  const requested = u64In(input, "bitmap.size");
  const size = requested < BigInt(BITMAP_BUFFER_SIZE) ? Number(requested) : BITMAP_BUFFER_SIZE;
  if (data !== 0n && size > 0) ctx.write(data, new Uint8Array(size));
  return { data, size };
}

function readBitmap(ctx: ArgContext, bm: { data: bigint; size: number }): string {
  return bytesToHex(ctx.read(bm.data, bm.size));
}

/** Decode the capability chain of a GET_INFO buffer, within its first `limit` bytes. */
export function decodeInfoCaps(buf: Uint8Array, capOffset: number, limit: number): Json[] {
  return decodeCaps(buf, capOffset, limit, false)!;
}

/**
 * `decodeInfoCaps`; with `prefixOnly`, `buf` may be a prefix of the buffer (shorter than `limit`)
 * and the result is null as soon as a field lies past it (the caller then reads the whole buffer).
 */
function decodeCaps(buf: Uint8Array, capOffset: number, limit: number, prefixOnly: boolean): Json[] | null {
  const past = (at: number, size: number): boolean => prefixOnly && at + size > buf.length;
  const caps: Json[] = [];
  const seen = new Set<number>();
  let off = capOffset;
  while (off !== 0 && off + vfioInfoCapHeader.size <= limit && !seen.has(off)) {
    seen.add(off);
    if (past(off, vfioInfoCapHeader.size)) return null;
    const h = vfioInfoCapHeader.decode(buf, off);
    const cap: Record<string, Json> = {
      offset: hx(off),
      id: h.id,
      version: h.version,
      next: hx(h.next),
      name: N.VFIO_IOMMU_CAP_NAMES.get(h.id) ?? "UNKNOWN",
    };
    if (
      h.id === N.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
      off + vfioIommuType1InfoCapIovaRange.size <= limit
    ) {
      if (past(off, vfioIommuType1InfoCapIovaRange.size)) return null;
      const c = vfioIommuType1InfoCapIovaRange.decode(buf, off);
      cap["nr_iovas"] = c.nr_iovas;
      cap["reserved"] = hx(c.reserved);
      const ranges: Json[] = [];
      for (let i = 0; i < c.nr_iovas; i++) {
        const at = off + vfioIommuType1InfoCapIovaRange.size + i * vfioIovaRange.size;
        if (at + vfioIovaRange.size > limit) break;
        if (past(at, vfioIovaRange.size)) return null;
        const r = vfioIovaRange.decode(buf, at);
        ranges.push({ start: hx(r.start), end: hx(r.end) });
      }
      cap["iova_ranges"] = ranges;
    } else if (
      h.id === N.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION &&
      off + vfioIommuType1InfoCapMigration.size <= limit
    ) {
      if (past(off, vfioIommuType1InfoCapMigration.size)) return null;
      const c = vfioIommuType1InfoCapMigration.decode(buf, off);
      cap["flags"] = hx(c.flags);
      cap["pgsize_bitmap"] = hx(c.pgsize_bitmap);
      cap["max_dirty_bitmap_size"] = hx(c.max_dirty_bitmap_size);
    } else if (h.id === N.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL && off + vfioIommuType1InfoDmaAvail.size <= limit) {
      if (past(off, vfioIommuType1InfoDmaAvail.size)) return null;
      cap["avail"] = vfioIommuType1InfoDmaAvail.decode(buf, off).avail;
    }
    caps.push(cap);
    off = h.next;
  }
  return caps;
}

export const VFIO_OPS: Readonly<Record<string, IoctlOp>> = {
  VFIO_GET_API_VERSION: noArg(N.VFIO_GET_API_VERSION),
  VFIO_CHECK_EXTENSION: byValue(N.VFIO_CHECK_EXTENSION),
  VFIO_SET_IOMMU: byValue(N.VFIO_SET_IOMMU),
  VFIO_GROUP_UNSET_CONTAINER: noArg(N.VFIO_GROUP_UNSET_CONTAINER),

  VFIO_GROUP_GET_STATUS: {
    request: N.VFIO_GROUP_GET_STATUS,
    build(ctx, input) {
      // The whole vfio_group_status is pre-filled with 0xa5, then argsz is set.
      const argsz = sizeIn(input, "argsz");
      const buf = filled(Math.max(argsz, vfioGroupStatus.size), PREFILL);
      vfioGroupStatus.encodeInto(buf, { argsz });
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out(res) {
          const v = vfioGroupStatus.decode(ctx.read(addr, vfioGroupStatus.size));
          const out: Record<string, Json> = hexFields(v, ["argsz", "flags"]) as Record<string, Json>;
          if (res.ret >= 0) {
            out["VIABLE"] = (v.flags & N.VFIO_GROUP_FLAGS_VIABLE) !== 0;
            out["CONTAINER_SET"] = (v.flags & N.VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0;
          }
          return out;
        },
      };
    },
  },

  VFIO_GROUP_SET_CONTAINER: {
    request: N.VFIO_GROUP_SET_CONTAINER,
    build(ctx, input) {
      const fd = fdArg(ctx, input, "container");
      const b = new Uint8Array(4);
      writeU32(b, 0, fd >>> 0); // an int32, two's complement
      return { arg: ctx.stack(b), out: () => ({}) };
    },
  },

  VFIO_GROUP_GET_DEVICE_FD: {
    request: N.VFIO_GROUP_GET_DEVICE_FD,
    normaliseRet: (ret) => (ret >= 0 ? 0 : ret),
    build(ctx, input, expected) {
      const name = new TextEncoder().encode(strIn(input, "name") + "\0");
      const wanted = typeof expected["new_fd"] === "string" ? expected["new_fd"] : undefined;
      return {
        arg: ctx.stack(name),
        out: (res): JsonObject => (res.ret >= 0 ? { new_fd: wanted ?? `fd${res.ret}` } : {}),
        after(res) {
          if (res.ret >= 0 && wanted !== undefined) ctx.bind(wanted, res.ret);
        },
      };
    },
  },

  VFIO_DEVICE_GET_INFO: {
    request: N.VFIO_DEVICE_GET_INFO,
    optional: true,
    build(ctx, input) {
      const argsz = sizeIn(input, "argsz");
      const buf = vfioDeviceInfo.encode({ argsz }, Math.max(argsz, vfioDeviceInfo.size));
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () =>
          hexFields(vfioDeviceInfo.decode(ctx.read(addr, vfioDeviceInfo.size)), [
            "argsz",
            "flags",
            "num_regions",
            "num_irqs",
            "cap_offset",
          ]),
      };
    },
  },

  VFIO_DEVICE_GET_REGION_INFO: {
    request: N.VFIO_DEVICE_GET_REGION_INFO,
    optional: true,
    build(ctx, input) {
      const argsz = sizeIn(input, "argsz");
      const buf = vfioRegionInfo.encode(
        { argsz, index: numIn(input, "index") },
        Math.max(argsz, vfioRegionInfo.size),
      );
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () =>
          hexFields(vfioRegionInfo.decode(ctx.read(addr, vfioRegionInfo.size)), [
            "flags",
            "size",
            "offset",
            "cap_offset",
          ]),
      };
    },
  },

  VFIO_IOMMU_GET_INFO: {
    request: N.VFIO_IOMMU_GET_INFO,
    build(ctx, input) {
      // A max(4096, argsz)-byte buffer pre-filled with 0xa5, then argsz set.
      const argsz = sizeIn(input, "argsz");
      const size = Math.max(4096, argsz);
      // The usual 4 KiB buffer is one module-level array re-filled per call (ctx.stack copies it).
      const buf = size === INFO_BUFFER_SIZE ? infoBuffer.fill(PREFILL) : filled(size, PREFILL);
      vfioIommuType1Info.encodeInto(buf, { argsz });
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out(res) {
          // Read a prefix (the header and, almost always, the whole capability chain); the whole
          // buffer only when a capability lies past it.
          const limit = Math.min(argsz, size);
          const prefix = Math.max(vfioIommuType1Info.size, Math.min(limit, INFO_READ_PREFIX));
          const after = ctx.read(addr, prefix);
          const v = vfioIommuType1Info.decode(after);
          const out: Record<string, Json> = {
            raw_header: bytesToHex(after.subarray(0, vfioIommuType1Info.size)),
            ...hexFields(v, ["argsz", "flags", "iova_pgsizes", "cap_offset"]),
          };
          if (res.ret >= 0) {
            out["flag_PGSIZES"] = (v.flags & N.VFIO_IOMMU_INFO_PGSIZES) !== 0;
            const caps = (v.flags & N.VFIO_IOMMU_INFO_CAPS) !== 0;
            out["flag_CAPS"] = caps;
            if (
              caps &&
              argsz >= vfioIommuType1Info.size &&
              v.cap_offset !== 0 &&
              v.cap_offset !== PREFILL_U32
            ) {
              out["caps"] =
                decodeCaps(after, v.cap_offset, limit, true) ??
                decodeInfoCaps(ctx.read(addr, size), v.cap_offset, limit);
            }
          }
          return out;
        },
      };
    },
  },

  VFIO_IOMMU_MAP_DMA: {
    request: N.VFIO_IOMMU_MAP_DMA,
    build(ctx, input) {
      const argsz = sizeIn(input, "argsz");
      const buf = vfioIommuType1DmaMap.encode(
        {
          argsz,
          flags: numIn(input, "flags"),
          vaddr: u64In(input, "vaddr"),
          iova: u64In(input, "iova"),
          size: u64In(input, "size"),
        },
        Math.max(argsz, vfioIommuType1DmaMap.size),
      );
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out() {
          // "changed": all fields if the kernel changed any of them, else {}.
          const after = ctx.read(addr, vfioIommuType1DmaMap.size);
          if (changedFields(vfioIommuType1DmaMap, buf, after).length === 0) return {};
          return hexFields(vfioIommuType1DmaMap.decode(after), ["argsz", "flags", "vaddr", "iova", "size"]);
        },
      };
    },
  },

  VFIO_IOMMU_UNMAP_DMA: {
    request: N.VFIO_IOMMU_UNMAP_DMA,
    build(ctx, input) {
      const argsz = sizeIn(input, "argsz");
      const withBitmap =
        has(input, "bitmap.data") || has(input, "bitmap.size") || has(input, "bitmap.pgsize");
      const structSize = vfioIommuType1DmaUnmap.size + (withBitmap ? vfioBitmap.size : 0);
      const buf = vfioIommuType1DmaUnmap.encode(
        { argsz, flags: numIn(input, "flags"), iova: u64In(input, "iova"), size: u64In(input, "size") },
        Math.max(argsz, structSize),
      );
      if (withBitmap) {
        vfioBitmap.encodeInto(
          buf,
          {
            pgsize: u64In(input, "bitmap.pgsize"),
            size: u64In(input, "bitmap.size"),
            data: u64In(input, "bitmap.data"),
          },
          vfioIommuType1DmaUnmap.size,
        );
      }
      const bm = withBitmap ? zeroBitmap(ctx, input) : undefined;
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out(res) {
          const after = ctx.read(addr, vfioIommuType1DmaUnmap.size);
          const v = vfioIommuType1DmaUnmap.decode(after);
          const out: Record<string, Json> = { size: hx(v.size) };
          for (const f of changedFields(vfioIommuType1DmaUnmap, buf, after)) {
            if (f !== "size") out[f] = hx(v[f as "argsz" | "flags" | "iova"]);
          }
          if (res.ret >= 0 && bm && bm.data !== 0n && bm.size > 0) out["bitmap"] = readBitmap(ctx, bm);
          return out;
        },
      };
    },
  },

  VFIO_IOMMU_DIRTY_PAGES: {
    request: N.VFIO_IOMMU_DIRTY_PAGES,
    build(ctx, input) {
      const argsz = sizeIn(input, "argsz");
      const full = vfioIommuType1DirtyBitmap.size + vfioIommuType1DirtyBitmapGet.size;
      const buf = vfioIommuType1DirtyBitmap.encode(
        { argsz, flags: numIn(input, "flags") },
        Math.max(argsz, full),
      );
      const withGet = has(input, "iova") || has(input, "bitmap.data");
      let bm: { data: bigint; size: number } | undefined;
      if (withGet) {
        vfioIommuType1DirtyBitmapGet.encodeInto(
          buf,
          {
            iova: u64In(input, "iova"),
            size: u64In(input, "size"),
            bitmap_pgsize: u64In(input, "bitmap.pgsize"),
            bitmap_size: u64In(input, "bitmap.size"),
            bitmap_data: u64In(input, "bitmap.data"),
          },
          vfioIommuType1DirtyBitmap.size,
        );
        bm = zeroBitmap(ctx, input);
      }
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: (res): JsonObject =>
          res.ret >= 0 && bm && bm.data !== 0n && bm.size > 0 ? { bitmap: readBitmap(ctx, bm) } : {},
      };
    },
  },

  VFIO_DEVICE_BIND_IOMMUFD: {
    request: N.VFIO_DEVICE_BIND_IOMMUFD,
    build(ctx, input) {
      const argsz = sizeIn(input, "argsz");
      // The program's struct is the 16-byte one (no token); out_devid pre-filled with 0xa5.
      const size = Math.max(argsz, vfioDeviceBindIommufd.minSize);
      const buf = vfioDeviceBindIommufd.encode({ argsz, iommufd: fdArg(ctx, input, "iommufd") }, size);
      prefillField(buf, vfioDeviceBindIommufd, "out_devid");
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ out_devid: vfioDeviceBindIommufd.decode(ctx.read(addr, 16)).out_devid }),
      };
    },
  },

  VFIO_DEVICE_ATTACH_IOMMUFD_PT: {
    request: N.VFIO_DEVICE_ATTACH_IOMMUFD_PT,
    build(ctx, input) {
      const argsz = sizeIn(input, "argsz");
      const size = Math.max(argsz, vfioDeviceAttachIommufdPt.minSize);
      const buf = vfioDeviceAttachIommufdPt.encode({ argsz, pt_id: numIn(input, "pt_id") }, size);
      const addr = ctx.stack(buf);
      return {
        arg: addr,
        out: () => ({ pt_id: vfioDeviceAttachIommufdPt.decode(ctx.read(addr, 12)).pt_id }),
      };
    },
  },

  VFIO_DEVICE_DETACH_IOMMUFD_PT: {
    request: N.VFIO_DEVICE_DETACH_IOMMUFD_PT,
    build(ctx, input) {
      const argsz = sizeIn(input, "argsz");
      const size = Math.max(argsz, vfioDeviceDetachIommufdPt.minSize);
      return { arg: ctx.stack(vfioDeviceDetachIommufdPt.encode({ argsz }, size)), out: () => ({}) };
    },
  },
};
