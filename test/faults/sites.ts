/**
 * What each fault-injection site fails with (the kernel's errno at that point), and which failures
 * the kernel itself does not unwind.
 */

import type { ErrnoName } from "../../src/core/errno.js";

/** Sites that do not fail with ENOMEM. */
const SITE_ERRNO: Readonly<Record<string, ErrnoName>> = {
  "uapi.copy_to_user": "EFAULT",
  "type1.copy_to_user": "EFAULT",
  // type1: no domain for the group / iommu_attach_group failing.
  "type1.domain_alloc": "EIO",
  "type1.iommu_attach_group": "ENODEV",
  // iommufd_should_fail at reserved-region enforcement.
  "iommufd.resv_regions": "EINVAL",
};

export function siteErrno(site: string): ErrnoName {
  return SITE_ERRNO[site] ?? "ENOMEM";
}

/** Copy-out sites: the work is done and stays done when only the copy back to the process fails. */
export function isCopyOut(site: string): boolean {
  return site.endsWith("copy_to_user");
}

/**
 * Commands whose copy-out failure the kernel answers by a partial undo or after partial work:
 * dirty bitmaps (bits of mappings reported before the fault are cleared), device attach (the
 * kernel detaches, even on a replace), type1/compat unmap (the bytes are gone; the count is lost).
 */
export const COPY_OUT_PARTIAL_OPS: ReadonlySet<string> = new Set([
  "VFIO_IOMMU_DIRTY_PAGES",
  "IOMMU_HWPT_GET_DIRTY_BITMAP",
  "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
]);

/**
 * Non-copy-out failures the kernel does not unwind, per command and site: only the listed snapshot
 * fields may differ from the state before the call.
 */
export const KERNEL_PARTIAL: readonly { op: string; site: string; fields: readonly string[]; why: string }[] =
  [
    {
      op: "VFIO_IOMMU_UNMAP_DMA",
      site: "iopt.area_alloc",
      fields: ["areas"],
      why: "compat v1 unmap: iopt_cut_iova keeps the cuts made before the failing split (no translation changes)",
    },
  ];
