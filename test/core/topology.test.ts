import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { complement, normalize, subtract, type IovaRange } from "../../src/core/ranges.js";
import {
  DEFAULT_PRESET,
  PRESETS,
  amdHost,
  qemuQ35VtdHost,
  smmuHost,
  vtdHost,
} from "../../src/core/topology/presets.js";
import { mergeGroupRegions } from "../../src/core/topology/regions.js";
import type { Host, ReservedRegion } from "../../src/core/topology/types.js";
import { groupReservedForType1, usableRanges, UsableRangesError } from "../../src/core/topology/usable.js";
import {
  InvalidHostError,
  groupBlockers,
  groupViable,
  validateHost,
} from "../../src/core/topology/validate.js";
import {
  vtdAddressWidth,
  vtdCapFor,
  vtdDirtyTracking,
  vtdEcapFor,
  vtdInterruptRemapping,
  vtdMgaw,
  vtdPgsizeBitmap,
  vtdSagawWidths,
} from "../../src/core/topology/vtd.js";
import { U64_MAX } from "../../src/core/u64.js";

describe("VT-d registers", () => {
  it("reproduces QEMU's two recorded cap values", () => {
    expect(vtdCapFor(39)).toBe(0xd2008c22260206n);
    expect(vtdCapFor(48)).toBe(0xd2008c222f0606n);
    expect(vtdEcapFor({ interruptRemapping: true })).toBe(0xf00f4an);
    expect(vtdEcapFor({ interruptRemapping: false })).toBe(0xf42n);
  });

  it("decodes MGAW, SAGAW, large pages, IR and dirty tracking", () => {
    expect(vtdMgaw(0xd2008c22260206n)).toBe(39);
    expect(vtdMgaw(0xd2008c222f0606n)).toBe(48);
    expect(vtdSagawWidths(0xd2008c22260206n)).toEqual([39]);
    expect(vtdSagawWidths(0xd2008c222f0606n)).toEqual([39, 48]);
    expect(vtdPgsizeBitmap(0xd2008c22260206n)).toBe(0x40201000n);
    expect(vtdInterruptRemapping(0xf00f4an)).toBe(true);
    expect(vtdInterruptRemapping(0xf42n)).toBe(false);
    expect(vtdDirtyTracking(0xf00f4an)).toBe(false);
    expect(vtdDirtyTracking((1n << 43n) | (1n << 45n))).toBe(true);
  });

  it("round-trips every width", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), (w) => vtdMgaw(vtdCapFor(w)) === w));
    // The domain width is MGAW clipped to the widest page table SAGAW offers (4-level: 48 bits).
    for (const w of [39, 48, 57]) expect(vtdAddressWidth(vtdCapFor(w))).toBe(w);
    expect(vtdAddressWidth(vtdCapFor(44))).toBe(39);
    expect(vtdAddressWidth(vtdCapFor(52))).toBe(48);
    expect(() => vtdCapFor(0)).toThrow(RangeError);
  });
});

