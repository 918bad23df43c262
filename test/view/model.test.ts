import { describe, expect, it } from "vitest";
import {
  PRESETS,
  amdHost,
  noIommuHost,
  qemuQ35VtdHost,
  smmuHost,
  virtioIommuHost,
} from "../../src/core/topology/presets.js";
import { buildTimeline, buildView } from "../../src/view/model.js";
import type { ViewLane, ViewModel } from "../../src/view/types.js";

function laneOf(v: ViewModel, id: string): ViewLane {
  const lane = v.lanes.find((l) => l.id === id);
  if (!lane) throw new Error(`no lane ${id} in ${v.lanes.map((l) => l.id).join(", ")}`);
  return lane;
}

const spans = (lane: ViewLane, type?: string) =>
  lane.items.filter((i) => type === undefined || i.type === type).map((i) => [i.start, i.last]);

describe("buildView on the qemu-q35-vtd preset (aw 39)", () => {
  const view = buildView({ host: qemuQ35VtdHost() });

  it("selects the vfio-pci groups by default and draws their lanes in order", () => {
    expect(view.selection.groups).toEqual([1, 2, 3]);
    expect(view.selection.devices).toEqual(["0000:00:04.0", "0000:00:05.0", "0000:00:06.0"]);
    expect(view.lanes.map((l) => l.id)).toEqual(["iommu:dmar0", "group:1", "group:2", "group:3", "usable"]);
  });

  it("shows the 39-bit aperture and each group's x86 MSI window", () => {
    expect(spans(laneOf(view, "iommu:dmar0"))).toEqual([["0x0", "0x7fffffffff"]]);
    for (const g of [1, 2, 3]) {
      const lane = laneOf(view, `group:${g}`);
      expect(lane.items.map((i) => [i.type, i.start, i.last, i.sizeHuman])).toEqual([
        ["msi", "0xfee00000", "0xfeefffff", "1 MiB"],
      ]);
    }
  });

  it("has type1's usable ranges with the gaps explained", () => {
    const usable = laneOf(view, "usable");
    expect(spans(usable, "usable")).toEqual([
      ["0x0", "0xfedfffff"],
      ["0xfef00000", "0x7fffffffff"],
    ]);
    const gaps = usable.items.filter((i) => i.type === "gap");
    expect(gaps.map((g) => [g.start, g.last])).toEqual([
      ["0xfee00000", "0xfeefffff"],
      ["0x8000000000", "0xffffffffffffffff"],
    ]);
    expect(gaps[0]!.detail).toHaveLength(3);
    expect(gaps[0]!.detail[0]).toMatch(/^group 1 \(0000:00:04\.0\): msi \[0xfee00000, 0xfeefffff\]/);
    expect(gaps[1]!.detail).toEqual(["outside dmar0 aperture [0x0, 0x7fffffffff]"]);
  });

  it("lists every item edge as a boundary, 0 and 2^64 included", () => {
    expect(view.boundaries).toEqual([
      "0x0",
      "0xfee00000",
      "0xfef00000",
      "0x8000000000",
      "0x10000000000000000",
    ]);
    expect(view.scale.breaks).toEqual(view.boundaries);
  });

  it("is plain JSON", () => {
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
  });
});

describe("buildView selections and per-device lanes", () => {
  it("adds a device lane when a device's own list differs from its group's (floppy on the ISA bridge)", () => {
    const v = buildView({ host: qemuQ35VtdHost(), selection: { groups: [4] } });
    expect(v.lanes.map((l) => l.id)).toEqual([
      "iommu:dmar0",
      "group:4",
      "device:0000:00:1f.2",
      "device:0000:00:1f.3",
      "usable",
    ]);
    expect(laneOf(v, "group:4").items.map((i) => i.type)).toEqual(["direct-relaxable", "msi"]);
    expect(laneOf(v, "device:0000:00:1f.2").items.map((i) => i.type)).toEqual(["msi"]);
    // type1 skips direct-relaxable: [0, 16 MiB) stays usable.
    expect(spans(laneOf(v, "usable"), "usable")[0]).toEqual(["0x0", "0xfedfffff"]);
    expect(v.notes).toContain("group 4: direct-relaxable [0x0, 0xffffff] ignored by type1");
  });

  it("selects by device", () => {
    const v = buildView({ host: qemuQ35VtdHost(), selection: { devices: ["0000:00:05.0"] } });
    expect(v.selection.groups).toEqual([2]);
  });

  it("types AMD's HyperTransport hole as reserved and SMMUv3's window as sw-msi", () => {
    const amd = buildView({ host: amdHost() });
    expect(laneOf(amd, "group:1").items.map((i) => [i.type, i.start])).toContainEqual([
      "reserved",
      "0xfd00000000",
    ]);
    const smmu = buildView({ host: smmuHost() });
    expect(laneOf(smmu, "group:1").items.map((i) => [i.type, i.start, i.last])).toEqual([
      ["sw-msi", "0x8000000", "0x80fffff"],
    ]);
  });

  it("marks sysfs msi regions that could be hw or sw as ambiguous", () => {
    const host = qemuQ35VtdHost();
    const groups = host.groups.map((g) => ({
      ...g,
      reservedRegions: g.reservedRegions.map((r) => ({ ...r, msiAmbiguous: true })),
    }));
    const v = buildView({ host: { ...host, groups } });
    expect(laneOf(v, "group:1").items[0]!.type).toBe("msi-ambiguous");
  });

  it("handles the top of the u64 space (virtio-iommu's 64-bit aperture)", () => {
    const v = buildView({ host: virtioIommuHost() });
    const ap = laneOf(v, "iommu:0000:00:03.0").items[0]!;
    expect([ap.start, ap.last, ap.size, ap.sizeHuman]).toEqual([
      "0x0",
      "0xffffffffffffffff",
      "0x10000000000000000",
      "16 EiB",
    ]);
    expect(spans(laneOf(v, "usable"), "usable").at(-1)).toEqual(["0xfef00000", "0xffffffffffffffff"]);
  });

  it("builds a view of a host without IOMMU groups", () => {
    const v = buildView({ host: noIommuHost() });
    expect(v.lanes).toEqual([]);
    expect(v.notes[0]).toMatch(/no IOMMU groups/);
    expect(v.boundaries).toEqual(["0x0", "0x10000000000000000"]);
  });

  it("builds every preset", () => {
    for (const [name, p] of Object.entries(PRESETS)) {
      expect(buildView({ host: p.build() }).host.name, name).toBe(p.build().name);
    }
  });
});

