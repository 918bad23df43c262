/**
 * Machine models as data: where each VMM puts guest RAM, and the fixed non-RAM windows around it.
 *
 * Every fact names its source. "inferred" marks what was not read in the VMM's code itself.
 *
 *   QEMU q35      hw/i386/pc_q35.c `pc_q35_init`: lowmem = 0x80000000 (2 GiB) when ram ≥ 0xb0000000
 *                 (2.75 GiB), else 0xb0000000; lowmem = min(lowmem, max-ram-below-4g); then
 *                 below_4g = ram ≥ lowmem ? lowmem : ram, the rest ("ram-above-4g") at 4 GiB.
 *                 64-bit PCI hole: hw/pci-host/q35.c Q35_PCI_HOST_HOLE64_SIZE_DEFAULT = 1 << 35 (32 GiB).
 *   QEMU i440fx   hw/i386/pc_piix.c `pc_init1`: max-ram-below-4g defaults to 0xe0000000 (3.5 GiB); when
 *                 ram ≥ that, lowmem is capped at 0xc0000000 (3 GiB, `gigabyte_align` machine types);
 *                 below_4g as for q35. 32-bit PCI hole [below_4g, IO_APIC_DEFAULT_ADDRESS - 1]
 *                 (hw/pci-host/i440fx.c). 64-bit PCI hole I440FX_PCI_HOST_HOLE64_SIZE_DEFAULT = 2 GiB.
 *   QEMU x86      hw/i386/pc.c: IOAPIC at 0xfec00000, LAPIC at 0xfee00000 (x86 MSI window
 *                 0xfee00000..0xfeefffff); the 64-bit PCI hole starts at ROUND_UP(end of
 *                 ram-above-4g, 1 GiB) (`pc_pci_hole64_start`, no hotplug memory, no CXL).
 *   QEMU arm virt hw/arm/virt.c `base_memmap`: VIRT_MEM at 1 GiB (0x40000000), contiguous (since 4.0
 *                 RAM may run past the legacy 255 GiB: the high IO regions float above it); flash
 *                 [0, 128 MiB), GIC and its ITS at 0x08000000.., PCIe MMIO 0x10000000..0x3efeffff,
 *                 PIO 0x3eff0000, ECAM 0x3f000000..0x3fffffff.
 *   cloud-hyp.    arch/src/x86_64/layout.rs + `arch_memory_regions` (arch/src/x86_64/mod.rs): RAM
 *                 regions [0, 3 GiB) and [4 GiB, ∞); MEM_32BIT_RESERVED_START 0xc0000000 (640 MiB
 *                 of 32-bit devices, then 256 MiB PCI MMCONFIG), IOAPIC 0xfec00000, APIC 0xfee00000.
 *                 That guest RAM fills the low region first, up to 3 GiB, is inferred from the order
 *                 of `arch_memory_regions` (the memory manager's fill loop was not read).
 */

import { alignUp } from "../u64.js";
import type { MachineId, MachineWindow, RamRegion } from "./types.js";
import { PlanInputError } from "./types.js";

export const MiB = 1n << 20n;
export const GiB = 1n << 30n;
export const FOUR_GIB = 4n * GiB;

/** x86 interrupt window: LAPIC at 0xfee00000 and the MSI address range up to 0xfeefffff. */
const X86_LAPIC_MSI: MachineWindow = { name: "LAPIC / MSI window", start: 0xfee00000n, last: 0xfeefffffn };

export type RamRule =
  | {
      readonly kind: "x86-split";
      /** The machine's lowmem limit for `ram` bytes (before max-ram-below-4g). */
      readonly lowmem: (ram: bigint) => bigint;
      readonly lowName: string;
      readonly highName: string;
    }
  | { readonly kind: "contiguous"; readonly base: bigint; readonly name: string };

export interface MachineModel {
  readonly id: MachineId;
  readonly name: string;
  readonly arch: "x86_64" | "aarch64";
  readonly vmm: "qemu" | "cloud-hypervisor";
  readonly ram: RamRule;
  /** Size of the 64-bit PCI hole QEMU places after RAM; feeds the AMD HT relocation trigger. */
  readonly pciHole64Size: bigint | null;
  /** QEMU ≥ 7.1 (`enforce_amd_1tb_hole`) moves ram-above-4g to 1 TiB on AMD vCPUs. */
  readonly amdHtRelocation: boolean;
  /** How a user lowers the RAM below 4 GiB on this VMM; null when it has no such option. */
  readonly lowmemOption: ((bytes: bigint) => string) | null;
  /** Fixed non-RAM windows for a given RAM layout. */
  readonly windows: (regions: readonly RamRegion[]) => MachineWindow[];
}

function sizeArg(bytes: bigint): string {
  return bytes % MiB === 0n ? `${bytes / MiB}M` : `${bytes}`;
}

/** The 64-bit PCI hole QEMU x86 puts after RAM (`pc_pci_hole64_start`). */
export function pciHole64(regions: readonly RamRegion[], size: bigint): MachineWindow {
  const high = regions.filter((r) => r.start >= FOUR_GIB);
  const end = high.length > 0 ? high[high.length - 1]!.last + 1n : FOUR_GIB;
  const start = alignUp(end, GiB);
  return { name: "64-bit PCI hole", start, last: start + size - 1n };
}

function qemuX86Windows(hole64: bigint) {
  return (regions: readonly RamRegion[]): MachineWindow[] => {
    const lowEnd = regions.find((r) => r.start === 0n)?.last ?? -1n;
    return [
      { name: "32-bit PCI hole", start: lowEnd + 1n, last: 0xfebfffffn },
      { name: "IOAPIC", start: 0xfec00000n, last: 0xfec00fffn },
      X86_LAPIC_MSI,
      pciHole64(regions, hole64),
    ];
  };
}

