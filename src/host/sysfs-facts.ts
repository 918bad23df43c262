/**
 * What the sysfs reader and the dump parser both extract, and the one function that turns it into a
 * `Host` — so a live tree and a dump of the same machine give the same model.
 *
 * Kernel facts encoded here:
 *  - sysfs `reserved_regions` lines are `0x%016llx 0x%016llx %s`, start and inclusive end; SW_MSI
 *    prints as `msi` (semantics.md §2.13), so every `msi` line is marked `msiAmbiguous`; on an SMMU
 *    unit an `msi` line inside [0x8000000, 0x80fffff] is most likely the software MSI window.
 *  - sysfs shows only the group union, so each device carries its group's list.
 *  - VT-d geometry comes from `intel-iommu/cap`/`ecap`; other kinds expose no aperture in sysfs and
 *    get the per-kind default (said in the host's description).
 */

import { PAGE_SIZE } from "../core/u64.js";
import { DEFAULT_KERNEL_RELEASE, presetParams } from "../core/topology/presets.js";
import { ARM_SW_MSI_WINDOW, amdUnit, smmuUnit, virtioUnit, vtdUnit } from "../core/topology/units.js";
import type {
  Host,
  IommuKind,
  IommuUnit,
  PciDevice,
  ReservedRegion,
  ReservedType,
} from "../core/topology/types.js";
import { HostReadError } from "./errors.js";

export interface RawRegion {
  readonly start: bigint;
  readonly last: bigint;
  readonly type: "direct" | "direct-relaxable" | "reserved" | "msi";
}

export interface UnitFacts {
  readonly name: string;
  readonly kind: Exclude<IommuKind, "none" | "s390">;
  readonly cap?: bigint;
  readonly ecap?: bigint;
  readonly devices: readonly string[];
}

export interface GroupFacts {
  readonly id: number;
  readonly type: string;
  readonly regions: readonly RawRegion[];
  readonly devices: readonly string[];
}

export interface DeviceFacts {
  readonly bdf: string;
  readonly vendor: number;
  readonly device: number;
  readonly class: number;
  readonly driver: string | null;
  readonly group: number | null;
  /** cdev path from sysfs `vfio-dev/vfioN`, when known. */
  readonly cdev?: string;
}

/** Module parameters, keyed by sysfs path (/sys/module/<mod>/parameters/<name>). */
export const PARAM = {
  dmaEntryLimit: "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit",
  type1Unsafe: "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
  disableHugepages: "/sys/module/vfio_iommu_type1/parameters/disable_hugepages",
  iommufdUnsafe: "/sys/module/iommufd/parameters/allow_unsafe_interrupts",
  noiommu: "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode",
} as const;

export interface SysfsFacts {
  /** Host name ("sysfs /", "dump type1-v2-sysfs.txt"). */
  readonly name: string;
  readonly notes: string[];
  readonly kernelRelease: string | null;
  readonly units: UnitFacts[];
  readonly groups: GroupFacts[];
  readonly devices: DeviceFacts[];
  /** Parameter path → raw value, plus the file/line to blame when it does not parse. */
  readonly params: Map<string, { value: string; file: string; line?: number }>;
  /** /dev/vfio/devices exists; `cdevNames` lists its entries (vfio0, ...). */
  readonly vfioDevicesDir: boolean;
  readonly cdevNames: readonly string[];
  readonly devIommu: boolean;
  readonly thpSize: bigint | null;
}

const REGION_LINE = /^0x([0-9a-fA-F]{1,16}) 0x([0-9a-fA-F]{1,16}) (direct|direct-relaxable|reserved|msi)$/;

/** Parse one `reserved_regions` line; `file`/`line` name the culprit on failure. */
export function parseRegionLine(text: string, file: string, line: number): RawRegion {
  const m = REGION_LINE.exec(text.trim());
  if (!m) {
    throw new HostReadError(
      file,
      `bad reserved region ${JSON.stringify(text)}: expected "0x<start> 0x<last> direct|direct-relaxable|reserved|msi"`,
      line,
    );
  }
  const start = BigInt("0x" + m[1]!);
  const last = BigInt("0x" + m[2]!);
  if (start > last)
    throw new HostReadError(file, `reserved region starts after its end: ${text.trim()}`, line);
  return { start, last, type: m[3] as RawRegion["type"] };
}

export function parseBool(raw: string, file: string, line?: number): boolean {
  const v = raw.trim();
  if (v === "Y" || v === "1") return true;
  if (v === "N" || v === "0") return false;
  throw new HostReadError(file, `expected Y or N, got ${JSON.stringify(v)}`, line);
}

export function parseUint(raw: string, file: string, line?: number): number {
  const v = raw.trim();
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new HostReadError(file, `expected a decimal number, got ${JSON.stringify(v)}`, line);
  }
  return Number(v);
}

/** sysfs PCI ids: `0x8086`, `0x060000`. */
export function parsePciId(raw: string, file: string, line?: number, max = 0xffff): number {
  const v = raw.trim();
  if (!/^0x[0-9a-fA-F]+$/.test(v) || Number(v) > max) {
    throw new HostReadError(file, `expected a 0x-hex PCI id, got ${JSON.stringify(v)}`, line);
  }
  return Number(v);
}

function toRegion(r: RawRegion, kind: IommuKind | null, group: number): ReservedRegion {
  const source = `sysfs group ${group}`;
  if (r.type !== "msi") return { start: r.start, last: r.last, type: r.type, source };
  // SW_MSI prints as `msi`: on SMMU the [0x8000000, 0x80fffff] window is almost surely sw-msi.
  const swMsi =
    kind === "arm-smmu-v3" && r.start >= ARM_SW_MSI_WINDOW.start && r.last <= ARM_SW_MSI_WINDOW.last;
  const type: ReservedType = swMsi ? "sw-msi" : "msi";
  return { start: r.start, last: r.last, type, source, msiAmbiguous: true };
}

