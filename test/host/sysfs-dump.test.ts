import { describe, expect, it } from "vitest";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import type { Host } from "../../src/core/topology/types.js";
import { usableRanges } from "../../src/core/topology/usable.js";
import { validateHost } from "../../src/core/topology/validate.js";
import { U64_MAX } from "../../src/core/u64.js";
import { HostReadError } from "../../src/host/errors.js";
import { hostFromSysfsDump } from "../../src/host/sysfs-dump.js";
import { dumpCases, rangesKey, tracedIovaRanges } from "../helpers/vectors.js";

const cases = dumpCases();
const load = (name: string): Host => {
  const c = cases.find((x) => x.name === name)!;
  return hostFromSysfsDump(c.text, c.run, c.name);
};

function thrown(f: () => unknown): HostReadError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(HostReadError);
    return e as HostReadError;
  }
  throw new Error("expected a HostReadError");
}

describe("sysfs dumps of the vectors", () => {
  it("finds every dump", () => {
    expect(cases.length).toBeGreaterThanOrEqual(16);
  });

  for (const c of cases) {
    it(`${c.name} loads, validates and gives the kernel's type1 IOVA ranges`, () => {
      const host = validateHost(hostFromSysfsDump(c.text, c.run, c.name));
      const vfio = host.devices.filter((d) => d.driver === "vfio-pci").map((d) => d.bdf);
      expect(vfio).toEqual(["0000:00:04.0", "0000:00:05.0", "0000:00:06.0"]);
      const ours = rangesKey(usableRanges(host, { devices: vfio }).ranges);
      if (!c.trace) return;
      const traced = tracedIovaRanges(c.trace);
      // The compat path answers the whole space until a device is attached; drop that state.
      traced.delete(JSON.stringify([["0x0", "0xffffffffffffffff"]]));
      expect([...traced]).toEqual([ours]);
    });
  }

  it("VT-d aw 39: [0, 0xfedfffff] and [0xfef00000, 0x7fffffffff]", () => {
    const host = load("6.12.107-oracle/type1-v2-sysfs.txt");
    const r = usableRanges(host, { groups: [1, 2, 3] });
    expect(r.ranges).toEqual([
      { start: 0n, last: 0xfedfffffn },
      { start: 0xfef00000n, last: 0x7fffffffffn },
    ]);
    expect(r.gaps.map((g) => g.reasons[0]!.kind)).toEqual(["reserved", "aperture"]);
  });

  it("virtio-iommu: [0, 0xfedfffff] and [0xfef00000, 2^64-1]", () => {
    const host = load("6.12.107-oracle/iommufd-viommu-sysfs.txt");
    expect(usableRanges(host, { groups: [1, 2, 3] }).ranges).toEqual([
      { start: 0n, last: 0xfedfffffn },
      { start: 0xfef00000n, last: U64_MAX },
    ]);
  });

  it("reads the VT-d unit of the 6.12 guest", () => {
    const host = load("6.12.107-oracle/iommufd-sysfs.txt");
    expect(host.iommus).toHaveLength(1);
    const u = host.iommus[0]!;
    expect(u).toMatchObject({
      name: "dmar0",
      kind: "intel-vtd",
      addressWidth: 39,
      aperture: { start: 0n, last: 0x7fffffffffn },
      pgsizeBitmap: 0x40201000n,
      msiIsolation: true,
      dirtyTracking: false,
      enforceCacheCoherency: false,
      vtd: { capReg: 0xd2008c22260206n, ecapReg: 0xf00f4an },
    });
    expect(host.params).toMatchObject({
      kernelRelease: "6.12.107-oracle",
      iommufd: { allowUnsafeInterrupts: false },
      vfioDeviceCdev: true,
      type1: { dmaEntryLimit: 65535, allowUnsafeInterrupts: false, disableHugepages: false },
    });
    expect(host.devices.filter((d) => d.cdev).map((d) => [d.bdf, d.cdev])).toEqual([
      ["0000:00:04.0", "/dev/vfio/devices/vfio0"],
      ["0000:00:05.0", "/dev/vfio/devices/vfio1"],
      ["0000:00:06.0", "/dev/vfio/devices/vfio2"],
    ]);
    const g4 = host.groups.find((g) => g.id === 4)!;
    expect(g4.reservedRegions.map((r) => [r.type, r.msiAmbiguous ?? false])).toEqual([
      ["direct-relaxable", false],
      ["msi", true],
    ]);
  });

  it("6.1 has no iommufd and no cdevs", () => {
    const host = load("6.1.0-56-amd64/type1-v2-sysfs.txt");
    expect(host.params.iommufd).toBeNull();
    expect(host.params.vfioDeviceCdev).toBe(false);
    expect(host.devices.some((d) => d.cdev)).toBe(false);
  });

  it("virtio-iommu unit: full aperture, all page sizes, no IR, geometry at first attach", () => {
    const host = load("6.12.107-oracle/iommufd-viommu-sysfs.txt");
    expect(host.iommus[0]).toMatchObject({
      name: "0000:00:03.0",
      kind: "virtio-iommu",
      aperture: { start: 0n, last: U64_MAX },
      pgsizeBitmap: 0xfffffffffffff000n,
      msiIsolation: false,
      apertureAtFirstAttach: true,
    });
    expect(host.params.type1.allowUnsafeInterrupts).toBe(true);
    expect(host.params.iommufd).toEqual({ allowUnsafeInterrupts: true });
    expect(host.groups.map((g) => g.id)).toEqual([0, 1, 2, 3]);
  });

  it("the qemu-q35-vtd preset is the reference guest (6.12 and 6.1)", () => {
    const strip = (h: Host) => ({
      params: h.params,
      iommus: h.iommus,
      devices: h.devices.map(({ reservedRegions: _r, ...d }) => d),
      groups: h.groups.map((g) => ({
        ...g,
        reservedRegions: g.reservedRegions.map((r) => [r.start, r.last, r.type]),
      })),
    });
    expect(strip(qemuQ35VtdHost({ kernelRelease: "6.12.107-oracle" }))).toEqual(
      strip(load("6.12.107-oracle/iommufd-sysfs.txt")),
    );
    expect(strip(qemuQ35VtdHost({ kernelRelease: "6.1.0-56-amd64" }))).toEqual(
      strip(load("6.1.0-56-amd64/type1-v2-sysfs.txt")),
    );
  });
});

