/**
 * iommufd uAPI structs (include/uapi/linux/iommufd.h), semantics.md §1.4.
 *
 * `minSize` is the dispatcher's `min_size` (end of the last mandatory field); `size` is the newest
 * struct this engine knows. Commands whose struct grew across versions have one codec per size.
 */

import { defineStruct } from "../struct.js";

/** `struct iommu_destroy` — 8 bytes. */
export const iommuDestroy = defineStruct("iommu_destroy", [
  ["size", "u32"],
  ["id", "u32"],
]);

/** `struct iommu_ioas_alloc` — 12 bytes. */
export const iommuIoasAlloc = defineStruct("iommu_ioas_alloc", [
  ["size", "u32"],
  ["flags", "u32"],
  ["out_ioas_id", "u32"],
]);

/** `struct iommu_iova_range` — 16 bytes, `last` inclusive. */
export const iommuIovaRange = defineStruct("iommu_iova_range", [
  ["start", "u64"],
  ["last", "u64"],
]);

/** `struct iommu_ioas_iova_ranges` — 32 bytes. */
export const iommuIoasIovaRanges = defineStruct("iommu_ioas_iova_ranges", [
  ["size", "u32"],
  ["ioas_id", "u32"],
  ["num_iovas", "u32"],
  ["__reserved", "u32"],
  ["allowed_iovas", "u64"],
  ["out_iova_alignment", "u64"],
]);

/** `struct iommu_ioas_allow_iovas` — 24 bytes. */
export const iommuIoasAllowIovas = defineStruct("iommu_ioas_allow_iovas", [
  ["size", "u32"],
  ["ioas_id", "u32"],
  ["num_iovas", "u32"],
  ["__reserved", "u32"],
  ["allowed_iovas", "u64"],
]);

/** `struct iommu_ioas_map` — 40 bytes. */
export const iommuIoasMap = defineStruct("iommu_ioas_map", [
  ["size", "u32"],
  ["flags", "u32"],
  ["ioas_id", "u32"],
  ["__reserved", "u32"],
  ["user_va", "u64"],
  ["length", "u64"],
  ["iova", "u64"],
]);

/** `struct iommu_ioas_map_file` — 40 bytes (6.13+). */
export const iommuIoasMapFile = defineStruct("iommu_ioas_map_file", [
  ["size", "u32"],
  ["flags", "u32"],
  ["ioas_id", "u32"],
  ["fd", "s32"],
  ["start", "u64"],
  ["length", "u64"],
  ["iova", "u64"],
]);

/** `struct iommu_ioas_copy` — 40 bytes. */
export const iommuIoasCopy = defineStruct("iommu_ioas_copy", [
  ["size", "u32"],
  ["flags", "u32"],
  ["dst_ioas_id", "u32"],
  ["src_ioas_id", "u32"],
  ["length", "u64"],
  ["dst_iova", "u64"],
  ["src_iova", "u64"],
]);

/** `struct iommu_ioas_unmap` — 24 bytes. */
export const iommuIoasUnmap = defineStruct("iommu_ioas_unmap", [
  ["size", "u32"],
  ["ioas_id", "u32"],
  ["iova", "u64"],
  ["length", "u64"],
]);

/** `struct iommu_option` — 24 bytes. */
export const iommuOption = defineStruct("iommu_option", [
  ["size", "u32"],
  ["option_id", "u32"],
  ["op", "u16"],
  ["__reserved", "u16"],
  ["object_id", "u32"],
  ["val64", "u64"],
]);

/** `struct iommu_vfio_ioas` — 12 bytes. */
export const iommuVfioIoas = defineStruct("iommu_vfio_ioas", [
  ["size", "u32"],
  ["ioas_id", "u32"],
  ["op", "u16"],
  ["__reserved", "u16"],
]);

