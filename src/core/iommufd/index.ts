/** iommufd engine: typed API (no bytes). See context.ts for the object model. */
export {
  IommufdContext,
  IoasObject,
  HwptPaging,
  DeviceObject,
  AccessObject,
  IGroup,
  claimDmaOwner,
  releaseDmaOwner,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_HW_INFO_TYPE_NONE,
  IOMMU_HW_INFO_TYPE_INTEL_VTD,
  IOMMU_HW_CAP_DIRTY_TRACKING,
  type AccessOps,
  type CopyRequest,
  type HwInfo,
  type IommufdContextOptions,
  type IommufdObject,
  type IommufdSnapshot,
  type MapRequest,
  type RangeSource,
  type ObjectKind,
  type ObjectSnapshot,
} from "./context.js";
export { Area, AreaHolder, AreaTable } from "./area-table.js";
export {
  IoPagetable,
  type IoptAccess,
  type PagesSlice,
  type ReservedOwner,
  type UnmapResult,
} from "./io-pagetable.js";
export { IoptPages, type AccountMode, type PinSource } from "./pages.js";
