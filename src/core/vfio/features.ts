/**
 * VFIO-side kernel facts that `KernelFeatures` (core/kernel.ts) does not yet name, derived here from
 * the same kernel version so the rest of core/vfio and uapi/vfio still read named features only.
 * They belong in core/kernel.ts; they live here until its owner moves them.
 */

import type { KernelFeatures, KernelVersion } from "../kernel.js";

export interface VfioFeatures {
  /**
   * iommufd compat: unmapping an empty range succeeds (mainline afb47765f923, 6.18 cycle). Stable
   * back-ports landed in late November 2025 (6.12.y around .59, 6.6.y around .118); the
   * 6.12.107 vectors confirm it (`unmap/unmap_nothing` → 0, size 0), although
   * `KernelFeatures.compatEmptyUnmapOk` derives it from mainline 6.18 only.
   */
  readonly compatEmptyUnmapOk: boolean;
}

function stableAtLeast(v: KernelVersion, major: number, minor: number, patch: number): boolean {
  return v.major === major && v.minor === minor && v.patch >= patch;
}

export function vfioFeatures(features: KernelFeatures): VfioFeatures {
  const v = features.version;
  return {
    compatEmptyUnmapOk:
      features.compatEmptyUnmapOk || stableAtLeast(v, 6, 12, 59) || stableAtLeast(v, 6, 6, 118),
  };
}
