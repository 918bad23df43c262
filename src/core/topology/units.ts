/**
 * IOMMU units and the reserved regions their drivers report, per kind.
 *
 * Presets, the sysfs reader and the dump parser all build units here so one fact has one source.
 * Facts follow docs semantics.md §2.13 (reserved regions) and the drivers' domain geometry:
 *   VT-d     drivers/iommu/intel/iommu.c: aperture [0, 2^gaw-1], pgsizes from cap SLLPS,
 *            every device gets `msi` [0xfee00000, 0xfeefffff], ISA bridges the floppy
 *            `direct-relaxable` [0, 16 MiB) (CONFIG_INTEL_IOMMU_FLOPPY_WA).
 *   AMD-Vi   drivers/iommu/amd/iommu.c: v1 page table aperture [0, 2^64-1] (`dma_max_address`),
 *            AMD_IOMMU_PGSIZES = every power of two from 4 KiB except 512 GiB; `msi` window plus the
 *            HyperTransport hole `reserved` [0xfd00000000, 0xffffffffff]; v2 (first-stage) tables
 *            are 48-bit with 4K|2M|1G.
 *   SMMUv3   drivers/iommu/arm/arm-smmu-v3: `sw-msi` [0x8000000, 0x80fffff] (MSI_IOVA_BASE/LENGTH),
 *            stage-1 48-bit input, pgsizes per granule (4K: 4K|2M|1G, 16K: 16K|32M, 64K: 64K|512M).
 *   virtio   drivers/iommu/virtio-iommu.c: geometry from the device's input range (QEMU: 64 bits),
 *            page mask 0xfffffffffffff000; MSI region as the device announces it (QEMU x86: the APIC
 *            window as `msi`).
 */

import { U64_MAX } from "../u64.js";
import type { IommuUnit, ReservedRegion } from "./types.js";
import {
  apertureLast,
  vtdAddressWidth,
  vtdDirtyTracking,
  vtdInterruptRemapping,
  vtdPgsizeBitmap,
  vtdSnoopControl,
} from "./vtd.js";

export const PGSIZES_4K_2M_1G = 0x40201000n;
export const PGSIZES_16K_32M = (1n << 14n) | (1n << 25n);
export const PGSIZES_64K_512M = (1n << 16n) | (1n << 29n);
/** Every power of two from 4 KiB: virtio-iommu's page mask under QEMU. */
export const PGSIZES_ALL_FROM_4K = 0xfffffffffffff000n;
/** AMD_IOMMU_PGSIZES: every power of two from 4 KiB, minus 512 GiB (no such v1 level). */
export const PGSIZES_AMD_V1 = PGSIZES_ALL_FROM_4K & ~(1n << 39n);

/** x86 interrupt window (IOAPIC/MSI address range), hardware-decoded: `msi` on VT-d, AMD, virtio. */
export const X86_MSI_WINDOW = { start: 0xfee00000n, last: 0xfeefffffn } as const;
/** AMD HyperTransport reserved window just below 1 TiB. */
export const AMD_HT_HOLE = { start: 0xfd00000000n, last: 0xffffffffffn } as const;
/** ARM software MSI window: MSI_IOVA_BASE 0x8000000, MSI_IOVA_LENGTH 0x100000. */
export const ARM_SW_MSI_WINDOW = { start: 0x8000000n, last: 0x80fffffn } as const;
/** The ISA floppy workaround region of VT-d: [0, 16 MiB). */
export const VTD_FLOPPY_WINDOW = { start: 0n, last: 0xffffffn } as const;

export const PCI_CLASS_BRIDGE_ISA = 0x0601;

export function vtdUnit(name: string, cap: bigint, ecap: bigint): IommuUnit {
  const width = vtdAddressWidth(cap);
  return {
    name,
    kind: "intel-vtd",
    addressWidth: width,
    aperture: { start: 0n, last: apertureLast(width) },
    pgsizeBitmap: vtdPgsizeBitmap(cap),
    enforceCacheCoherency: vtdSnoopControl(ecap),
    dirtyTracking: vtdDirtyTracking(ecap),
    msiIsolation: vtdInterruptRemapping(ecap),
    driver: "intel-iommu",
    vtd: { capReg: cap, ecapReg: ecap },
  };
}

