/**
 * `planGuestMemory`: the guest-physical layout a VMM would build for some RAM on some machine, and
 * whether VFIO could map it at IOVA = GPA for the selected devices (semantics.md §4 consumer notes:
 * QEMU and rust-vmm map every RAM block at IOVA = GPA and simply fail with EINVAL when a block meets
 * a reserved window or the aperture end; rust-vmm never even reads the valid ranges).
 *
 * The usable ranges and the cause of every gap come from `usableRanges` (type1's recipe, §2.1/§2.14).
 */

import type { Host } from "../topology/types.js";
import { usableRanges } from "../topology/usable.js";
import { apertureTooSmall, checkRegion, mappingAlignment } from "./check.js";
import { AMD_HT_LAST, AMD_HT_START, applyFixups } from "./fixups.js";
import { checkHotplug } from "./hotplug.js";
import { machineById, machineRegions } from "./machines.js";
import { PlanInputError, type CpuVendor, type FixupMode, type MachineWindow, type Plan } from "./types.js";

export interface PlanOptions {
  /** Guest RAM in bytes (see parseSize). */
  readonly ram: bigint;
  /** Default: arm-virt when the selection sits behind an ARM SMMU, else q35. */
  readonly machine?: string;
  /** Default "qemu": only what QEMU does by itself. */
  readonly fixup?: string;
  /** vCPU vendor for the AMD HT rule. Default: AMD when the selection sits behind AMD-Vi. */
  readonly cpuVendor?: CpuVendor;
  readonly groups?: readonly number[];
  readonly devices?: readonly string[];
  /** Re-check the final plan against this device being added. */
  readonly hotplug?: string;
}

export const FIXUP_MODES: readonly FixupMode[] = ["none", "qemu", "split"];

function fixupMode(text: string | undefined): FixupMode {
  const m = text ?? "qemu";
  if (!(FIXUP_MODES as readonly string[]).includes(m)) {
    throw new PlanInputError(`unknown fixup mode "${m}" (known: ${FIXUP_MODES.join(", ")})`);
  }
  return m as FixupMode;
}

export function planGuestMemory(host: Host, opts: PlanOptions): Plan {
  if (opts.ram <= 0n) throw new PlanInputError("RAM size must be greater than 0");
  const mode = fixupMode(opts.fixup);
  const u = usableRanges(host, { groups: opts.groups ?? [], devices: opts.devices ?? [] });
  const units = host.iommus.filter((x) => u.iommus.includes(x.name));
  const notes: string[] = [...u.notes];

  const arm = units.some((x) => x.kind === "arm-smmu-v3");
  const machineGiven = opts.machine !== undefined;
  const model = machineById(opts.machine ?? (arm ? "arm-virt" : "q35"));
  if (!machineGiven)
    notes.push(
      `machine ${model.id} assumed (${arm ? "the default behind an ARM SMMU" : "the default"}; --machine to choose)`,
    );
  if ((model.arch === "aarch64") !== arm && units.some((x) => x.kind !== "virtio-iommu")) {
    notes.push(
      `${model.name} on a host whose IOMMU is ${units.map((x) => x.kind).join(", ")}: device assignment needs KVM of the host's architecture`,
    );
  }

  let vendor: CpuVendor;
  if (model.arch === "aarch64") vendor = "arm";
  else if (opts.cpuVendor !== undefined) vendor = opts.cpuVendor;
  else {
    vendor = units.some((x) => x.kind === "amd-vi") ? "amd" : "intel";
    if (vendor === "amd") {
      notes.push(
        "vCPU vendor assumed AMD (host IOMMU is AMD-Vi, e.g. -cpu host); QEMU keys the 1 TiB relocation on it",
      );
    }
  }

  const alignment = mappingAlignment(host, u.iommus);
  const initial = machineRegions(model, opts.ram).map((r) => checkRegion(r, u, alignment));
  const fixed = applyFixups({ model, ram: opts.ram, mode, vendor, usable: u, alignment });
  notes.push(...fixed.notes);
  const regions = fixed.regions.map((r) => checkRegion(r, u, alignment));
  const mappable = u.ranges.length > 0 && regions.every((c) => c.mappable);
  if (u.ranges.length === 0) {
    notes.push("no usable IOVA space: type1 refuses to attach these groups at all (EINVAL)");
  }
  if (
    mode === "none" &&
    vendor === "amd" &&
    model.amdHtRelocation &&
    fixed.regions.some((r) => r.last >= AMD_HT_START)
  ) {
    notes.push("QEMU ≥ 7.1 would move RAM above 4 GiB to 1 TiB here (--fixup qemu)");
  }
  const hotplug =
    opts.hotplug === undefined
      ? null
      : checkHotplug({ host, base: u, mappings: fixed.regions, bdf: opts.hotplug });
  if (hotplug && !mappable)
    notes.push("the plan itself is not mappable; the hotplug check assumes every region was mapped");

  const windows: MachineWindow[] = model.windows(fixed.regions);
  if (vendor === "amd" && model.amdHtRelocation) {
    // pc_memory_init: an AMD vCPU with phys-bits ≥ 40 gets the HT range as an e820 reserved entry.
    windows.push({
      name: "AMD HyperTransport window (e820 reserved)",
      start: AMD_HT_START,
      last: AMD_HT_LAST,
    });
  }
  windows.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return {
    machine: model.id,
    machineName: model.name,
    ram: opts.ram,
    fixupMode: mode,
    cpuVendor: vendor,
    groups: u.groups,
    iommus: u.iommus,
    aperture: u.aperture,
    usable: u.ranges,
    alignment,
    initial,
    fixups: fixed.fixups,
    regions,
    windows,
    apertureTooSmall: apertureTooSmall(regions, u),
    mappable,
    hotplug,
    notes,
  };
}
