/**
 * iommufd's VFIO compatibility layer (drivers/iommu/iommufd/vfio_compat.c): the container ioctls
 * answered on an iommufd fd, on the context's compat IOAS (semantics.md §1.5, divergences in §3).
 *
 * Unlike type1 this path writes back on error: UNMAP_DMA always copies its header back with the bytes
 * removed so far, and GET_INFO writes every capability (and every range) that fits the buffer.
 */

import { IommufdFile } from "../iommufd/file.js";
import type { IommuDomain } from "../../core/domain.js";
import { fail } from "../../core/errno.js";
import type { IommufdContext } from "../../core/iommufd/index.js";
import type { KernelFeatures } from "../../core/kernel.js";
import {
  compatCheckExtension,
  compatIoasOf,
  compatMap,
  compatSetIommu,
  compatUnmap,
} from "../../core/vfio/compat.js";
import type { VfioDevice } from "../../core/vfio/subsystem.js";
import { U32_MAX } from "../../core/u64.js";
import { copyFromUser, copyToUser, type IoctlCall, type OpenFile } from "../file.js";
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
} from "../numbers.js";
import { vfioIommuType1DmaMap, vfioIommuType1DmaUnmap, vfioIommuType1Info } from "../structs/vfio.js";
import type { Kernel } from "../system.js";
import { Bytes } from "./caps.js";
import type { CompatLink } from "./compat-link.js";
import { argAsId, VFIO_API_VERSION } from "./container.js";

/** `iommufd_vfio_ioctl`: the compat command set; anything else (DIRTY_PAGES too) is ENOTTY. */
export function compatIoctl(kernel: Kernel, ictx: IommufdContext, call: IoctlCall): number {
  switch (call.request) {
    case VFIO_GET_API_VERSION:
      return VFIO_API_VERSION;
    case VFIO_SET_IOMMU:
      return setIommu(ictx, argAsId(call.arg));
    case VFIO_CHECK_EXTENSION:
      return checkExtension(kernel, ictx, argAsId(call.arg));
    case VFIO_IOMMU_GET_INFO:
      return getInfo(kernel.features, ictx, call);
    case VFIO_IOMMU_MAP_DMA:
      return mapDma(kernel, ictx, call);
    case VFIO_IOMMU_UNMAP_DMA:
      return unmapDma(kernel.features, ictx, call);
    default:
      fail("ENOTTY", "iommufd_vfio_ioctl", `not a compat ioctl 0x${call.request.toString(16)}`);
  }
}

function checkExtension(kernel: Kernel, ictx: IommufdContext, ext: number): number {
  return compatCheckExtension(ictx, ext, kernel.host.params.noiommu);
}

function setIommu(ictx: IommufdContext, type: number): number {
  compatSetIommu(ictx, type);
  return 0;
}

