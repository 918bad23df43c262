/**
 * Built-in hosts. Each preset is a function of options; `PRESETS` names the common settings.
 *
 * Sources of the facts: VT-d register values and the q35 topology come from the vectors' sysfs
 * dumps (/work/shared/vectors/*-sysfs.txt, FORMAT.md §2); per-kind geometry and reserved regions
 * from the kernel drivers (see units.ts); module parameter defaults from vfio_iommu_type1.c
 * (`dma_entry_limit` = U16_MAX, `allow_unsafe_interrupts` and `disable_hugepages` off) and
 * iommufd/main.c (`allow_unsafe_interrupts` off).
 */

import { kernelFeatures } from "../kernel.js";
import { mergeGroupRegions } from "./regions.js";
import type { Host, HostParams, IommuGroup, IommuUnit, PciDevice } from "./types.js";
import {
  amdUnit,
  driverReservedRegions,
  smmuUnit,
  virtioUnit,
  vtdUnit,
  type AmdUnitOptions,
  type SmmuUnitOptions,
} from "./units.js";
import { vtdCapFor, vtdEcapFor } from "./vtd.js";

export const DEFAULT_KERNEL_RELEASE = "6.12.107";

export interface ParamOptions {
  readonly kernelRelease?: string;
  readonly allowUnsafeInterrupts?: boolean;
  /** x86-64/arm64 4K-granule THP is 2 MiB (PMD size); 64K granule: 512 MiB. */
  readonly thpSize?: bigint;
  readonly pageSize?: bigint;
  readonly noiommu?: boolean;
}

export function presetParams(opts: ParamOptions = {}): HostParams {
  const release = opts.kernelRelease ?? DEFAULT_KERNEL_RELEASE;
  const features = kernelFeatures(release, true);
  const unsafe = opts.allowUnsafeInterrupts ?? false;
  return {
    kernelRelease: release,
    pageSize: opts.pageSize ?? 4096n,
    thpSize: opts.thpSize ?? 2n * 1024n * 1024n,
    // vfio_iommu_type1.c: dma_entry_limit defaults to U16_MAX.
    type1: { dmaEntryLimit: 65535, allowUnsafeInterrupts: unsafe, disableHugepages: false },
    iommufd: features.iommufd ? { allowUnsafeInterrupts: unsafe } : null,
    // VFIO device cdev: 6.6+ (semantics.md §0 timeline).
    vfioDeviceCdev: features.vfioCapsAligned,
    noiommu: opts.noiommu ?? false,
  };
}

/** A device on the host, before groups and regions are worked out. */
export interface DeviceSpec {
  readonly bdf: string;
  readonly vendor: number;
  readonly device: number;
  readonly class: number;
  readonly driver: string | null;
  readonly group: number | null;
  readonly iommu: string | null;
}

/**
 * Assemble a host: each grouped device gets its driver's reserved regions, each group the kernel's
 * union of its devices' regions, vfio-pci devices cdevs vfio0.. in BDF order when the kernel has them.
 */
export function assembleHost(
  name: string,
  description: string,
  params: HostParams,
  iommus: readonly IommuUnit[],
  specs: readonly DeviceSpec[],
  groupType = "DMA-FQ",
): Host {
  const units = new Map(iommus.map((u) => [u.name, u]));
  const sorted = [...specs].sort((a, b) => (a.bdf < b.bdf ? -1 : a.bdf > b.bdf ? 1 : 0));
  let cdev = 0;
  const devices: PciDevice[] = sorted.map((s) => {
    const unit = s.iommu === null ? undefined : units.get(s.iommu);
    const withCdev = params.vfioDeviceCdev && s.driver === "vfio-pci" && s.group !== null;
    return {
      ...s,
      reservedRegions: unit && s.group !== null ? driverReservedRegions(unit, s.class) : [],
      ...(withCdev ? { cdev: `/dev/vfio/devices/vfio${cdev++}` } : {}),
    };
  });
  const ids = [...new Set(devices.flatMap((d) => (d.group === null ? [] : [d.group])))].sort((a, b) => a - b);
  const groups: IommuGroup[] = ids.map((id) => {
    const members = devices.filter((d) => d.group === id);
    return {
      id,
      type: groupType,
      devices: members.map((d) => d.bdf),
      reservedRegions: mergeGroupRegions(members.map((d) => d.reservedRegions)),
    };
  });
  return { name, description, params, iommus, devices, groups };
}

// Device identities seen in the vectors' q35 guests (FORMAT.md §2).
const Q35_HOST_BRIDGE = { vendor: 0x8086, device: 0x29c0, class: 0x060000 };
const ICH9_LPC = { vendor: 0x8086, device: 0x2918, class: 0x060100 };
const ICH9_AHCI = { vendor: 0x8086, device: 0x2922, class: 0x010601 };
const ICH9_SMBUS = { vendor: 0x8086, device: 0x2930, class: 0x0c0500 };
const QEMU_EDU = { vendor: 0x1234, device: 0x11e8, class: 0x00ff00 };
const PCI_TESTDEV = { vendor: 0x1b36, device: 0x0005, class: 0x00ff00 };
const NVME = { vendor: 0x144d, device: 0xa808, class: 0x010802 };
const NIC = { vendor: 0x8086, device: 0x1533, class: 0x020000 };
const GPU = { vendor: 0x10de, device: 0x2204, class: 0x030000 };
const GPU_AUDIO = { vendor: 0x10de, device: 0x1aef, class: 0x040300 };

