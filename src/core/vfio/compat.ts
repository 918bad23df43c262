/**
 * iommufd's VFIO compatibility semantics as a typed API (vfio_compat.c without the bytes): what the
 * container ioctls do on an iommufd context's compat IOAS. The uAPI file (uapi/vfio/compat.ts) adds
 * argument copying and write-back; compat-diff runs these against type1.
 */

import { fail, type IoasError } from "../errno.js";
import type { IommufdContext, IoasObject, PinSource } from "../iommufd/index.js";
import type { KernelFeatures } from "../kernel.js";
import type { IovaRange } from "../ranges.js";
import { U64_MAX } from "../u64.js";

const TYPE1 = 1;
const TYPE1V2 = 3;
const DMA_CC = 4;
const NOIOMMU = 8;
const UNMAP_ALL = 9;

/** `get_compat_ioas`: ENODEV when the context has none. */
export function compatIoasOf(ictx: IommufdContext, op: string): IoasObject {
  const ioas = ictx.compatIoas();
  if (!ioas) fail("ENODEV", op, "no compat IOAS");
  return ioas;
}

/** `iommufd_vfio_check_extension`: DMA_CC fails ENODEV without a compat IOAS; NESTING/VADDR 0. */
export function compatCheckExtension(ictx: IommufdContext, ext: number, noiommu: boolean): number {
  switch (ext) {
    case TYPE1:
    case TYPE1V2:
    case UNMAP_ALL:
      return 1;
    case NOIOMMU:
      return noiommu ? 1 : 0;
    case DMA_CC:
      return ictx.enforcesCacheCoherency(compatIoasOf(ictx, "iommufd_vfio_cc_iommu")) ? 1 : 0;
    default:
      return 0;
  }
}

/** `iommufd_vfio_set_iommu`: repeatable; TYPE1 disables large pages on the compat IOAS for good. */
export function compatSetIommu(ictx: IommufdContext, type: number): void {
  const op = "iommufd_vfio_set_iommu";
  if (type !== TYPE1 && type !== TYPE1V2) fail("EINVAL", op, `type ${type} not emulated`);
  const ioas = compatIoasOf(ictx, op);
  if (type === TYPE1) ictx.setHugePagesIn(ioas, false, op);
}

export interface CompatMapRequest {
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
  readonly read: boolean;
  readonly write: boolean;
}

/** `iommufd_vfio_map_dma` after the flag checks: fixed-IOVA map, native checks, no R/W rule. */
export function compatMap(ictx: IommufdContext, source: PinSource, req: CompatMapRequest): void {
  const op = "iommufd_vfio_map_dma";
  const ioas = compatIoasOf(ictx, op);
  ictx.mapUser(
    ioas,
    { userVa: req.vaddr, length: req.size, iova: req.iova, read: req.read, write: req.write },
    source,
    op,
  );
}

export interface CompatUnmapResult {
  readonly unmapped: bigint;
  /** The unmap failed after removing `unmapped` bytes (the kernel still writes them back). */
  readonly error?: IoasError;
}

/**
 * `iommufd_vfio_unmap_dma` after the flag checks. Throws for the errors that return before any
 * write-back (ENODEV, ALL with a range, a refused cut); returns the unmap's outcome otherwise.
 */
export function compatUnmap(
  ictx: IommufdContext,
  features: KernelFeatures,
  req: { readonly iova: bigint; readonly size: bigint; readonly all?: boolean },
): CompatUnmapResult {
  const op = "iommufd_vfio_unmap_dma";
  const ioas = compatIoasOf(ictx, op);
  if (req.all) {
    if (req.iova !== 0n || req.size !== 0n) fail("EINVAL", op, "UNMAP_ALL needs iova = size = 0");
    return ictx.unmapAllIn(ioas, op);
  }
  if (ioas.iopt.disableLargePages) {
    // TYPE1 mode: cut the areas at both ends first (unsigned long arithmetic; iova 0 needs no cut).
    const cuts = [(req.iova + req.size - 1n) & U64_MAX];
    if (req.iova !== 0n) cuts.push(req.iova - 1n);
    ictx.cutIova(ioas, cuts, op);
  }
  const r = ictx.unmapIovaIn(ioas, req.iova, req.size, op);
  // Since the late-2025 fix an empty range is a success; a crossing mapping still is ENOENT.
  if (
    features.compatEmptyUnmapOk &&
    r.error?.errno === "ENOENT" &&
    r.unmapped === 0n &&
    !ioas.iopt.areas.hasOverlap(req.iova, req.iova + req.size - 1n)
  ) {
    return { unmapped: 0n };
  }
  return r;
}

/** What compat GET_INFO reports. */
export interface CompatInfo {
  readonly pgsizeBitmap: bigint;
  /** Holes of the reserved set over [0, ULONG_MAX]. */
  readonly iovaRanges: readonly IovaRange[];
}

export function compatInfo(ictx: IommufdContext): CompatInfo {
  const ioas = compatIoasOf(ictx, "iommufd_vfio_iommu_get_info");
  return { pgsizeBitmap: ictx.pageSizes(ioas), iovaRanges: ioas.iopt.iovaRanges() };
}
