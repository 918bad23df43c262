import { describe, expect, it } from "vitest";
import {
  AMD_ABOVE_1TB_START,
  PlanInputError,
  machineById,
  machineRegions,
  parseSize,
  planGuestMemory,
  qemuMaxUsedGpa,
} from "../../../src/core/plan/index.js";
import { PRESETS } from "../../../src/core/topology/presets.js";
import { UsableRangesError } from "../../../src/core/topology/usable.js";
import { withReserved } from "./hosts.js";

const GiB = 1n << 30n;
const host = (name: string) => PRESETS[name]!.build();

describe("parseSize", () => {
  it("reads binary suffixes, bytes and hex", () => {
    expect(parseSize("16G")).toBe(16n * GiB);
    expect(parseSize("16GiB")).toBe(16n * GiB);
    expect(parseSize("512m")).toBe(512n << 20n);
    expect(parseSize("1T")).toBe(1n << 40n);
    expect(parseSize("1.5G")).toBe(3n * (GiB / 2n));
    expect(parseSize("4096")).toBe(4096n);
    expect(parseSize("0x400000000")).toBe(16n * GiB);
  });

  it("refuses negative, zero, garbage, partial pages and overflow with the reason", () => {
    expect(() => parseSize("-1G")).toThrow(/must be positive/);
    expect(() => parseSize("0")).toThrow(/greater than 0/);
    expect(() => parseSize("lots")).toThrow(/bad size "lots"/);
    expect(() => parseSize("16X")).toThrow(PlanInputError);
    expect(() => parseSize("1000")).toThrow(/not a multiple of 4 KiB/);
    expect(() => parseSize("0.3K")).toThrow(/whole number of bytes/);
    expect(() => parseSize("17E")).toThrow(/64 bits/);
  });
});