describe("bad dumps", () => {
  const good = cases.find((c) => c.name === "6.12.107-oracle-sysfs.txt")!.text;
  const lines = good.split("\n");

  it("names file and line of a garbage line", () => {
    const text = [...lines.slice(0, 5), "  wibble wobble", ...lines.slice(5)].join("\n");
    const e = thrown(() => hostFromSysfsDump(text, undefined, "x.txt"));
    expect(e.file).toBe("x.txt");
    expect(e.line).toBe(6);
    expect(e.message).toMatch(/^x\.txt:6: unrecognised line in group 0/);
  });

  it("names the line of a malformed reserved region", () => {
    const text = good.replace("0x00000000fee00000 0x00000000feefffff msi", "0x00000000fee00000 0xzz msi");
    const e = thrown(() => hostFromSysfsDump(text, undefined, "x.txt"));
    expect(e.line).toBe(6);
    expect(e.reason).toMatch(/bad reserved region/);
  });

  it("refuses a region that ends before it starts", () => {
    const text = good.replace(
      "0x00000000fee00000 0x00000000feefffff",
      "0x00000000fee00000 0x0000000000000001",
    );
    expect(thrown(() => hostFromSysfsDump(text)).reason).toMatch(/starts after its end/);
  });

  it("detects a dump truncated inside a group", () => {
    const text = lines.slice(0, 4).join("\n") + "\n";
    const e = thrown(() => hostFromSysfsDump(text, undefined, "cut.txt"));
    expect(e.reason).toMatch(/group 0 has no "reserved_regions:" block \(truncated dump\?\)/);
    expect(e.line).toBe(3);
  });

  it("detects a dump truncated mid-line", () => {
    const cut = good.slice(0, good.indexOf("0x00000000feefffff") + 6);
    expect(thrown(() => hostFromSysfsDump(cut)).reason).toMatch(/bad reserved region/);
  });

  it("needs a kernel release", () => {
    expect(thrown(() => hostFromSysfsDump(lines.slice(1).join("\n"))).reason).toMatch(/no "kernel:" line/);
  });

  it("refuses a VT-d unit without cap", () => {
    expect(thrown(() => hostFromSysfsDump(good.replace(/ {2}cap: .*\n/, ""))).reason).toMatch(
      /lacks its cap/,
    );
  });

  it("refuses a run.json that contradicts the registers", () => {
    expect(thrown(() => hostFromSysfsDump(good, { aw_bits: 48 })).reason).toMatch(/aw_bits 48 disagrees/);
    expect(thrown(() => hostFromSysfsDump(good, { intremap: false })).reason).toMatch(/intremap false/);
  });

  it("refuses an IOMMU it cannot classify", () => {
    const text = good.replace("iommu dmar0", "iommu mystery0").replace(/ {2}(cap|ecap): .*\n/g, "");
    expect(thrown(() => hostFromSysfsDump(text)).reason).toMatch(/cannot tell what kind of IOMMU mystery0/);
  });

  it("refuses a bad module parameter", () => {
    const text = good.replace("dma_entry_limit = 65535", "dma_entry_limit = lots");
    const e = thrown(() => hostFromSysfsDump(text, undefined, "p.txt"));
    expect(e.message).toMatch(/^p\.txt:\d+: expected a decimal number/);
  });
});
