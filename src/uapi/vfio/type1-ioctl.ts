/**
 * type1's ioctls on a container fd (vfio_iommu_type1.c `vfio_iommu_type1_ioctl`): argument copying,
 * argsz/flag checks and the write-back rules, on top of the core `Type1Iommu`.
 *
 * Write-back: GET_INFO writes its header (16/20 bytes before 6.6, min(argsz, 24) since) and the chain
 * only when the whole chain fits; UNMAP_DMA writes its 24-byte header back only on success; nothing
 * else writes anything. No write-back on error, ever.
 */

import { fail } from "../../core/errno.js";
import type { KernelFeatures } from "../../core/kernel.js";
import { U64_MAX } from "../../core/u64.js";
import { DIRTY_BITMAP_SIZE_MAX, type Type1Iommu, type UserBitmap } from "../../core/vfio/type1.js";
import type { Process } from "../../process/process.js";
import { copyFromUser, copyToUser, type IoctlCall } from "../file.js";
import {
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
} from "../numbers.js";
import {
  vfioBitmap,
  vfioIommuType1DirtyBitmap,
  vfioIommuType1DirtyBitmapGet,
  vfioIommuType1DmaMap,
  vfioIommuType1DmaUnmap,
  vfioIommuType1Info,
} from "../structs/vfio.js";
import { Bytes, CapChain } from "./caps.js";

/**
 * Seed 003: `VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA` from the 2016 proposal. Its original bit 2 is
 * VADDR today, so the opt-in model uses bit 3; accepted only when the container opted in.
 */
export const VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA = 1 << 3;

/** The type1 ioctl for `call`; ENOTTY for numbers type1 does not know. */
export function type1Ioctl(ctx: Type1Iommu, features: KernelFeatures, call: IoctlCall): number {
  switch (call.request) {
    case VFIO_IOMMU_GET_INFO:
      return getInfo(ctx, features, call);
    case VFIO_IOMMU_MAP_DMA:
      return mapDma(ctx, call);
    case VFIO_IOMMU_UNMAP_DMA:
      return unmapDma(ctx, call);
    case VFIO_IOMMU_DIRTY_PAGES:
      return dirtyPages(ctx, call);
    default:
      fail("ENOTTY", "vfio_iommu_type1_ioctl", `unknown ioctl 0x${call.request.toString(16)}`);
  }
}

/** type1 capability chain: MIGRATION, DMA_AVAIL, then IOVA_RANGE when the list is non-empty. */
export function type1Caps(ctx: Type1Iommu, aligned: boolean): CapChain {
  const info = ctx.info();
  const chain = new CapChain(aligned);
  chain.add(
    VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
    1,
    new Bytes(24).u32(0, 0).u64(8, info.migrationPgsize).u64(16, info.maxDirtyBitmapSize).buf,
  );
  chain.add(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, new Bytes(4).u32(0, info.dmaAvail).buf);
  if (info.iovaList.length > 0) {
    const body = new Bytes(8 + 16 * info.iovaList.length).u32(0, info.iovaList.length);
    info.iovaList.forEach((r, i) => body.u64(8 + 16 * i, r.start).u64(16 + 16 * i, r.last));
    chain.add(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, body.buf);
  }
  return chain;
}

/** `vfio_iommu_type1_get_info`. */
function getInfo(ctx: Type1Iommu, features: KernelFeatures, call: IoctlCall): number {
  const op = "vfio_iommu_type1_get_info";
  const minsz = vfioIommuType1Info.minSize; // through iova_pgsizes
  const head = vfioIommuType1Info.decode(copyFromUser(call.process, call.arg, minsz));
  if (head.argsz < minsz) fail("EINVAL", op, "argsz too small");
  const structSize = vfioIommuType1Info.size;
  // Header bytes written back: 6.6+ min(argsz, 24) of a zeroed struct; before, 16 or 20 (the
  // cap_offset only when argsz covers it; the tail pad is never written).
  const headerBytes = features.vfioCapsAligned
    ? Math.min(head.argsz, structSize)
    : head.argsz >= vfioIommuType1Info.offsetOf("pad")
      ? vfioIommuType1Info.offsetOf("pad")
      : minsz;
  let argsz = head.argsz;
  let flags = VFIO_IOMMU_INFO_PGSIZES;
  let capOffset = 0;
  const chain = type1Caps(ctx, features.vfioCapsAligned);
  if (!chain.empty) {
    flags |= VFIO_IOMMU_INFO_CAPS;
    if (head.argsz < structSize + chain.size) {
      argsz = structSize + chain.size;
    } else {
      copyToUser(call.process, call.arg + BigInt(structSize), chain.bytes(structSize));
      capOffset = structSize;
    }
  }
  const out = vfioIommuType1Info.encode({
    argsz,
    flags,
    iova_pgsizes: ctx.pgsizeBitmap,
    cap_offset: capOffset,
  });
  copyToUser(call.process, call.arg, out.subarray(0, headerBytes));
  return 0;
}