function buildUnit(u: UnitFacts, notes: string[]): IommuUnit {
  switch (u.kind) {
    case "intel-vtd":
      if (u.cap === undefined || u.ecap === undefined)
        throw new Error(`VT-d unit ${u.name} without cap/ecap`);
      return vtdUnit(u.name, u.cap, u.ecap);
    case "amd-vi":
      notes.push(`${u.name}: AMD-Vi aperture not in sysfs, assumed v1 page table [0, 2^64-1]`);
      return amdUnit(u.name);
    case "arm-smmu-v3":
      notes.push(`${u.name}: SMMUv3 aperture not in sysfs, assumed 48-bit, 4K granule`);
      return smmuUnit(u.name);
    case "virtio-iommu":
      notes.push(`${u.name}: virtio-iommu input range not in sysfs, assumed 64-bit (QEMU's default)`);
      return virtioUnit(u.name);
  }
}

function param(facts: SysfsFacts, path: string): { value: string; file: string; line?: number } | undefined {
  return facts.params.get(path);
}

function boolParam(facts: SysfsFacts, path: string, dflt: boolean): boolean {
  const p = param(facts, path);
  return p ? parseBool(p.value, p.file, p.line) : dflt;
}

export function hostFromFacts(facts: SysfsFacts): Host {
  const notes = [...facts.notes];
  const release = facts.kernelRelease ?? DEFAULT_KERNEL_RELEASE;
  if (facts.kernelRelease === null) notes.push(`kernel release unknown, assumed ${DEFAULT_KERNEL_RELEASE}`);
  const iommus = facts.units.map((u) => buildUnit(u, notes));
  const unitOf = new Map<string, IommuUnit>();
  for (const u of facts.units)
    for (const bdf of u.devices)
      unitOf.set(
        bdf,
        iommus.find((x) => x.name === u.name)!,
      );

  const groups = facts.groups
    .map((g) => {
      const kind = g.devices.map((b) => unitOf.get(b)?.kind).find((k) => k !== undefined) ?? null;
      return {
        id: g.id,
        type: g.type,
        devices: [...g.devices].sort(),
        reservedRegions: g.regions.map((r) => toRegion(r, kind, g.id)),
      };
    })
    .sort((a, b) => a.id - b.id);

  const cdevByOrder = assignCdevs(facts);
  const devices: PciDevice[] = [...facts.devices]
    .sort((a, b) => (a.bdf < b.bdf ? -1 : a.bdf > b.bdf ? 1 : 0))
    .map((d) => {
      const g = groups.find((x) => x.id === d.group);
      const cdev = d.cdev ?? cdevByOrder.get(d.bdf);
      return {
        bdf: d.bdf,
        vendor: d.vendor,
        device: d.device,
        class: d.class,
        driver: d.driver,
        group: d.group,
        iommu: unitOf.get(d.bdf)?.name ?? null,
        reservedRegions: g ? g.reservedRegions : [],
        ...(cdev !== undefined ? { cdev } : {}),
      };
    });

  const base = presetParams({ kernelRelease: release });
  const type1Loaded = facts.params.has(PARAM.dmaEntryLimit);
  if (!type1Loaded)
    notes.push("vfio_iommu_type1 parameters not found (module not loaded?): defaults assumed");
  const limit = param(facts, PARAM.dmaEntryLimit);
  const iommufdParam = param(facts, PARAM.iommufdUnsafe);
  const params = {
    ...base,
    pageSize: PAGE_SIZE,
    thpSize: facts.thpSize ?? PAGE_SIZE,
    type1: {
      dmaEntryLimit: limit ? parseUint(limit.value, limit.file, limit.line) : base.type1.dmaEntryLimit,
      allowUnsafeInterrupts: boolParam(facts, PARAM.type1Unsafe, false),
      disableHugepages: boolParam(facts, PARAM.disableHugepages, false),
    },
    iommufd: iommufdParam
      ? { allowUnsafeInterrupts: parseBool(iommufdParam.value, iommufdParam.file, iommufdParam.line) }
      : facts.devIommu
        ? { allowUnsafeInterrupts: false }
        : null,
    vfioDeviceCdev: facts.vfioDevicesDir,
    noiommu: facts.params.has(PARAM.noiommu),
  };
  const description = [`${groups.length} IOMMU group(s), ${iommus.length} IOMMU unit(s)`, ...notes].join(
    "; ",
  );
  return { name: facts.name, description, params, iommus, devices, groups };
}

/**
 * Without `vfio-dev/` links, cdevs are given to vfio-pci devices in BDF order from the listing of
 * /dev/vfio/devices (vfio_device_add numbers devices in probe order, which is BDF order on one bus).
 */
function assignCdevs(facts: SysfsFacts): Map<string, string> {
  const out = new Map<string, string>();
  if (!facts.vfioDevicesDir || facts.devices.some((d) => d.cdev !== undefined)) return out;
  const names = [...facts.cdevNames]
    .filter((n) => /^vfio\d+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const vfio = facts.devices
    .filter((d) => d.driver === "vfio-pci" && d.group !== null)
    .map((d) => d.bdf)
    .sort();
  vfio.forEach((bdf, i) => {
    const n = names[i];
    if (n !== undefined) out.set(bdf, `/dev/vfio/devices/${n}`);
  });
  return out;
}