describe("presets", () => {
  it("every preset builds a valid host", () => {
    for (const [name, p] of Object.entries(PRESETS))
      expect(() => validateHost(p.build()), name).not.toThrow();
    expect(PRESETS[DEFAULT_PRESET]).toBeDefined();
  });

  it("are functions of their options", () => {
    const h = vtdHost({ addressWidth: 48, interruptRemapping: false });
    expect(h.iommus[0]).toMatchObject({
      addressWidth: 48,
      msiIsolation: false,
      aperture: { last: (1n << 48n) - 1n },
    });
    expect(vtdHost({ addressWidth: 39 }).iommus[0]!.vtd!.capReg).toBe(0xd2008c22260206n);
    expect(qemuQ35VtdHost({ kernelRelease: "6.1.0-56-amd64" }).params.iommufd).toBeNull();
    expect(amdHost({ pageTable: "v2" }).iommus[0]!.aperture.last).toBe((1n << 48n) - 1n);
    expect(smmuHost({ granule: "64k" }).iommus[0]!.pgsizeBitmap).toBe((1n << 16n) | (1n << 29n));
  });

  it("qemu-q35-vtd has the reference topology", () => {
    const h = qemuQ35VtdHost();
    expect(h.params.kernelRelease).toBe("6.12.107");
    expect(h.groups.map((g) => [g.id, g.devices])).toEqual([
      [0, ["0000:00:00.0"]],
      [1, ["0000:00:04.0"]],
      [2, ["0000:00:05.0"]],
      [3, ["0000:00:06.0"]],
      [4, ["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"]],
    ]);
    expect(h.groups[4]!.reservedRegions.map((r) => [r.start, r.last, r.type])).toEqual([
      [0n, 0xffffffn, "direct-relaxable"],
      [0xfee00000n, 0xfeefffffn, "msi"],
    ]);
    // Per device (iommufd's view): only the ISA bridge has the floppy window.
    expect(h.devices.find((d) => d.bdf === "0000:00:1f.2")!.reservedRegions).toHaveLength(1);
  });
});

describe("usable ranges (type1 recipe)", () => {
  it("AMD cuts the HyperTransport hole", () => {
    expect(usableRanges(amdHost(), { groups: [1] }).ranges).toEqual([
      { start: 0n, last: 0xfedfffffn },
      { start: 0xfef00000n, last: 0xfcffffffffn },
      { start: 0x10000000000n, last: U64_MAX },
    ]);
  });

  it("SMMUv3 cuts the sw-msi window", () => {
    const r = usableRanges(smmuHost(), { devices: ["0000:01:00.0"] });
    expect(r.ranges).toEqual([
      { start: 0n, last: 0x7ffffffn },
      { start: 0x8100000n, last: (1n << 48n) - 1n },
    ]);
  });

  it("ignores direct-relaxable and explains every gap", () => {
    const r = usableRanges(qemuQ35VtdHost(), { groups: [4] });
    expect(r.ignored.map((i) => i.region.type)).toEqual(["direct-relaxable"]);
    expect(r.gaps).toHaveLength(2);
    expect(r.gaps[0]!.reasons).toMatchObject([{ kind: "reserved", group: 4 }]);
    expect(r.gaps[1]!.reasons).toMatchObject([{ kind: "aperture", iommu: "dmar0" }]);
  });

  it("intersects the apertures of two units", () => {
    const r = usableRanges(PRESETS["two-iommus"]!.build(), { groups: [1, 3] });
    expect(r.iommus).toEqual(["dmar0", "dmar1"]);
    expect(r.aperture).toEqual({ start: 0n, last: 0x7fffffffffn });
  });

  it("refuses selections it cannot answer", () => {
    const h = qemuQ35VtdHost();
    expect(() => usableRanges(h, {})).toThrow(UsableRangesError);
    expect(() => usableRanges(h, { groups: [9] })).toThrow(/no IOMMU group 9/);
    expect(() => usableRanges(h, { devices: ["0000:09:00.0"] })).toThrow(/no device/);
    expect(() => usableRanges(PRESETS["no-iommu"]!.build(), { devices: ["0000:01:00.0"] })).toThrow(
      /no IOMMU group/,
    );
  });

  it("is aperture minus reserved, and gaps are exactly its complement (property)", () => {
    const arbRegion = fc
      .tuple(
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        fc.bigInt({ min: 0n, max: 1n << 32n }),
        fc.constantFrom("direct", "direct-relaxable", "reserved", "msi", "sw-msi") as fc.Arbitrary<
          ReservedRegion["type"]
        >,
      )
      .map(([s, len, type]): ReservedRegion => ({ start: s, last: s + len, type }));
    fc.assert(
      fc.property(
        fc.array(arbRegion, { maxLength: 8 }),
        fc.integer({ min: 39, max: 64 }),
        (regions, width) => {
          const base = vtdHost({ addressWidth: Math.min(width, 57) });
          const g = { ...base.groups[1]!, reservedRegions: mergeGroupRegions([regions]) };
          const host: Host = { ...base, groups: base.groups.map((x) => (x.id === g.id ? g : x)) };
          const r = usableRanges(host, { groups: [g.id] });
          const aperture: IovaRange = base.iommus[0]!.aperture;
          const expected = subtract([aperture], normalize(groupReservedForType1(g)));
          expect(r.ranges).toEqual(expected);
          expect(r.gaps.map((x) => ({ start: x.start, last: x.last }))).toEqual(complement(expected));
          for (const gap of r.gaps) expect(gap.reasons.length).toBeGreaterThan(0);
        },
      ),
    );
  });
});