/** `vfio_iommu_type1_map_dma`. */
function mapDma(ctx: Type1Iommu, call: IoctlCall): number {
  const op = "vfio_iommu_type1_map_dma";
  const m = vfioIommuType1DmaMap.decode(copyFromUser(call.process, call.arg, vfioIommuType1DmaMap.size));
  const msiOptIn = ctx.options.msiReservedIova === true;
  const mask =
    VFIO_DMA_MAP_FLAG_READ |
    VFIO_DMA_MAP_FLAG_WRITE |
    VFIO_DMA_MAP_FLAG_VADDR |
    (msiOptIn ? VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA : 0);
  if (m.argsz < vfioIommuType1DmaMap.size || (m.flags & ~mask) !== 0) fail("EINVAL", op, "argsz or flags");
  if (m.flags & VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA) {
    if (m.flags !== VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA)
      fail("EINVAL", op, "MSI_RESERVED_IOVA takes no other flag");
    ctx.reserveMsiIova(m.iova, m.size);
    return 0;
  }
  ctx.map(call.process, {
    vaddr: m.vaddr,
    iova: m.iova,
    size: m.size,
    read: (m.flags & VFIO_DMA_MAP_FLAG_READ) !== 0,
    write: (m.flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0,
    vaddrUpdate: (m.flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0,
  });
  return 0;
}

/** `verify_bitmap_size`: enough whole u64 words for `npages` bits, not 0, not over 256 MiB. */
function verifyBitmapSize(op: string, npages: bigint, bitmapSize: bigint): void {
  if (npages === 0n || bitmapSize === 0n || bitmapSize > DIRTY_BITMAP_SIZE_MAX) {
    fail("EINVAL", op, "bad bitmap size");
  }
  const needed = ((npages + 63n) / 64n) * 8n;
  if (bitmapSize < needed) fail("EINVAL", op, "bitmap too small");
}

/** `access_ok`: the user range lies below the top of user space (not whether it is mapped). */
const TASK_SIZE = 1n << 47n;
function accessOk(addr: bigint, size: bigint): boolean {
  return size <= TASK_SIZE && addr <= TASK_SIZE - size;
}

/** `__ffs` of a page size; a zero size behaves as bit 0 (x86 `bsf` leaves 0 in practice). */
function ffs(v: bigint): bigint {
  if (v === 0n) return 0n;
  return BigInt((v & -v).toString(2).length - 1);
}

function userBitmap(process: Process, pgsize: bigint, data: bigint): UserBitmap {
  return { pgsize, data, memory: process.memory };
}

/** `vfio_iommu_type1_unmap_dma`. */
function unmapDma(ctx: Type1Iommu, call: IoctlCall): number {
  const op = "vfio_iommu_type1_unmap_dma";
  const minsz = vfioIommuType1DmaUnmap.size;
  const u = vfioIommuType1DmaUnmap.decode(copyFromUser(call.process, call.arg, minsz));
  const mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
  if (u.argsz < minsz || (u.flags & ~mask) !== 0) fail("EINVAL", op, "argsz or flags");
  const wantBitmap = (u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  if (wantBitmap && (u.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) !== 0) {
    fail("EINVAL", op, "GET_DIRTY_BITMAP with ALL or VADDR");
  }
  let bitmap: UserBitmap | undefined;
  if (wantBitmap) {
    if (u.argsz < minsz + vfioBitmap.size) fail("EINVAL", op, "argsz does not cover the bitmap");
    const b = vfioBitmap.decode(copyFromUser(call.process, call.arg + BigInt(minsz), vfioBitmap.size));
    if (!accessOk(b.data, b.size)) fail("EINVAL", op, "bitmap not in user space");
    verifyBitmapSize(op, u.size >> ffs(b.pgsize), b.size);
    bitmap = userBitmap(call.process, b.pgsize, b.data);
  }
  const unmapped = ctx.unmap({
    iova: u.iova,
    size: u.size,
    all: (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0,
    invalidateVaddr: (u.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0,
    ...(bitmap ? { bitmap } : {}),
  });
  copyToUser(call.process, call.arg, vfioIommuType1DmaUnmap.encode({ ...u, size: unmapped }));
  return 0;
}

/** `vfio_iommu_type1_dirty_pages`. */
function dirtyPages(ctx: Type1Iommu, call: IoctlCall): number {
  const op = "vfio_iommu_type1_dirty_pages";
  if (!ctx.v2) fail("EACCES", op, "dirty tracking needs a v2 container");
  const minsz = vfioIommuType1DirtyBitmap.size;
  const d = vfioIommuType1DirtyBitmap.decode(copyFromUser(call.process, call.arg, minsz));
  const mask =
    VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
    VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
    VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
  if (d.argsz < minsz || (d.flags & ~mask) !== 0) fail("EINVAL", op, "argsz or flags");
  // Exactly one flag (no flag at all falls through to EINVAL too).
  if (d.flags === 0 || (d.flags & (d.flags - 1)) !== 0) fail("EINVAL", op, "exactly one flag");
  if (d.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
    ctx.startDirtyTracking();
    return 0;
  }
  if (d.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
    ctx.stopDirtyTracking();
    return 0;
  }
  const dataSize = d.argsz - minsz;
  if (dataSize < vfioIommuType1DirtyBitmapGet.size) fail("EINVAL", op, "argsz does not cover the range");
  const r = vfioIommuType1DirtyBitmapGet.decode(
    copyFromUser(call.process, call.arg + BigInt(minsz), vfioIommuType1DirtyBitmapGet.size),
  );
  if (r.iova + r.size > U64_MAX) fail("EINVAL", op, "range wraps");
  if (!accessOk(r.bitmap_data, r.bitmap_size)) fail("EINVAL", op, "bitmap not in user space");
  verifyBitmapSize(op, r.size >> ffs(r.bitmap_pgsize), r.bitmap_size);
  ctx.getDirtyBitmap(r.iova, r.size, userBitmap(call.process, r.bitmap_pgsize, r.bitmap_data));
  return 0;
}