describe("mappings, domains and range lanes", () => {
  const host = qemuQ35VtdHost();

  it("draws mappings with page sizes, packs overlaps into rows and flags unusable ones", () => {
    const v = buildView({
      host,
      mappings: [
        { iova: 0x40000000n, length: 0x40200000n, label: "ram", perms: "rw" },
        { iova: 0x40000000n, length: 0x1000n, label: "alias", perms: "r" },
        { iova: 0xfee00000n, length: 0x1000n, label: "doorbell", perms: "w" },
        { iova: 0xffffffffff000n, length: 0x1000n },
      ],
    });
    const lane = laneOf(v, "mappings");
    expect(lane.rows).toBe(2);
    expect(lane.items.map((i) => [i.label, i.type, i.row])).toEqual([
      ["ram", "mapping-rw", 0],
      ["alias", "mapping-r", 1],
      ["doorbell", "mapping-w", 0],
      ["mapping", "mapping-rw", 0],
    ]);
    expect(lane.items[0]!.detail).toContain("IOMMU pages at best: 1 GiB × 1, 2 MiB × 1");
    expect(lane.items[0]!.warning).toBeUndefined();
    expect(lane.items[2]!.warning).toMatch(/EINVAL/);
    expect(lane.items[3]!.warning).toMatch(/EINVAL/);
    expect(v.boundaries).toContain("0x80200000");
  });

  it("rejects empty and wrapping mappings", () => {
    expect(() => buildView({ host, mappings: [{ iova: 0n, length: 0n }] })).toThrow(RangeError);
    expect(() => buildView({ host, mappings: [{ iova: 0xfffffffffffff000n, length: 0x2000n }] })).toThrow(
      /wraps/,
    );
  });

  it("notes misaligned mappings instead of failing", () => {
    const v = buildView({ host, mappings: [{ iova: 0x1800n, length: 0x800n }] });
    expect(laneOf(v, "mappings").items[0]!.detail[1]).toMatch(
      /not aligned to the smallest IOMMU page \(4K\)/,
    );
  });

  it("draws domains and named range lists", () => {
    const v = buildView({
      host,
      domains: [
        { id: 3, unit: "dmar0", aperture: { start: 0n, last: 0x7fffffffffn }, pgsizeBitmap: 0x40201000n },
      ],
      ranges: [{ label: "IOAS allowed", ranges: [{ start: 0x100000n, last: 0x1fffffn, label: "window" }] }],
    });
    expect(laneOf(v, "domain:3").items[0]!.detail).toEqual(["unit dmar0", "page sizes: 4K 2M 1G"]);
    expect(laneOf(v, "ranges:0").items.map((i) => [i.label, i.start, i.last])).toEqual([
      ["window", "0x100000", "0x1fffff"],
    ]);
  });
});

describe("buildTimeline", () => {
  it("is an array of views sharing the scale of every step's boundaries", () => {
    const host = qemuQ35VtdHost();
    const t = buildTimeline([
      { host, label: "empty", mappings: [] },
      { host, label: "one", mappings: [{ iova: 0x200000n, length: 0x200000n }] },
    ]);
    expect(t.kind).toBe("timeline");
    expect(t.steps.map((s) => s.label)).toEqual(["empty", "one"]);
    expect(t.steps[0]!.view.scale).toEqual(t.steps[1]!.view.scale);
    expect(t.steps[0]!.view.scale.breaks).toContain("0x400000");
    expect(t.steps[0]!.view.boundaries).not.toContain("0x400000");
    expect(laneOf(t.steps[1]!.view, "mappings").items).toHaveLength(1);
    expect(buildTimeline([]).steps).toEqual([]);
  });
});