describe("group regions", () => {
  it("merges same-type overlaps and keeps different types apart (iommu_insert_resv_region)", () => {
    const merged = mergeGroupRegions([
      [{ start: 0x1000n, last: 0x1fffn, type: "direct" }],
      [
        { start: 0x2000n, last: 0x2fffn, type: "direct" },
        { start: 0x1800n, last: 0x27ffn, type: "reserved" },
      ],
    ]);
    expect(merged.map((r) => [r.start, r.last, r.type])).toEqual([
      [0x1000n, 0x2fffn, "direct"],
      [0x1800n, 0x27ffn, "reserved"],
    ]);
  });
});

describe("validation", () => {
  const good = qemuQ35VtdHost();

  it("lists every problem at once", () => {
    const bad: Host = {
      ...good,
      devices: [
        ...good.devices,
        { ...good.devices[1]! },
        { ...good.devices[2]!, bdf: "nonsense", group: 42, iommu: "dmar9" },
      ],
      groups: [
        ...good.groups,
        {
          id: 1,
          type: "DMA",
          devices: ["0000:ff:00.0"],
          reservedRegions: [{ start: 5n, last: 1n, type: "msi" }],
        },
      ],
    };
    try {
      validateHost(bad);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidHostError);
      const p = (e as InvalidHostError).problems.join("\n");
      expect(p).toMatch(/device 0000:00:04.0 listed twice/);
      expect(p).toMatch(/"nonsense": not a BDF/);
      expect(p).toMatch(/group 42 does not exist/);
      expect(p).toMatch(/IOMMU dmar9 does not exist/);
      expect(p).toMatch(/group 1 listed twice/);
      expect(p).toMatch(/start after last/);
      expect(p).toMatch(/member 0000:ff:00.0 is not a known device/);
    }
  });

  it("catches a group list that misses a member's region", () => {
    const groups = good.groups.map((g) =>
      g.id === 4 ? { ...g, reservedRegions: g.reservedRegions.slice(1) } : g,
    );
    expect(() => validateHost({ ...good, groups })).toThrow(
      /region \[0, ffffff\] direct-relaxable of 0000:00:1f.0 missing/,
    );
  });
});

describe("viability", () => {
  it("follows DMA ownership: unbound, VFIO and non-DMA drivers are fine", () => {
    const h = qemuQ35VtdHost();
    expect(groupViable(h, 0)).toBe(true);
    expect(groupViable(h, 1)).toBe(true);
    expect(groupViable(h, 4)).toBe(false);
    expect(groupBlockers(h, 4)).toEqual([
      { bdf: "0000:00:1f.2", driver: "ahci" },
      { bdf: "0000:00:1f.3", driver: "i801_smbus" },
    ]);
    const stubbed: Host = {
      ...h,
      devices: h.devices.map((d) =>
        d.group === 4 ? { ...d, driver: d.bdf.endsWith(".2") ? "pci-stub" : "mlx5_vfio_pci" } : d,
      ),
    };
    expect(groupViable(stubbed, 4)).toBe(true);
  });
});
