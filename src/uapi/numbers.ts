/**
 * ioctl numbers, extension ids and flag bits of the VFIO and iommufd uAPIs (semantics.md §1.1).
 *
 * Every command uses the "no data" encoding `_IO(';', nr)`: direction and size bits are 0, so the
 * number is `(0x3B << 8) | nr`. The struct size travels inside the struct (`argsz` / `size`).
 * VFIO numbers are `VFIO_BASE (100) + n`; iommufd numbers start at `IOMMUFD_CMD_BASE = 0x80`.
 */

/** `VFIO_TYPE` and `IOMMUFD_TYPE` are both ';'. */
export const IOCTL_TYPE = 0x3b;

/** `_IO(type, nr)`. */
export function _IO(type: number, nr: number): number {
  return ((type & 0xff) << 8) | (nr & 0xff);
}

/** The nr (low byte) of an ioctl number. */
export function ioctlNr(request: number): number {
  return request & 0xff;
}

/** The type (second byte) of an ioctl number. */
export function ioctlType(request: number): number {
  return (request >>> 8) & 0xff;
}

export const VFIO_BASE = 100;
export const IOMMUFD_CMD_BASE = 0x80;

// ---- VFIO container / group / device ----
export const VFIO_GET_API_VERSION = _IO(IOCTL_TYPE, VFIO_BASE + 0); // 0x3B64
export const VFIO_CHECK_EXTENSION = _IO(IOCTL_TYPE, VFIO_BASE + 1); // 0x3B65
export const VFIO_SET_IOMMU = _IO(IOCTL_TYPE, VFIO_BASE + 2); // 0x3B66
export const VFIO_GROUP_GET_STATUS = _IO(IOCTL_TYPE, VFIO_BASE + 3); // 0x3B67
export const VFIO_GROUP_SET_CONTAINER = _IO(IOCTL_TYPE, VFIO_BASE + 4); // 0x3B68
export const VFIO_GROUP_UNSET_CONTAINER = _IO(IOCTL_TYPE, VFIO_BASE + 5); // 0x3B69
export const VFIO_GROUP_GET_DEVICE_FD = _IO(IOCTL_TYPE, VFIO_BASE + 6); // 0x3B6A
export const VFIO_DEVICE_GET_INFO = _IO(IOCTL_TYPE, VFIO_BASE + 7); // 0x3B6B
export const VFIO_DEVICE_GET_REGION_INFO = _IO(IOCTL_TYPE, VFIO_BASE + 8); // 0x3B6C
export const VFIO_DEVICE_GET_IRQ_INFO = _IO(IOCTL_TYPE, VFIO_BASE + 9); // 0x3B6D
export const VFIO_DEVICE_SET_IRQS = _IO(IOCTL_TYPE, VFIO_BASE + 10); // 0x3B6E
export const VFIO_DEVICE_RESET = _IO(IOCTL_TYPE, VFIO_BASE + 11); // 0x3B6F
/** Same nr as VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and VFIO_IOMMU_SPAPR_TCE_GET_INFO (told apart by fd). */
export const VFIO_IOMMU_GET_INFO = _IO(IOCTL_TYPE, VFIO_BASE + 12); // 0x3B70
export const VFIO_IOMMU_MAP_DMA = _IO(IOCTL_TYPE, VFIO_BASE + 13); // 0x3B71
export const VFIO_IOMMU_UNMAP_DMA = _IO(IOCTL_TYPE, VFIO_BASE + 14); // 0x3B72
export const VFIO_IOMMU_ENABLE = _IO(IOCTL_TYPE, VFIO_BASE + 15); // 0x3B73
export const VFIO_IOMMU_DISABLE = _IO(IOCTL_TYPE, VFIO_BASE + 16); // 0x3B74
/** Same nr as VFIO_DEVICE_FEATURE. */
export const VFIO_IOMMU_DIRTY_PAGES = _IO(IOCTL_TYPE, VFIO_BASE + 17); // 0x3B75
export const VFIO_DEVICE_BIND_IOMMUFD = _IO(IOCTL_TYPE, VFIO_BASE + 18); // 0x3B76
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = _IO(IOCTL_TYPE, VFIO_BASE + 19); // 0x3B77
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = _IO(IOCTL_TYPE, VFIO_BASE + 20); // 0x3B78

