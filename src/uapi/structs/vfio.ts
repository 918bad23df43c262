/**
 * VFIO uAPI structs (include/uapi/linux/vfio.h), semantics.md §1.2–1.3.
 *
 * `minSize` is what the kernel's `minsz = offsetofend(struct, last_field)` checks against `argsz`.
 */

import { defineStruct } from "../struct.js";

/** `struct vfio_group_status` — 8 bytes. */
export const vfioGroupStatus = defineStruct("vfio_group_status", [
  ["argsz", "u32"],
  ["flags", "u32"],
]);

/** `struct vfio_iommu_type1_info` — 24 bytes; the kernel needs argsz ≥ 16 (through iova_pgsizes). */
export const vfioIommuType1Info = defineStruct(
  "vfio_iommu_type1_info",
  [
    ["argsz", "u32"],
    ["flags", "u32"],
    ["iova_pgsizes", "u64"],
    ["cap_offset", "u32"],
    ["pad", "u32"],
  ],
  { minSizeThrough: "iova_pgsizes" },
);

/** `struct vfio_info_cap_header` — 8 bytes; `next` is an offset from the start of the info struct. */
export const vfioInfoCapHeader = defineStruct("vfio_info_cap_header", [
  ["id", "u16"],
  ["version", "u16"],
  ["next", "u32"],
]);

/** `struct vfio_iommu_type1_info_cap_iova_range` — 16 bytes + 16 per range. */
export const vfioIommuType1InfoCapIovaRange = defineStruct("vfio_iommu_type1_info_cap_iova_range", [
  ["id", "u16"],
  ["version", "u16"],
  ["next", "u32"],
  ["nr_iovas", "u32"],
  ["reserved", "u32"],
]);

/** `struct vfio_iova_range` — 16 bytes, `end` inclusive. */
export const vfioIovaRange = defineStruct("vfio_iova_range", [
  ["start", "u64"],
  ["end", "u64"],
]);

/** `struct vfio_iommu_type1_info_cap_migration` — 32 bytes (4 padding bytes at 12). */
export const vfioIommuType1InfoCapMigration = defineStruct("vfio_iommu_type1_info_cap_migration", [
  ["id", "u16"],
  ["version", "u16"],
  ["next", "u32"],
  ["flags", "u32"],
  ["__pad", "pad4"],
  ["pgsize_bitmap", "u64"],
  ["max_dirty_bitmap_size", "u64"],
]);

/** `struct vfio_iommu_type1_info_dma_avail` — 12 bytes (padded to 16 in the chain since 6.6). */
export const vfioIommuType1InfoDmaAvail = defineStruct("vfio_iommu_type1_info_dma_avail", [
  ["id", "u16"],
  ["version", "u16"],
  ["next", "u32"],
  ["avail", "u32"],
]);

/** `struct vfio_iommu_type1_dma_map` — 32 bytes. */
export const vfioIommuType1DmaMap = defineStruct("vfio_iommu_type1_dma_map", [
  ["argsz", "u32"],
  ["flags", "u32"],
  ["vaddr", "u64"],
  ["iova", "u64"],
  ["size", "u64"],
]);

/** `struct vfio_iommu_type1_dma_unmap` — 24 bytes + `data[]` (a `vfio_bitmap` with GET_DIRTY_BITMAP). */
export const vfioIommuType1DmaUnmap = defineStruct("vfio_iommu_type1_dma_unmap", [
  ["argsz", "u32"],
  ["flags", "u32"],
  ["iova", "u64"],
  ["size", "u64"],
]);

/** `struct vfio_bitmap` — 24 bytes. */
export const vfioBitmap = defineStruct("vfio_bitmap", [
  ["pgsize", "u64"],
  ["size", "u64"],
  ["data", "u64"],
]);

/** `struct vfio_iommu_type1_dirty_bitmap` — 8 bytes + `data[]`. */
export const vfioIommuType1DirtyBitmap = defineStruct("vfio_iommu_type1_dirty_bitmap", [
  ["argsz", "u32"],
  ["flags", "u32"],
]);

/**
 * `struct vfio_iommu_type1_dirty_bitmap_get` — 40 bytes, following the 8-byte header. The embedded
 * `struct vfio_bitmap` is flattened as `bitmap_pgsize`, `bitmap_size`, `bitmap_data`.
 */
export const vfioIommuType1DirtyBitmapGet = defineStruct("vfio_iommu_type1_dirty_bitmap_get", [
  ["iova", "u64"],
  ["size", "u64"],
  ["bitmap_pgsize", "u64"],
  ["bitmap_size", "u64"],
  ["bitmap_data", "u64"],
]);

/** `struct vfio_device_info` — 24 bytes; argsz must cover num_irqs (16). */
export const vfioDeviceInfo = defineStruct(
  "vfio_device_info",
  [
    ["argsz", "u32"],
    ["flags", "u32"],
    ["num_regions", "u32"],
    ["num_irqs", "u32"],
    ["cap_offset", "u32"],
    ["pad", "u32"],
  ],
  { minSizeThrough: "num_irqs" },
);

/** `struct vfio_region_info` — 32 bytes. */
export const vfioRegionInfo = defineStruct("vfio_region_info", [
  ["argsz", "u32"],
  ["flags", "u32"],
  ["index", "u32"],
  ["cap_offset", "u32"],
  ["size", "u64"],
  ["offset", "u64"],
]);

/** `struct vfio_device_bind_iommufd` — 24 bytes with the token (newest); 16 mandatory. */
export const vfioDeviceBindIommufd = defineStruct(
  "vfio_device_bind_iommufd",
  [
    ["argsz", "u32"],
    ["flags", "u32"],
    ["iommufd", "s32"],
    ["out_devid", "u32"],
    ["token_uuid_ptr", "u64"],
  ],
  { minSizeThrough: "out_devid" },
);

/** `struct vfio_device_attach_iommufd_pt` — 16 bytes with pasid (6.15+); 12 mandatory. */
export const vfioDeviceAttachIommufdPt = defineStruct(
  "vfio_device_attach_iommufd_pt",
  [
    ["argsz", "u32"],
    ["flags", "u32"],
    ["pt_id", "u32"],
    ["pasid", "u32"],
  ],
  { minSizeThrough: "pt_id" },
);

/** `struct vfio_device_detach_iommufd_pt` — 12 bytes with pasid; 8 mandatory. */
export const vfioDeviceDetachIommufdPt = defineStruct(
  "vfio_device_detach_iommufd_pt",
  [
    ["argsz", "u32"],
    ["flags", "u32"],
    ["pasid", "u32"],
  ],
  { minSizeThrough: "flags" },
);