describe("machine models", () => {
  it("q35 splits at 2 GiB from 2.75 GiB of RAM (pc_q35_init)", () => {
    const q35 = machineById("q35");
    expect(machineRegions(q35, 0xa0000000n)).toEqual([
      { name: "ram-below-4g", start: 0n, last: 0x9fffffffn },
    ]);
    expect(machineRegions(q35, 0xb0000000n)).toEqual([
      { name: "ram-below-4g", start: 0n, last: 0x7fffffffn },
      { name: "ram-above-4g", start: 4n * GiB, last: 4n * GiB + 0x30000000n - 1n },
    ]);
  });

  it("i440fx keeps 3.5 GiB low, 3 GiB once RAM reaches 3.5 GiB (pc_init1)", () => {
    const pc = machineById("i440fx");
    expect(machineRegions(pc, 0xd0000000n)).toHaveLength(1);
    expect(machineRegions(pc, 4n * GiB)[0]!.last).toBe(0xbfffffffn);
  });

  it("arm virt RAM is contiguous at 1 GiB; cloud-hypervisor splits at 3 GiB", () => {
    expect(machineRegions(machineById("arm-virt"), 8n * GiB)).toEqual([
      { name: "mach-virt.ram", start: GiB, last: 9n * GiB - 1n },
    ]);
    expect(machineRegions(machineById("cloud-hypervisor"), 8n * GiB).map((r) => r.last)).toEqual([
      3n * GiB - 1n,
      9n * GiB - 1n,
    ]);
  });

  it("refuses unknown machines and RAM beyond 64 bits", () => {
    expect(() => machineById("z80")).toThrow(/unknown machine "z80" \(known: q35, i440fx/);
    expect(() => machineRegions(machineById("q35"), 1n << 64n)).toThrow(/beyond the 64-bit/);
  });

  it("QEMU's highest used GPA counts the 64-bit PCI hole", () => {
    const regions = machineRegions(machineById("q35"), 16n * GiB);
    expect(qemuMaxUsedGpa(regions, 32n * GiB)).toBe(18n * GiB + 32n * GiB - 1n);
  });
});

describe("planGuestMemory", () => {
  it("q35 with 16 GiB on VT-d 39-bit: mappable, each block in one usable range", () => {
    const p = planGuestMemory(host("intel-vtd-39"), { ram: 16n * GiB, groups: [1] });
    expect(p.mappable).toBe(true);
    expect(p.machine).toBe("q35");
    expect(p.regions.map((r) => [r.start, r.last, r.within])).toEqual([
      [0n, 0x7fffffffn, { start: 0n, last: 0xfedfffffn }],
      [4n * GiB, 18n * GiB - 1n, { start: 0xfef00000n, last: 0x7fffffffffn }],
    ]);
    expect(p.apertureTooSmall).toBeNull();
    expect(p.fixups).toEqual([]);
  });

  it("1 TiB of RAM on a 39-bit aperture: aperture too small, EINVAL", () => {
    const p = planGuestMemory(host("intel-vtd-39"), { ram: 1n << 40n, groups: [1], fixup: "split" });
    expect(p.mappable).toBe(false);
    const high = p.regions[1]!;
    expect(high.errno).toBe("EINVAL");
    expect(high.conflicts).toEqual([
      {
        kind: "aperture",
        iommu: "dmar0",
        aperture: { start: 0n, last: 0x7fffffffffn },
        overlap: { start: 0x8000000000n, last: high.last },
      },
    ]);
    expect(p.apertureTooSmall).toEqual({
      iommus: ["dmar0"],
      apertureLast: 0x7fffffffffn,
      ramLast: high.last,
      bitsNeeded: 41,
    });
  });

  it("AMD: RAM reaching 0xfd00000000 hits the HT hole; QEMU ≥ 7.1 relocates it above 1 TiB", () => {
    const amd = host("amd-vi");
    const none = planGuestMemory(amd, { ram: 1n << 40n, groups: [1], fixup: "none" });
    expect(none.mappable).toBe(false);
    expect(none.cpuVendor).toBe("amd");
    expect(none.regions[1]!.conflicts).toMatchObject([
      { kind: "reserved", group: 1, region: { type: "reserved", start: 0xfd00000000n, last: 0xffffffffffn } },
    ]);
    expect(none.notes.join("\n")).toContain("would move RAM above 4 GiB to 1 TiB");

    const qemu = planGuestMemory(amd, { ram: 1n << 40n, groups: [1] });
    expect(qemu.fixupMode).toBe("qemu");
    expect(qemu.mappable).toBe(true);
    expect(qemu.fixups.map((f) => f.kind)).toEqual(["amd-ht-relocation"]);
    expect(qemu.regions[1]!.start).toBe(AMD_ABOVE_1TB_START);
    expect(qemu.regions[1]!.last).toBe(AMD_ABOVE_1TB_START + 1022n * GiB - 1n);
    expect(qemu.initial[1]!.mappable).toBe(false);
  });

  it("QEMU relocates on the 64-bit PCI hole alone, and only for AMD vCPUs", () => {
    // 990 GiB: RAM ends at 992 GiB, the 32 GiB hole reaches 1024 GiB > 0xfd00000000.
    const amd = planGuestMemory(host("amd-vi"), { ram: 990n * GiB, groups: [1] });
    expect(amd.fixups).toHaveLength(1);
    const intel = planGuestMemory(host("amd-vi"), { ram: 990n * GiB, groups: [1], cpuVendor: "intel" });
    expect(intel.fixups).toHaveLength(0);
    expect(intel.mappable).toBe(true);
  });

  it("ARM virt on SMMUv3: RAM at 1 GiB, clear of the sw-msi window below it", () => {
    const p = planGuestMemory(host("arm-smmu-v3"), { ram: 16n * GiB, devices: ["0000:01:00.0"] });
    expect(p.machine).toBe("arm-virt");
    expect(p.cpuVendor).toBe("arm");
    expect(p.mappable).toBe(true);
    expect(p.regions).toHaveLength(1);
    expect(p.regions[0]!.start).toBe(0x40000000n);
    expect(p.regions[0]!.start).toBeGreaterThan(0x80fffffn);
    expect(p.usable[0]).toEqual({ start: 0n, last: 0x7ffffffn });
  });

  it("checks the IOMMU page: 64K granule", () => {
    const p = planGuestMemory(host("arm-smmu-v3-64k"), { ram: (16n * GiB) | 0x1000n, groups: [1] });
    expect(p.alignment).toBe(65536n);
    expect(p.regions[0]!.conflicts).toEqual([{ kind: "alignment", alignment: 65536n }]);
  });

  it("split: lowers lowmem before a reserved window and cuts high RAM around another", () => {
    const h = withReserved(host("intel-vtd-48"), 1, [
      { start: 0x70000000n, last: 0x70ffffffn, type: "reserved", source: "test exclusion range" },
      { start: 0x200000000n, last: 0x2001fffffn, type: "reserved", source: "test exclusion range" },
    ]);
    const qemu = planGuestMemory(h, { ram: 16n * GiB, groups: [1] });
    expect(qemu.mappable).toBe(false);
    expect(qemu.regions.map((r) => r.mappable)).toEqual([false, false]);

    const split = planGuestMemory(h, { ram: 16n * GiB, groups: [1], fixup: "split" });
    expect(split.mappable).toBe(true);
    expect(split.fixups.map((f) => f.kind)).toEqual(["shrink-lowmem", "split"]);
    expect(split.fixups[0]!.how).toBe("-machine q35,max-ram-below-4g=1792M");
    expect(split.regions.map((r) => [r.name, r.start, r.last])).toEqual([
      ["ram-below-4g", 0n, 0x6fffffffn],
      ["ram-above-4g[0]", 4n * GiB, 0x1ffffffffn],
      ["ram-above-4g[1]", 0x200200000n, 0x200200000n + 16n * GiB - 0x70000000n - 4n * GiB - 1n],
    ]);
    const total = split.regions.reduce((n, r) => n + r.size, 0n);
    expect(total).toBe(16n * GiB);
  });

  it("refuses bad selections and options", () => {
    const h = host("qemu-q35-vtd");
    expect(() => planGuestMemory(h, { ram: GiB, devices: ["0000:09:00.0"] })).toThrow(UsableRangesError);
    expect(() => planGuestMemory(h, { ram: GiB, groups: [1], machine: "pdp11" })).toThrow(PlanInputError);
    expect(() => planGuestMemory(h, { ram: GiB, groups: [1], fixup: "magic" })).toThrow(/unknown fixup mode/);
    expect(() => planGuestMemory(h, { ram: 0n, groups: [1] })).toThrow(PlanInputError);
  });
});

describe("hotplug", () => {
  it("a narrower aperture meets the RAM above it: type1 EINVAL, iommufd EADDRINUSE", () => {
    const p = planGuestMemory(host("two-iommus"), { ram: 600n * GiB, groups: [1], hotplug: "0000:80:00.0" });
    expect(p.mappable).toBe(true);
    const h = p.hotplug!;
    expect(h.group).toBe(3);
    expect(h.type1).toMatchObject({ accepted: false, errno: "EINVAL" });
    expect(h.type1.where).toContain("aperture");
    expect(h.iommufd).toMatchObject({ accepted: false, errno: "EADDRINUSE" });
    expect(h.type1.conflicts).toMatchObject([
      { kind: "aperture", mapping: { name: "ram-above-4g" }, overlap: { start: 0x8000000000n } },
    ]);
  });

  it("a reserved region of the new group over guest RAM: refused, naming region and mapping", () => {
    const region = { start: 0x200000000n, last: 0x2001fffffn, type: "reserved" as const, source: "IVMD" };
    const h = withReserved(host("intel-vtd-48"), 2, [region]);
    const p = planGuestMemory(h, { ram: 16n * GiB, groups: [1], hotplug: "0000:02:00.0" });
    expect(p.mappable).toBe(true);
    expect(p.hotplug!.type1).toMatchObject({ accepted: false, errno: "EINVAL" });
    expect(p.hotplug!.type1.where).toContain("vfio_iommu_resv_conflict");
    expect(p.hotplug!.iommufd).toMatchObject({ accepted: false, errno: "EADDRINUSE" });
    expect(p.hotplug!.type1.conflicts).toEqual([
      {
        kind: "reserved",
        mapping: { name: "ram-above-4g", start: 4n * GiB, last: 18n * GiB - 1n },
        range: region,
        region,
        overlap: { start: region.start, last: region.last },
      },
    ]);
  });

  it("a compatible device is accepted and the usable list after it is given", () => {
    const p = planGuestMemory(host("qemu-q35-vtd"), { ram: 16n * GiB, groups: [1], hotplug: "0000:00:05.0" });
    expect(p.hotplug!.type1.accepted).toBe(true);
    expect(p.hotplug!.iommufd.accepted).toBe(true);
    expect(p.hotplug!.usableAfter).toHaveLength(2);
  });

  it("refuses a device that is unknown or already in the plan", () => {
    const h = host("qemu-q35-vtd");
    expect(() => planGuestMemory(h, { ram: GiB, groups: [1], hotplug: "0000:00:09.0" })).toThrow(/no device/);
    expect(() => planGuestMemory(h, { ram: GiB, groups: [1], hotplug: "0000:00:04.0" })).toThrow(
      /already uses/,
    );
  });
});