// ---- iommufd ----
export const IOMMU_DESTROY = _IO(IOCTL_TYPE, 0x80);
export const IOMMU_IOAS_ALLOC = _IO(IOCTL_TYPE, 0x81);
export const IOMMU_IOAS_ALLOW_IOVAS = _IO(IOCTL_TYPE, 0x82);
export const IOMMU_IOAS_COPY = _IO(IOCTL_TYPE, 0x83);
export const IOMMU_IOAS_IOVA_RANGES = _IO(IOCTL_TYPE, 0x84);
export const IOMMU_IOAS_MAP = _IO(IOCTL_TYPE, 0x85);
export const IOMMU_IOAS_UNMAP = _IO(IOCTL_TYPE, 0x86);
export const IOMMU_OPTION = _IO(IOCTL_TYPE, 0x87);
export const IOMMU_VFIO_IOAS = _IO(IOCTL_TYPE, 0x88);
export const IOMMU_HWPT_ALLOC = _IO(IOCTL_TYPE, 0x89);
export const IOMMU_GET_HW_INFO = _IO(IOCTL_TYPE, 0x8a);
export const IOMMU_HWPT_SET_DIRTY_TRACKING = _IO(IOCTL_TYPE, 0x8b);
export const IOMMU_HWPT_GET_DIRTY_BITMAP = _IO(IOCTL_TYPE, 0x8c);
export const IOMMU_HWPT_INVALIDATE = _IO(IOCTL_TYPE, 0x8d);
export const IOMMU_FAULT_QUEUE_ALLOC = _IO(IOCTL_TYPE, 0x8e);
export const IOMMU_IOAS_MAP_FILE = _IO(IOCTL_TYPE, 0x8f);
export const IOMMU_VIOMMU_ALLOC = _IO(IOCTL_TYPE, 0x90);
export const IOMMU_VDEVICE_ALLOC = _IO(IOCTL_TYPE, 0x91);
export const IOMMU_IOAS_CHANGE_PROCESS = _IO(IOCTL_TYPE, 0x92);
export const IOMMU_VEVENTQ_ALLOC = _IO(IOCTL_TYPE, 0x93);
export const IOMMU_HW_QUEUE_ALLOC = _IO(IOCTL_TYPE, 0x94);