type Ident = { vendor: number; device: number; class: number };

function dev(bdf: string, id: Ident, driver: string | null, group: number | null, iommu: string | null) {
  return { bdf, ...id, driver, group, iommu };
}

/** A generic server-ish PCI layout behind one unit: two assignable devices, a GPU pair, a NIC. */
function genericDevices(iommu: string): DeviceSpec[] {
  return [
    dev("0000:00:00.0", Q35_HOST_BRIDGE, null, 0, iommu),
    dev("0000:01:00.0", NVME, "vfio-pci", 1, iommu),
    dev("0000:02:00.0", NIC, "vfio-pci", 2, iommu),
    dev("0000:03:00.0", GPU, "vfio-pci", 3, iommu),
    dev("0000:03:00.1", GPU_AUDIO, "snd_hda_intel", 3, iommu),
    dev("0000:04:00.0", NIC, "igb", 4, iommu),
  ];
}

export interface VtdHostOptions extends ParamOptions {
  /** aw-bits: 39 (client parts, QEMU default) or 48 (server parts); MGAW is derived from it. */
  readonly addressWidth?: number;
  readonly interruptRemapping?: boolean;
  readonly snoopControl?: boolean;
}

export function vtdHost(opts: VtdHostOptions = {}): Host {
  const width = opts.addressWidth ?? 48;
  const ir = opts.interruptRemapping ?? true;
  const unit = vtdUnit(
    "dmar0",
    vtdCapFor(width),
    vtdEcapFor({ interruptRemapping: ir, snoopControl: opts.snoopControl ?? false }),
  );
  return assembleHost(
    `preset intel-vtd-${width}${ir ? "" : "-noir"}`,
    `Intel VT-d, one unit, ${width}-bit, interrupt remapping ${ir ? "on" : "off"}`,
    presetParams(opts),
    [unit],
    genericDevices("dmar0"),
  );
}

/**
 * The reference guests of the vectors: QEMU q35 with `-device intel-iommu,intremap=on,aw-bits=39`,
 * edu at 00:04.0 and 00:05.0, pci-testdev at 00:06.0 (all vfio-pci), groups 0..4 exactly as the 6.12
 * iommufd-sysfs.txt dump lists them.
 */
export function qemuQ35VtdHost(opts: VtdHostOptions = {}): Host {
  const width = opts.addressWidth ?? 39;
  const ir = opts.interruptRemapping ?? true;
  const unit = vtdUnit("dmar0", vtdCapFor(width), vtdEcapFor({ interruptRemapping: ir }));
  const d = "dmar0";
  const params = presetParams(opts);
  // 6.1 leaves the ICH9 functions unbound in these guests; 6.12 binds ahci and i801_smbus.
  const bound = params.iommufd !== null;
  return assembleHost(
    "preset qemu-q35-vtd",
    `QEMU q35 + intel-iommu aw-bits=${width} intremap=${ir ? "on" : "off"}, the vectors' reference guest`,
    params,
    [unit],
    [
      dev("0000:00:00.0", Q35_HOST_BRIDGE, null, 0, d),
      dev("0000:00:04.0", QEMU_EDU, "vfio-pci", 1, d),
      dev("0000:00:05.0", QEMU_EDU, "vfio-pci", 2, d),
      dev("0000:00:06.0", PCI_TESTDEV, "vfio-pci", 3, d),
      dev("0000:00:1f.0", ICH9_LPC, null, 4, d),
      dev("0000:00:1f.2", ICH9_AHCI, bound ? "ahci" : null, 4, d),
      dev("0000:00:1f.3", ICH9_SMBUS, bound ? "i801_smbus" : null, 4, d),
    ],
  );
}

export function amdHost(opts: ParamOptions & AmdUnitOptions = {}): Host {
  const unit = amdUnit("ivhd0", opts);
  return assembleHost(
    "preset amd-vi",
    `AMD-Vi, one unit, ${opts.pageTable ?? "v1"} page table, HyperTransport hole reserved`,
    presetParams(opts),
    [unit],
    genericDevices("ivhd0"),
  );
}

