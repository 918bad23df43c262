/**
 * The host model: IOMMU units, PCI devices, IOMMU groups, reserved regions, module parameters.
 *
 * A `Host` is plain data (bigints included) so presets, the sysfs reader, snapshots and trace
 * replays all produce the same thing and the engine reads only this.
 */

import type { IovaRange } from "../ranges.js";

export type IommuKind = "intel-vtd" | "amd-vi" | "arm-smmu-v3" | "virtio-iommu" | "s390" | "none";

/**
 * Kernel reserved-region types, in `enum iommu_resv_type` order. `sw-msi` prints as `msi` in sysfs;
 * `msiAmbiguous` on a region read from sysfs records that the two could not be told apart.
 */
export type ReservedType = "direct" | "direct-relaxable" | "reserved" | "msi" | "sw-msi";

export const RESERVED_TYPE_ORDER: readonly ReservedType[] = [
  "direct",
  "direct-relaxable",
  "reserved",
  "msi",
  "sw-msi",
];

export interface ReservedRegion extends IovaRange {
  readonly type: ReservedType;
  /** Where the region comes from ("x86 interrupt window", "ACPI RMRR", "sysfs group 1"...). */
  readonly source?: string;
  /** Read from sysfs as `msi`: could be a hardware or a software MSI window. */
  readonly msiAmbiguous?: boolean;
}

export interface VtdRegisters {
  readonly capReg: bigint;
  readonly ecapReg: bigint;
}

export interface IommuUnit {
  /** sysfs name under /sys/class/iommu ("dmar0", "0000:00:03.0", "smmu3.0x..."). */
  readonly name: string;
  readonly kind: IommuKind;
  /** Input address width of the DMA domain, in bits (64 for a full-width aperture). */
  readonly addressWidth: number;
  /** DMA domain aperture, inclusive. */
  readonly aperture: IovaRange;
  /** IOMMU page sizes the domain supports (bit n = 2^n bytes). */
  readonly pgsizeBitmap: bigint;
  /** Domains can enforce cache coherency (block no-snoop). */
  readonly enforceCacheCoherency: boolean;
  /** Hardware dirty tracking (VT-d scalable mode SLADS, AMD HAD, SMMUv3 HTTU). */
  readonly dirtyTracking: boolean;
  /** MSIs are isolated (interrupt remapping on x86, ITS on ARM). */
  readonly msiIsolation: boolean;
  /**
   * Domains of two units can be shared only when their drivers match (same `driver` and same
   * coherency): type1 domain reuse and iommufd auto-HWPT reuse both follow this.
   */
  readonly driver: string;
  /** GET_HW_INFO payload: VT-d registers, when the unit is VT-d. */
  readonly vtd?: VtdRegisters;
  /**
   * A domain gets its geometry only at its first attach (virtio-iommu on 6.12): a domain added to an
   * IOAS before any attach has an all-zero aperture.
   */
  readonly apertureAtFirstAttach?: boolean;
}

export interface PciDevice {
  /** Full BDF, "0000:00:04.0". */
  readonly bdf: string;
  readonly vendor: number;
  readonly device: number;
  readonly class: number;
  /** Bound driver name, or null when unbound. */
  readonly driver: string | null;
  /** IOMMU group number, or null when the device has no group (no IOMMU). */
  readonly group: number | null;
  /** Name of the IOMMU unit translating this device, or null. */
  readonly iommu: string | null;
  /**
   * This device's own reserved regions (iommufd uses these). When read from sysfs only the group
   * union is known, so each device carries the group's list.
   */
  readonly reservedRegions: readonly ReservedRegion[];
  /** VFIO device cdev path (/dev/vfio/devices/vfioN) when the device is bound to vfio-pci on 6.6+. */
  readonly cdev?: string;
  /** Emulated (mdev-style) device: pins through an access instead of owning a domain. */
  readonly emulated?: boolean;
}

export interface IommuGroup {
  readonly id: number;
  /** sysfs `type`: DMA, DMA-FQ, identity, blocked, unmanaged. */
  readonly type: string;
  /** BDFs of the member devices. */
  readonly devices: readonly string[];
  /** The group-wide reserved regions as sysfs reports them (type1 uses these). */
  readonly reservedRegions: readonly ReservedRegion[];
}

export interface HostParams {
  /** Kernel release, e.g. "6.12.107" or "6.1.0-56-amd64". */
  readonly kernelRelease: string;
  /** CPU page size. */
  readonly pageSize: bigint;
  /** Transparent huge page size (caps automatic IOVA alignment), or pageSize without THP. */
  readonly thpSize: bigint;
  readonly type1: {
    readonly dmaEntryLimit: number;
    readonly allowUnsafeInterrupts: boolean;
    readonly disableHugepages: boolean;
  };
  /** iommufd module parameters; null when the kernel has no iommufd. */
  readonly iommufd: { readonly allowUnsafeInterrupts: boolean } | null;
  /** The VFIO device cdev (/dev/vfio/devices) exists. */
  readonly vfioDeviceCdev: boolean;
  /** VFIO no-IOMMU support is built in. */
  readonly noiommu: boolean;
}

export interface Host {
  /** Human name ("preset intel-vtd-48", "sysfs /", "trace iommufd"). */
  readonly name: string;
  readonly description?: string;
  readonly params: HostParams;
  readonly iommus: readonly IommuUnit[];
  readonly devices: readonly PciDevice[];
  readonly groups: readonly IommuGroup[];
}