/** Names for reports, by number. VFIO numbers that share an nr are listed under the container name. */
export const IOCTL_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [VFIO_GET_API_VERSION, "VFIO_GET_API_VERSION"],
  [VFIO_CHECK_EXTENSION, "VFIO_CHECK_EXTENSION"],
  [VFIO_SET_IOMMU, "VFIO_SET_IOMMU"],
  [VFIO_GROUP_GET_STATUS, "VFIO_GROUP_GET_STATUS"],
  [VFIO_GROUP_SET_CONTAINER, "VFIO_GROUP_SET_CONTAINER"],
  [VFIO_GROUP_UNSET_CONTAINER, "VFIO_GROUP_UNSET_CONTAINER"],
  [VFIO_GROUP_GET_DEVICE_FD, "VFIO_GROUP_GET_DEVICE_FD"],
  [VFIO_DEVICE_GET_INFO, "VFIO_DEVICE_GET_INFO"],
  [VFIO_DEVICE_GET_REGION_INFO, "VFIO_DEVICE_GET_REGION_INFO"],
  [VFIO_DEVICE_GET_IRQ_INFO, "VFIO_DEVICE_GET_IRQ_INFO"],
  [VFIO_DEVICE_SET_IRQS, "VFIO_DEVICE_SET_IRQS"],
  [VFIO_DEVICE_RESET, "VFIO_DEVICE_RESET"],
  [VFIO_IOMMU_GET_INFO, "VFIO_IOMMU_GET_INFO"],
  [VFIO_IOMMU_MAP_DMA, "VFIO_IOMMU_MAP_DMA"],
  [VFIO_IOMMU_UNMAP_DMA, "VFIO_IOMMU_UNMAP_DMA"],
  [VFIO_IOMMU_ENABLE, "VFIO_IOMMU_ENABLE"],
  [VFIO_IOMMU_DISABLE, "VFIO_IOMMU_DISABLE"],
  [VFIO_IOMMU_DIRTY_PAGES, "VFIO_IOMMU_DIRTY_PAGES"],
  [VFIO_DEVICE_BIND_IOMMUFD, "VFIO_DEVICE_BIND_IOMMUFD"],
  [VFIO_DEVICE_ATTACH_IOMMUFD_PT, "VFIO_DEVICE_ATTACH_IOMMUFD_PT"],
  [VFIO_DEVICE_DETACH_IOMMUFD_PT, "VFIO_DEVICE_DETACH_IOMMUFD_PT"],
  [IOMMU_DESTROY, "IOMMU_DESTROY"],
  [IOMMU_IOAS_ALLOC, "IOMMU_IOAS_ALLOC"],
  [IOMMU_IOAS_ALLOW_IOVAS, "IOMMU_IOAS_ALLOW_IOVAS"],
  [IOMMU_IOAS_COPY, "IOMMU_IOAS_COPY"],
  [IOMMU_IOAS_IOVA_RANGES, "IOMMU_IOAS_IOVA_RANGES"],
  [IOMMU_IOAS_MAP, "IOMMU_IOAS_MAP"],
  [IOMMU_IOAS_UNMAP, "IOMMU_IOAS_UNMAP"],
  [IOMMU_OPTION, "IOMMU_OPTION"],
  [IOMMU_VFIO_IOAS, "IOMMU_VFIO_IOAS"],
  [IOMMU_HWPT_ALLOC, "IOMMU_HWPT_ALLOC"],
  [IOMMU_GET_HW_INFO, "IOMMU_GET_HW_INFO"],
  [IOMMU_HWPT_SET_DIRTY_TRACKING, "IOMMU_HWPT_SET_DIRTY_TRACKING"],
  [IOMMU_HWPT_GET_DIRTY_BITMAP, "IOMMU_HWPT_GET_DIRTY_BITMAP"],
  [IOMMU_HWPT_INVALIDATE, "IOMMU_HWPT_INVALIDATE"],
  [IOMMU_FAULT_QUEUE_ALLOC, "IOMMU_FAULT_QUEUE_ALLOC"],
  [IOMMU_IOAS_MAP_FILE, "IOMMU_IOAS_MAP_FILE"],
  [IOMMU_VIOMMU_ALLOC, "IOMMU_VIOMMU_ALLOC"],
  [IOMMU_VDEVICE_ALLOC, "IOMMU_VDEVICE_ALLOC"],
  [IOMMU_IOAS_CHANGE_PROCESS, "IOMMU_IOAS_CHANGE_PROCESS"],
  [IOMMU_VEVENTQ_ALLOC, "IOMMU_VEVENTQ_ALLOC"],
  [IOMMU_HW_QUEUE_ALLOC, "IOMMU_HW_QUEUE_ALLOC"],
]);

const BY_NAME = new Map<string, number>([...IOCTL_NAMES].map(([n, name]) => [name, n]));

/** The ioctl's name for reports, or `_IO('<c>',0x<nr>)` for an unknown number (the vectors' spelling). */
export function ioctlName(request: number): string {
  const known = IOCTL_NAMES.get(request);
  if (known !== undefined) return known;
  const type = ioctlType(request);
  const c = type >= 0x20 && type < 0x7f ? String.fromCharCode(type) : `\\x${type.toString(16)}`;
  return `_IO('${c}',0x${ioctlNr(request).toString(16)})`;
}

/** Number of a named ioctl; also parses the `_IO(';',0xff)` spelling. Undefined for unknown names. */
export function ioctlByName(name: string): number | undefined {
  const known = BY_NAME.get(name);
  if (known !== undefined) return known;
  const m = /^_IO\('(.)',\s*(0x[0-9a-fA-F]+|\d+)\)$/.exec(name);
  if (!m) return undefined;
  return _IO(m[1]!.charCodeAt(0), Number(m[2]));
}