export function smmuHost(opts: ParamOptions & SmmuUnitOptions = {}): Host {
  const granule = opts.granule ?? "4k";
  const name = "smmu3.0x0000000009050000";
  const thp = granule === "64k" ? 512n << 20n : granule === "16k" ? 32n << 20n : 2n << 20n;
  const page = granule === "64k" ? 65536n : granule === "16k" ? 16384n : 4096n;
  return assembleHost(
    `preset arm-smmu-v3${granule === "4k" ? "" : `-${granule}`}`,
    `ARM SMMUv3, ${granule.toUpperCase()} granule, ${opts.addressWidth ?? 48}-bit, sw-msi window at 128 MiB`,
    presetParams({ thpSize: thp, pageSize: page, ...opts }),
    [smmuUnit(name, opts)],
    genericDevices(name),
  );
}

export function virtioIommuHost(opts: ParamOptions = {}): Host {
  const name = "0000:00:03.0";
  return assembleHost(
    "preset virtio-iommu",
    "QEMU q35 + virtio-iommu-pci: 64-bit input range, every page size from 4 KiB, no interrupt remapping",
    presetParams(opts),
    [virtioUnit(name)],
    [
      dev("0000:00:04.0", QEMU_EDU, "vfio-pci", 1, name),
      dev("0000:00:05.0", QEMU_EDU, "vfio-pci", 2, name),
      dev("0000:00:06.0", PCI_TESTDEV, "vfio-pci", 3, name),
      dev("0000:00:1f.2", ICH9_AHCI, "ahci", 0, name),
      dev("0000:00:1f.3", ICH9_SMBUS, "i801_smbus", 0, name),
    ],
  );
}

/**
 * Two VT-d units whose domains cannot be shared: dmar0 (48-bit, snoop control) and dmar1 (39-bit,
 * no snoop control). type1 needs one domain per unit and the usable list is clipped to 39 bits.
 */
export function twoIommuHost(opts: ParamOptions = {}): Host {
  const a = vtdUnit("dmar0", vtdCapFor(48), vtdEcapFor({ interruptRemapping: true, snoopControl: true }));
  const b = vtdUnit("dmar1", vtdCapFor(39), vtdEcapFor({ interruptRemapping: true }));
  return assembleHost(
    "preset two-iommus",
    "two VT-d units that cannot share domains (48-bit coherent dmar0, 39-bit non-coherent dmar1)",
    presetParams(opts),
    [a, b],
    [
      dev("0000:00:00.0", Q35_HOST_BRIDGE, null, 0, "dmar0"),
      dev("0000:01:00.0", NVME, "vfio-pci", 1, "dmar0"),
      dev("0000:02:00.0", NIC, "vfio-pci", 2, "dmar0"),
      dev("0000:80:00.0", NVME, "vfio-pci", 3, "dmar1"),
      dev("0000:81:00.0", GPU, "vfio-pci", 4, "dmar1"),
      dev("0000:81:00.1", GPU_AUDIO, "vfio-pci", 4, "dmar1"),
    ],
  );
}

/** No IOMMU: devices have no groups; only VFIO no-IOMMU mode could drive them. */
export function noIommuHost(opts: ParamOptions = {}): Host {
  return assembleHost(
    "preset no-iommu",
    "no IOMMU enabled: no groups, no DMA isolation",
    presetParams({ noiommu: true, ...opts }),
    [],
    [
      dev("0000:00:00.0", Q35_HOST_BRIDGE, null, null, null),
      dev("0000:01:00.0", NVME, "nvme", null, null),
      dev("0000:02:00.0", NIC, "igb", null, null),
    ],
  );
}

export interface Preset {
  readonly description: string;
  build(): Host;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  "qemu-q35-vtd": {
    description: "the vectors' reference guest: q35, VT-d dmar0 aw 39, edu/edu/pci-testdev on vfio-pci",
    build: () => qemuQ35VtdHost(),
  },
  "intel-vtd-48": {
    description: "Intel VT-d, 48-bit (server parts)",
    build: () => vtdHost({ addressWidth: 48 }),
  },
  "intel-vtd-39": {
    description: "Intel VT-d, 39-bit (client parts)",
    build: () => vtdHost({ addressWidth: 39 }),
  },
  "intel-vtd-48-noir": {
    description: "Intel VT-d, 48-bit, interrupt remapping off",
    build: () => vtdHost({ addressWidth: 48, interruptRemapping: false }),
  },
  "amd-vi": { description: "AMD-Vi, v1 page table, HyperTransport hole reserved", build: () => amdHost() },
  "arm-smmu-v3": { description: "ARM SMMUv3, 4K granule, 48-bit, sw-msi window", build: () => smmuHost() },
  "arm-smmu-v3-64k": {
    description: "ARM SMMUv3, 64K granule (64K|512M pages), 48-bit",
    build: () => smmuHost({ granule: "64k" }),
  },
  "virtio-iommu": {
    description: "virtio-iommu: 64-bit aperture, all page sizes from 4K, no interrupt remapping",
    build: () => virtioIommuHost(),
  },
  "two-iommus": {
    description: "two VT-d units that cannot share a domain (coherency and width differ)",
    build: () => twoIommuHost(),
  },
  "no-iommu": { description: "no IOMMU: devices without groups", build: () => noIommuHost() },
};

export const DEFAULT_PRESET = "qemu-q35-vtd";

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}
