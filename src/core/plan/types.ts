/**
 * Guest-memory planner: the data it works on and answers with.
 *
 * Terms:
 *   GPA        guest physical address. QEMU (legacy container and iommufd backend) and rust-vmm VMMs
 *              map every guest RAM block at IOVA = GPA (semantics.md §4, consumer notes), so a RAM
 *              region is also the IOVA range of one VFIO_IOMMU_MAP_DMA / IOMMU_IOAS_MAP call.
 *   region     one contiguous block of guest RAM, `start`/`last` inclusive like every range here.
 *   window     a fixed non-RAM part of the machine's GPA map (PCI hole, interrupt window…), shown
 *              for orientation only; the IOMMU never sees it.
 *   usable     type1's valid-IOVA list for the selected groups (core/topology/usable.ts).
 */

import type { IovaRange } from "../ranges.js";
import type { ReservedRegion } from "../topology/types.js";

export type MachineId = "q35" | "i440fx" | "arm-virt" | "cloud-hypervisor";
export type FixupMode = "none" | "qemu" | "split";
export type CpuVendor = "intel" | "amd" | "arm";

/** Bad planner input (size, machine, selection): the CLI turns it into exit code 2. */
export class PlanInputError extends Error {
  override readonly name = "PlanInputError";
}

export interface RamRegion extends IovaRange {
  /** VMM name of the block ("ram-below-4g", "mach-virt.ram", …); split pieces get a suffix. */
  readonly name: string;
}

export interface MachineWindow extends IovaRange {
  readonly name: string;
}

export interface Layout {
  readonly regions: readonly RamRegion[];
  readonly windows: readonly MachineWindow[];
}

/** Why a RAM region cannot be mapped where it is. */
export type Conflict =
  | {
      readonly kind: "reserved";
      readonly group: number;
      readonly devices: readonly string[];
      readonly region: ReservedRegion;
      /** The bytes of the RAM region inside the reserved region. */
      readonly overlap: IovaRange;
    }
  | {
      readonly kind: "aperture";
      readonly iommu: string;
      readonly aperture: IovaRange;
      /** The bytes of the RAM region outside the aperture. */
      readonly overlap: IovaRange;
    }
  | {
      readonly kind: "alignment";
      /** Smallest IOMMU page of the context: iova and size must be multiples of it. */
      readonly alignment: bigint;
    };

export interface RegionCheck extends RamRegion {
  readonly size: bigint;
  readonly mappable: boolean;
  /** The one usable range that contains the whole region (type1's MAP_DMA rule), when mappable. */
  readonly within: IovaRange | null;
  readonly conflicts: readonly Conflict[];
  /** What MAP_DMA (and IOMMU_IOAS_MAP) would answer: null when it would succeed. */
  readonly errno: "EINVAL" | null;
}

export type FixupKind = "amd-ht-relocation" | "shrink-lowmem" | "split";

export interface Fixup {
  readonly kind: FixupKind;
  /** The region as it was, and what replaced it. */
  readonly before: readonly RamRegion[];
  readonly after: readonly RamRegion[];
  /** The rule that triggered it. */
  readonly reason: string;
  /** How to obtain this layout from the VMM, or that it cannot. */
  readonly how: string;
}

export interface ApertureTooSmall {
  readonly iommus: readonly string[];
  /** Highest IOVA the domain(s) can translate. */
  readonly apertureLast: bigint;
  /** Highest GPA of guest RAM. */
  readonly ramLast: bigint;
  /** Address bits the RAM needs (log2 of ramLast + 1, rounded up). */
  readonly bitsNeeded: number;
}

export interface HotplugConflict {
  readonly kind: "aperture" | "reserved";
  /** The existing mapping (a RAM region of the plan). */
  readonly mapping: RamRegion;
  /** aperture: the new domain's aperture; reserved: the reserved region. */
  readonly range: IovaRange;
  readonly region?: ReservedRegion;
  readonly iommu?: string;
  readonly overlap: IovaRange | null;
}

export interface HotplugVerdict {
  readonly accepted: boolean;
  readonly errno: "EINVAL" | "EADDRINUSE" | null;
  /** Where the kernel refuses it. */
  readonly where: string | null;
  readonly conflicts: readonly HotplugConflict[];
}

export interface HotplugCheck {
  readonly device: string;
  readonly group: number;
  readonly iommus: readonly string[];
  readonly aperture: IovaRange | null;
  /** SET_CONTAINER / SET_IOMMU on the existing type1 container (group regions). */
  readonly type1: HotplugVerdict;
  /** Device attach to the existing IOAS (the device's own regions). */
  readonly iommufd: HotplugVerdict;
  /** type1's valid list after the attach, when it would succeed. */
  readonly usableAfter: readonly IovaRange[];
  readonly notes: readonly string[];
}

export interface Plan {
  readonly machine: MachineId;
  readonly machineName: string;
  readonly ram: bigint;
  readonly fixupMode: FixupMode;
  readonly cpuVendor: CpuVendor;
  readonly groups: readonly number[];
  readonly iommus: readonly string[];
  readonly aperture: IovaRange | null;
  readonly usable: readonly IovaRange[];
  readonly alignment: bigint;
  /** The machine's layout before any fixup, checked. */
  readonly initial: readonly RegionCheck[];
  readonly fixups: readonly Fixup[];
  /** The final layout, checked. */
  readonly regions: readonly RegionCheck[];
  readonly windows: readonly MachineWindow[];
  readonly apertureTooSmall: ApertureTooSmall | null;
  /** Every final region can be mapped at IOVA = GPA. */
  readonly mappable: boolean;
  readonly hotplug: HotplugCheck | null;
  readonly notes: readonly string[];
}