/** `struct iommu_hwpt_alloc`, 6.11+ form — 48 bytes, min 24. */
export const iommuHwptAlloc = defineStruct(
  "iommu_hwpt_alloc",
  [
    ["size", "u32"],
    ["flags", "u32"],
    ["dev_id", "u32"],
    ["pt_id", "u32"],
    ["out_hwpt_id", "u32"],
    ["__reserved", "u32"],
    ["data_type", "u32"],
    ["data_len", "u32"],
    ["data_uptr", "u64"],
    ["fault_id", "u32"],
    ["__reserved2", "u32"],
  ],
  { minSizeThrough: "__reserved" },
);

/** `struct iommu_hwpt_alloc`, 6.7–6.10 form (data fields) — 40 bytes, min 24. */
export const iommuHwptAlloc40 = defineStruct(
  "iommu_hwpt_alloc(6.7)",
  [
    ["size", "u32"],
    ["flags", "u32"],
    ["dev_id", "u32"],
    ["pt_id", "u32"],
    ["out_hwpt_id", "u32"],
    ["__reserved", "u32"],
    ["data_type", "u32"],
    ["data_len", "u32"],
    ["data_uptr", "u64"],
  ],
  { minSizeThrough: "__reserved" },
);

/** `struct iommu_hwpt_alloc`, 6.6 form — 24 bytes. */
export const iommuHwptAlloc24 = defineStruct("iommu_hwpt_alloc(6.6)", [
  ["size", "u32"],
  ["flags", "u32"],
  ["dev_id", "u32"],
  ["pt_id", "u32"],
  ["out_hwpt_id", "u32"],
  ["__reserved", "u32"],
]);

/** The HWPT_ALLOC codec for a kernel whose struct is `size` bytes (`KernelFeatures.hwptAllocSize`). */
export function hwptAllocStruct(
  size: number,
): typeof iommuHwptAlloc | typeof iommuHwptAlloc40 | typeof iommuHwptAlloc24 {
  if (size >= 48) return iommuHwptAlloc;
  if (size >= 40) return iommuHwptAlloc40;
  return iommuHwptAlloc24;
}

/**
 * `struct iommu_hw_info` — 40 bytes, min 32. Byte 28 is `out_max_pasid_log2` in the newest kernels
 * (part of `__reserved` before; it reads 0 there).
 */
export const iommuHwInfo = defineStruct(
  "iommu_hw_info",
  [
    ["size", "u32"],
    ["flags", "u32"],
    ["dev_id", "u32"],
    ["data_len", "u32"],
    ["data_uptr", "u64"],
    ["out_data_type", "u32"],
    ["out_max_pasid_log2", "u8"],
    ["__reserved", "pad3"],
    ["out_capabilities", "u64"],
  ],
  { minSize: 32 },
);

/** `struct iommu_hw_info_vtd` — 24 bytes. */
export const iommuHwInfoVtd = defineStruct("iommu_hw_info_vtd", [
  ["flags", "u32"],
  ["__reserved", "u32"],
  ["cap_reg", "u64"],
  ["ecap_reg", "u64"],
]);

/** `struct iommu_hwpt_set_dirty_tracking` — 16 bytes. */
export const iommuHwptSetDirtyTracking = defineStruct("iommu_hwpt_set_dirty_tracking", [
  ["size", "u32"],
  ["flags", "u32"],
  ["hwpt_id", "u32"],
  ["__reserved", "u32"],
]);

/** `struct iommu_hwpt_get_dirty_bitmap` — 48 bytes. */
export const iommuHwptGetDirtyBitmap = defineStruct("iommu_hwpt_get_dirty_bitmap", [
  ["size", "u32"],
  ["hwpt_id", "u32"],
  ["flags", "u32"],
  ["__reserved", "u32"],
  ["iova", "u64"],
  ["length", "u64"],
  ["page_size", "u64"],
  ["data", "u64"],
]);

/** `struct iommu_ioas_change_process` — 8 bytes (6.14+). */
export const iommuIoasChangeProcess = defineStruct("iommu_ioas_change_process", [
  ["size", "u32"],
  ["__reserved", "u32"],
]);