/** `iommufd_vfio_map_dma`: a fixed-IOVA map with the native checks; no R/W requirement. */
function mapDma(kernel: Kernel, ictx: IommufdContext, call: IoctlCall): number {
  const op = "iommufd_vfio_map_dma";
  const m = vfioIommuType1DmaMap.decode(copyFromUser(call.process, call.arg, vfioIommuType1DmaMap.size));
  const supported = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  if (m.argsz < vfioIommuType1DmaMap.size || (m.flags & ~supported) !== 0)
    fail("EINVAL", op, "argsz or flags");
  compatMap(ictx, kernel.pinSource(call.process), {
    vaddr: m.vaddr,
    iova: m.iova,
    size: m.size,
    read: (m.flags & VFIO_DMA_MAP_FLAG_READ) !== 0,
    write: (m.flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0,
  });
  return 0;
}

/**
 * `iommufd_vfio_unmap_dma`. In TYPE1 mode (large pages off) the areas are first cut at the range's
 * ends, so exactly the requested bytes go (v1 hole punching). The header is written back after the
 * unmap attempt whatever its outcome — the kernel's one write-back on error.
 */
function unmapDma(features: KernelFeatures, ictx: IommufdContext, call: IoctlCall): number {
  const op = "iommufd_vfio_unmap_dma";
  const minsz = vfioIommuType1DmaUnmap.size;
  const u = vfioIommuType1DmaUnmap.decode(copyFromUser(call.process, call.arg, minsz));
  if (u.argsz < minsz || (u.flags & ~VFIO_DMA_UNMAP_FLAG_ALL) !== 0) fail("EINVAL", op, "argsz or flags");
  const result = compatUnmap(ictx, features, {
    iova: u.iova,
    size: u.size,
    all: (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0,
  });
  copyToUser(call.process, call.arg, vfioIommuType1DmaUnmap.encode({ ...u, size: result.unmapped }));
  if (result.error) throw result.error;
  return 0;
}

/**
 * `iommufd_vfio_iommu_get_info`: caps DMA_AVAIL (avail U32_MAX) then IOVA_RANGE (the holes of the
 * reserved set), each written only as far as it fits; `next` links only where the buffer reaches the
 * following cap; cap_offset only when everything fits; argsz always the total.
 */
function getInfo(features: KernelFeatures, ictx: IommufdContext, call: IoctlCall): number {
  const op = "iommufd_vfio_iommu_get_info";
  const minsz = vfioIommuType1Info.minSize;
  const head = vfioIommuType1Info.decode(copyFromUser(call.process, call.arg, minsz));
  if (head.argsz < minsz) fail("EINVAL", op, "argsz too small");
  const headerBytes = Math.min(head.argsz, vfioIommuType1Info.size);
  const ioas = compatIoasOf(ictx, op);
  const argsz = head.argsz;
  const base = call.arg;
  const write = (offset: number, bytes: Uint8Array): void =>
    copyToUser(call.process, base + BigInt(offset), bytes);
  const align = (n: number): number => (features.vfioCapsAligned ? Math.ceil(n / 8) * 8 : n);

  const fillDmaAvail = (at: number, avail: number): number => {
    const cap = new Bytes(12).u32(0, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL | (1 << 16)).u32(8, U32_MAX).buf;
    if (avail >= cap.length) write(at, cap);
    return cap.length;
  };
  const fillIova = (at: number, avail: number): number => {
    const ranges = ioas.iopt.iovaRanges();
    ranges.forEach((r, n) => {
      if (avail >= 16 + 16 * (n + 1))
        write(at + 16 + 16 * n, new Bytes(16).u64(0, r.start).u64(8, r.last).buf);
    });
    if (avail >= 16 + 16 * ranges.length) {
      write(
        at,
        new Bytes(16).u32(0, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE | (1 << 16)).u32(8, ranges.length).buf,
      );
    }
    return 16 + 16 * ranges.length;
  };

  let total = vfioIommuType1Info.size;
  let lastCap: number | null = null;
  for (const fill of [fillDmaAvail, fillIova]) {
    const size = align(argsz > total ? fill(total, argsz - total) : fill(total, 0));
    if (lastCap !== null && argsz >= total) write(lastCap + 4, new Bytes(4).u32(0, total).buf);
    lastCap = total;
    total += size;
  }
  const out = vfioIommuType1Info.encode({
    argsz: total,
    flags: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS,
    iova_pgsizes: ictx.pageSizes(ioas),
    cap_offset: argsz >= total ? vfioIommuType1Info.size : 0,
  });
  write(0, out.subarray(0, headerBytes));
  return 0;
}

// ---------------------------------------------------------------------------- the group side

export interface GroupBinding {
  readonly via: "group";
  readonly ictx: IommufdContext;
  readonly devId: number;
}

/** The VFIO group's view of iommufd (SET_CONTAINER with an iommufd fd, GET_DEVICE_FD attach). */
export const compatGroupLink: CompatLink = {
  contextOf(file: OpenFile): object | undefined {
    return file instanceof IommufdFile ? file.ctx : undefined;
  },

  ensureCompatIoas(ictx: object): void {
    (ictx as IommufdContext).ensureCompatIoas();
  },

  /** `vfio_df_iommufd_bind` + `vfio_iommufd_compat_attach_ioas`; unbound again if the attach fails. */
  openDevice(ictx: object, device: VfioDevice): void {
    const ctx = ictx as IommufdContext;
    const devId = ctx.bindDevice(device.pci);
    try {
      const ioasId = ctx.getVfioIoas();
      ctx.attachDevice(devId, ioasId, "vfio_iommufd_physical_attach_ioas");
    } catch (e) {
      ctx.unbindDevice(devId);
      throw e;
    }
    const binding: GroupBinding = { via: "group", ictx: ctx, devId };
    device.iommufdBinding = binding;
  },

  closeDevice(ictx: object, device: VfioDevice): void {
    const b = device.iommufdBinding as GroupBinding | null;
    if (b?.via !== "group" || b.ictx !== ictx) return;
    device.iommufdBinding = null;
    // The context may already have unbound it (its fd was released first).
    if (b.ictx.object(b.devId)?.kind === "device") b.ictx.unbindDevice(b.devId);
  },
};

/** The domain a group-opened compat device translates through (for the DMA datapath). */
export function compatDomainOf(device: VfioDevice | undefined): IommuDomain | null {
  const b = device?.iommufdBinding as GroupBinding | null | undefined;
  if (b?.via !== "group") return null;
  const idev = b.ictx.object(b.devId);
  return idev?.kind === "device" ? (idev.hwpt?.domain ?? null) : null;
}