// ---- VFIO extension ids (CHECK_EXTENSION / SET_IOMMU argument) ----
export const VFIO_API_VERSION = 0;
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_SPAPR_TCE_IOMMU = 2;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_DMA_CC_IOMMU = 4;
export const VFIO_EEH = 5;
/** Retired; the id stays reserved. */
export const VFIO_TYPE1_NESTING_IOMMU = 6;
export const VFIO_SPAPR_TCE_v2_IOMMU = 7;
export const VFIO_NOIOMMU_IOMMU = 8;
export const VFIO_UNMAP_ALL = 9;
export const VFIO_UPDATE_VADDR = 10;

export const VFIO_EXTENSION_NAMES: ReadonlyMap<number, string> = new Map([
  [VFIO_TYPE1_IOMMU, "VFIO_TYPE1_IOMMU"],
  [VFIO_SPAPR_TCE_IOMMU, "VFIO_SPAPR_TCE_IOMMU"],
  [VFIO_TYPE1v2_IOMMU, "VFIO_TYPE1v2_IOMMU"],
  [VFIO_DMA_CC_IOMMU, "VFIO_DMA_CC_IOMMU"],
  [VFIO_EEH, "VFIO_EEH"],
  [VFIO_TYPE1_NESTING_IOMMU, "VFIO_TYPE1_NESTING_IOMMU"],
  [VFIO_SPAPR_TCE_v2_IOMMU, "VFIO_SPAPR_TCE_v2_IOMMU"],
  [VFIO_NOIOMMU_IOMMU, "VFIO_NOIOMMU_IOMMU"],
  [VFIO_UNMAP_ALL, "VFIO_UNMAP_ALL"],
  [VFIO_UPDATE_VADDR, "VFIO_UPDATE_VADDR"],
]);

// ---- VFIO flags ----
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;

/** Capability ids of VFIO_IOMMU_GET_INFO's chain. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
export const VFIO_IOMMU_CAP_NAMES: ReadonlyMap<number, string> = new Map([
  [VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, "IOVA_RANGE"],
  [VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, "MIGRATION"],
  [VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, "DMA_AVAIL"],
]);

export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;

export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

export const VFIO_IOMMU_DIRTY_PAGES_FLAG_START = 1 << 0;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP = 1 << 1;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP = 1 << 2;

/** type1's MIGRATION cap: largest bitmap GET_BITMAP accepts (256 MiB). */
export const DIRTY_BITMAP_SIZE_MAX = 1n << 28n;

export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;

export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
/** vfio-pci places region `index` at file offset `index << 40`. */
export const VFIO_PCI_OFFSET_SHIFT = 40n;

export const VFIO_DEVICE_BIND_FLAG_TOKEN = 1 << 0;
export const VFIO_DEVICE_ATTACH_PASID = 1 << 0;
export const VFIO_DEVICE_DETACH_PASID = 1 << 0;

// ---- iommufd flags and enums ----
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;

export const IOMMU_OPTION_RLIMIT_MODE = 0;
export const IOMMU_OPTION_HUGE_PAGES = 1;
export const IOMMU_OPTION_OP_SET = 0;
export const IOMMU_OPTION_OP_GET = 1;

export const IOMMU_VFIO_IOAS_GET = 0;
export const IOMMU_VFIO_IOAS_SET = 1;
export const IOMMU_VFIO_IOAS_CLEAR = 2;

export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0;
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1;
export const IOMMU_HWPT_FAULT_ID_VALID = 1 << 2;
export const IOMMU_HWPT_ALLOC_PASID = 1 << 3;

export const IOMMU_HWPT_DATA_NONE = 0;
export const IOMMU_HWPT_DATA_VTD_S1 = 1;

export const IOMMU_HW_INFO_TYPE_NONE = 0;
export const IOMMU_HW_INFO_TYPE_INTEL_VTD = 1;
export const IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2;
export const IOMMU_HW_CAP_DIRTY_TRACKING = 1n << 0n;
/** `struct iommu_hw_info_vtd` flag: the IOMMU has the ERRATA_772415_SPR17 erratum. */
export const IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0;

export const IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1 << 0;
export const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1 << 0;