export interface AmdUnitOptions {
  /** v1 (host) page table, the default, or v2 (first-stage, 48-bit). */
  readonly pageTable?: "v1" | "v2";
  readonly interruptRemapping?: boolean;
  readonly dirtyTracking?: boolean;
}

export function amdUnit(name: string, opts: AmdUnitOptions = {}): IommuUnit {
  const v2 = opts.pageTable === "v2";
  return {
    name,
    kind: "amd-vi",
    addressWidth: v2 ? 48 : 64,
    aperture: { start: 0n, last: v2 ? apertureLast(48) : U64_MAX },
    pgsizeBitmap: v2 ? PGSIZES_4K_2M_1G : PGSIZES_AMD_V1,
    // amd_iommu_capable(IOMMU_CAP_ENFORCE_COHERENCY) is unconditionally true.
    enforceCacheCoherency: true,
    dirtyTracking: opts.dirtyTracking ?? false,
    msiIsolation: opts.interruptRemapping ?? true,
    driver: "amd-iommu",
  };
}

export type SmmuGranule = "4k" | "16k" | "64k";

export interface SmmuUnitOptions {
  readonly granule?: SmmuGranule;
  readonly addressWidth?: number;
  /** GICv3 ITS isolates MSIs (IRQ_DOMAIN_FLAG_ISOLATED_MSI); false without an ITS. */
  readonly msiIsolation?: boolean;
  /** Hardware dirty-bit management (HTTU). */
  readonly dirtyTracking?: boolean;
  /** All masters are coherent and can enforce it (CANWBS). */
  readonly enforceCacheCoherency?: boolean;
}

const SMMU_PGSIZES: Record<SmmuGranule, bigint> = {
  "4k": PGSIZES_4K_2M_1G,
  "16k": PGSIZES_16K_32M,
  "64k": PGSIZES_64K_512M,
};

export function smmuUnit(name: string, opts: SmmuUnitOptions = {}): IommuUnit {
  const width = opts.addressWidth ?? 48;
  return {
    name,
    kind: "arm-smmu-v3",
    addressWidth: width,
    aperture: { start: 0n, last: apertureLast(width) },
    pgsizeBitmap: SMMU_PGSIZES[opts.granule ?? "4k"],
    enforceCacheCoherency: opts.enforceCacheCoherency ?? false,
    dirtyTracking: opts.dirtyTracking ?? false,
    msiIsolation: opts.msiIsolation ?? true,
    driver: "arm-smmu-v3",
  };
}

export function virtioUnit(name: string, opts: { inputWidth?: number } = {}): IommuUnit {
  const width = opts.inputWidth ?? 64;
  return {
    name,
    kind: "virtio-iommu",
    addressWidth: width,
    aperture: { start: 0n, last: apertureLast(width) },
    pgsizeBitmap: PGSIZES_ALL_FROM_4K,
    enforceCacheCoherency: false,
    dirtyTracking: false,
    // No interrupt remapping behind virtio-iommu on x86: MSIs are not isolated.
    msiIsolation: false,
    driver: "virtio-iommu",
    // 6.12: the domain gets its geometry only when first attached (FORMAT.md §2.1).
    apertureAtFirstAttach: true,
  };
}

/** The regions a device gets from its IOMMU driver (firmware regions such as RMRRs come on top). */
export function driverReservedRegions(unit: IommuUnit, pciClass: number): ReservedRegion[] {
  switch (unit.kind) {
    case "intel-vtd": {
      const out: ReservedRegion[] = [];
      if (pciClass >> 8 === PCI_CLASS_BRIDGE_ISA) {
        out.push({ ...VTD_FLOPPY_WINDOW, type: "direct-relaxable", source: "VT-d ISA floppy workaround" });
      }
      out.push({ ...X86_MSI_WINDOW, type: "msi", source: "x86 interrupt window" });
      return out;
    }
    case "amd-vi":
      return [
        { ...X86_MSI_WINDOW, type: "msi", source: "x86 interrupt window" },
        { ...AMD_HT_HOLE, type: "reserved", source: "AMD HyperTransport hole" },
      ];
    case "arm-smmu-v3":
      return [{ ...ARM_SW_MSI_WINDOW, type: "sw-msi", source: "ARM software MSI window" }];
    case "virtio-iommu":
      return [{ ...X86_MSI_WINDOW, type: "msi", source: "virtio-iommu PROBE MSI region" }];
    case "s390":
    case "none":
      return [];
  }
}