const MACHINES: Readonly<Record<MachineId, MachineModel>> = {
  q35: {
    id: "q35",
    name: "QEMU x86 q35",
    arch: "x86_64",
    vmm: "qemu",
    // pc_q35_init: split at 2 GiB once RAM reaches 2.75 GiB (gigabyte-aligned split), else 2.75 GiB.
    ram: {
      kind: "x86-split",
      lowmem: (ram) => (ram >= 0xb0000000n ? 0x80000000n : 0xb0000000n),
      lowName: "ram-below-4g",
      highName: "ram-above-4g",
    },
    pciHole64Size: 32n * GiB,
    amdHtRelocation: true,
    lowmemOption: (b) => `-machine q35,max-ram-below-4g=${sizeArg(b)}`,
    windows: qemuX86Windows(32n * GiB),
  },
  i440fx: {
    id: "i440fx",
    name: "QEMU x86 i440fx (pc)",
    arch: "x86_64",
    vmm: "qemu",
    // pc_init1: lowmem 3.5 GiB (max-ram-below-4g default); 3 GiB once RAM reaches 3.5 GiB.
    ram: {
      kind: "x86-split",
      lowmem: (ram) => (ram >= 0xe0000000n ? 0xc0000000n : 0xe0000000n),
      lowName: "ram-below-4g",
      highName: "ram-above-4g",
    },
    pciHole64Size: 2n * GiB,
    amdHtRelocation: true,
    lowmemOption: (b) => `-machine pc,max-ram-below-4g=${sizeArg(b)}`,
    windows: qemuX86Windows(2n * GiB),
  },
  "arm-virt": {
    id: "arm-virt",
    name: "QEMU arm64 virt",
    arch: "aarch64",
    vmm: "qemu",
    ram: { kind: "contiguous", base: GiB, name: "mach-virt.ram" },
    pciHole64Size: null,
    amdHtRelocation: false,
    lowmemOption: null,
    windows: () => [
      { name: "flash", start: 0n, last: 0x07ffffffn },
      { name: "GIC (dist, CPU, v2m, ITS, redistributors)", start: 0x08000000n, last: 0x08ffffffn },
      { name: "GIC ITS (MSI doorbell)", start: 0x08080000n, last: 0x0809ffffn },
      {
        name: "platform devices (UART, RTC, fw_cfg, SMMU, virtio-mmio…)",
        start: 0x09000000n,
        last: 0x0effffffn,
      },
      { name: "PCIe MMIO (32-bit)", start: 0x10000000n, last: 0x3efeffffn },
      { name: "PCIe PIO", start: 0x3eff0000n, last: 0x3effffffn },
      { name: "PCIe ECAM", start: 0x3f000000n, last: 0x3fffffffn },
    ],
  },
  "cloud-hypervisor": {
    id: "cloud-hypervisor",
    name: "cloud-hypervisor x86_64",
    arch: "x86_64",
    vmm: "cloud-hypervisor",
    // layout.rs: MEM_32BIT_RESERVED_START = 3 GiB; RAM_64BIT_START = 4 GiB.
    ram: { kind: "x86-split", lowmem: () => 0xc0000000n, lowName: "ram-0", highName: "ram-1" },
    pciHole64Size: null,
    amdHtRelocation: false,
    lowmemOption: null,
    windows: () => [
      { name: "32-bit PCI devices", start: 0xc0000000n, last: 0xe7ffffffn },
      { name: "PCI MMCONFIG", start: 0xe8000000n, last: 0xf7ffffffn },
      { name: "IOAPIC", start: 0xfec00000n, last: 0xfec0001fn },
      X86_LAPIC_MSI,
    ],
  },
};

export const MACHINE_IDS = Object.keys(MACHINES) as MachineId[];

export function machineById(id: string): MachineModel {
  const m = (MACHINES as Readonly<Record<string, MachineModel>>)[id];
  if (!m) throw new PlanInputError(`unknown machine "${id}" (known: ${MACHINE_IDS.join(", ")})`);
  return m;
}

export interface LayoutOptions {
  /** max-ram-below-4g: lowmem = min(machine rule, this) (pc_q35_init's "min(qemu limit, user limit)"). */
  readonly lowmemLimit?: bigint;
  /** Where ram-above-4g starts (4 GiB; 1 TiB after the AMD HT relocation). */
  readonly highStart?: bigint;
}

/** The RAM blocks of `ram` bytes on this machine, before any fixup. */
export function machineRegions(m: MachineModel, ram: bigint, opts: LayoutOptions = {}): RamRegion[] {
  const rule = m.ram;
  const out: RamRegion[] = [];
  if (rule.kind === "contiguous") {
    out.push({ name: rule.name, start: rule.base, last: rule.base + ram - 1n });
  } else {
    let lowmem = rule.lowmem(ram);
    if (opts.lowmemLimit !== undefined && opts.lowmemLimit < lowmem) lowmem = opts.lowmemLimit;
    const below = ram >= lowmem ? lowmem : ram;
    const above = ram - below;
    if (below > 0n) out.push({ name: rule.lowName, start: 0n, last: below - 1n });
    if (above > 0n) {
      const start = opts.highStart ?? FOUR_GIB;
      out.push({ name: rule.highName, start, last: start + above - 1n });
    }
  }
  for (const r of out) {
    if (r.last >= 1n << 64n) {
      throw new PlanInputError(`${m.name}: ${r.name} would end beyond the 64-bit guest physical space`);
    }
  }
  return out;
}
